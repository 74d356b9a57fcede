"""The Python API: the same code path as the CLI, for scripts and notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core import config as config_mod
from kampai.core import engine
from kampai.core.runs import Run, load_run

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["config", "load_run", "train"]


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
