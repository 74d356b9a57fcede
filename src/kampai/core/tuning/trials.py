"""What a stored trial counts as: done, a duplicate, holding a grid point (the rules the
claim, the progress bar and the final summary share)."""

from __future__ import annotations

import os
import socket
from typing import Any


def finished_points(trials: list[Any]) -> dict[str, Any]:
    """Completed, fitted trials by their params (the first of each point)."""
    from optuna.trial import TrialState

    out: dict[str, Any] = {}
    for t in trials:
        if t.state == TrialState.COMPLETE and not is_duplicate(t):
            out.setdefault(point_key(t.params), t)
    return out


def point_key(params: dict[str, Any]) -> str:
    """A hashable key of a param set (the same values, whatever their order)."""
    import json

    return json.dumps(params, sort_keys=True, default=str)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def counts_as_done(trial: Any) -> bool:
    """Whether a trial uses up one of the study's trials (a duplicate does not: see
    :meth:`Worker.run_trial`)."""
    from optuna.trial import TrialState

    if is_duplicate(trial):
        return False
    return (trial.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (trial.state == TrialState.FAIL and "error" in trial.user_attrs))


def is_duplicate(trial: Any) -> bool:
    """A trial whose params a finished trial had already: its value was reused, not fitted."""
    return trial.user_attrs.get("duplicate_of") is not None


def holds_grid_point(trial: Any) -> bool:
    from optuna.trial import TrialState

    return counts_as_done(trial) or trial.state in (TrialState.RUNNING, TrialState.WAITING)
