"""The Python API: the same code path as the CLI, for scripts and notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core import config as config_mod
from kampai.core import engine
from kampai.core.engine import TrainedRun as Run
from kampai.core.engine import load_run

if TYPE_CHECKING:
    import pandas as pd

    from kampai.core.tuning.study import TuneResult

__all__ = ["config", "load_run", "train", "tune"]


def config(config: str | Path | None = None, *, task: str | None = None,
           framework: str | None = None, data: str | Path | None = None,
           target: str | None = None, model: str | None = None,
           params: dict[str, Any] | None = None, overrides: list[str] | None = None,
           **sections: Any) -> dict[str, Any]:
    """The resolved experiment config, layered exactly like the CLI's.

    ``sections`` are whole config sections (``split={"method": "kfold"}``,
    ``output={"runs_dir": "runs"}``, ``metrics=[...]``, ``seed=1``).
    """
    flags: dict[str, Any] = {"task": task, "framework": framework, "data.target": target,
                             "model.estimator": model}
    if data is not None and not _is_frame(data):
        flags["data.path"] = str(data)
    if params:
        flags["model.params"] = params
    for key, value in sections.items():
        flags[key] = value
    return config_mod.load(config, flags, overrides)


def _is_frame(data: Any) -> bool:
    return hasattr(data, "columns") and hasattr(data, "iloc")


def train(config: str | Path | None = None, *, data: str | Path | pd.DataFrame | None = None,
          verbose: bool = True, **kwargs: Any) -> Run:
    """Train one run; ``data`` may be a path, a bundled dataset name or a DataFrame.

    Takes the arguments of :func:`config`; returns a :class:`kampai.core.runs.Run` with
    ``.metrics``, ``.model``, ``.predict(df)`` and ``.run_dir``.
    """
    cfg = globals()["config"](config, data=data, **kwargs)
    frame = data if _is_frame(data) else None
    return engine.train(cfg, frame, verbose=verbose)


def tune(config: str | Path | None = None, *, data: str | Path | pd.DataFrame | None = None,
         search: dict[str, Any] | None = None, trials: int | None = None, timeout: float | None = None,
         metric: str | None = None, direction: str | None = None, sampler: str | None = None,
         pruner: str | None = None, jobs: int | None = None, study: str | None = None,
         storage: str | None = None, refit: bool | None = None, verbose: bool = True,
         **kwargs: Any) -> TuneResult:
    """Tune hyperparameters, as ``runner tune`` does (same code path; docs/tuning.md).

    ``search`` replaces the config's ``model.search``; the keyword arguments named like
    ``runner tune``'s flags set the ``tune`` section; the rest are those of
    :func:`config`.  Returns a :class:`kampai.core.tuning.study.TuneResult` with
    ``best_params``, ``best_value``, ``trials`` (a DataFrame), ``study`` (the Optuna
    study) and ``run`` (the refit run, with ``refit=True``).
    """
    from kampai.core.tuning.study import tune as run_tune

    flags = {"trials": trials, "timeout": timeout, "metric": metric, "direction": direction,
             "sampler": sampler, "pruner": pruner, "jobs": jobs, "study": study, "storage": storage,
             "refit": refit}
    kwargs.update({f"tune.{k}": v for k, v in flags.items() if v is not None})
    cfg = globals()["config"](config, data=data, **kwargs)
    if search is not None:
        cfg["model"]["search"] = dict(search)
    frame = data if _is_frame(data) else None
    return run_tune(cfg, frame, verbose=verbose)
