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


class Ledger:
    """What a worker knows of the study's finished trials, updated incrementally.

    A finished trial (complete, pruned, failed) never changes again, so each is looked at
    once: every claim then costs the trials that are new or still open, not the whole
    study, and a study's ten-thousandth trial is claimed as fast as its first.
    """

    def __init__(self) -> None:
        self.done = 0  #: finished trials that use up one of the study's trials
        self.duplicates = 0
        self.finished: dict[str, Any] = {}  #: completed, fitted trials by point (the first of each)
        self.grid_held: set[Any] = set()  #: grid indices of finished trials that hold their point
        self.points_held: set[str] = set()  #: points of completed trials
        self._settled = 0  #: trials[:_settled] are finished and counted

    def update(self, trials: list[Any]) -> list[Any]:
        """Count the trials that finished since the last call; returns the open ones
        (running or waiting), looked at afresh each time."""
        from optuna.trial import TrialState

        if any(t.number != i for i, t in enumerate(trials[self._settled:], self._settled)) or \
                len(trials) < self._settled:
            self.__init__()  # numbers not in order (never seen with Optuna's storages): count again
        open_: list[Any] = []
        for t in trials[self._settled:]:
            if t.state in (TrialState.RUNNING, TrialState.WAITING):
                open_.append(t)
                continue
            if open_:  # finished after an open one: counted when everything before it is
                open_.append(t)
                continue
            self._settle(t)
            self._settled += 1
        return open_

    def _settle(self, t: Any) -> None:
        from optuna.trial import TrialState

        self.done += counts_as_done(t)
        dup = is_duplicate(t)
        self.duplicates += dup
        if counts_as_done(t):
            self.grid_held.add(t.user_attrs.get("grid_index"))
        if t.state == TrialState.COMPLETE:
            key = point_key(t.params)
            self.points_held.add(key)
            if not dup:
                self.finished.setdefault(key, t)
