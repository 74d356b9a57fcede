"""The Python API: the same code path as the CLI, for scripts and notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core import engine
from kampai.core.engine import load_run
from kampai.core.trained_run import Run

if TYPE_CHECKING:
    import pandas as pd

    from kampai.core.tuning.study import TuneResult

__all__ = ["config", "load_run", "train", "tune"]


def config(config: str | Path | None = None, *, task: str | None = None,
           framework: str | None = None, data: str | Path | None = None,
           target: str | None = None, model: str | type | Any = None,
           params: dict[str, Any] | None = None, overrides: list[str] | None = None,
           **sections: Any) -> dict[str, Any]:
    """The resolved experiment config, layered exactly like the CLI's.

    ``model`` is an estimator name (``"RandomForestClassifier"``, an import path), a class
    (``model=MyEstimator``) or an unfitted instance (``model=RandomForestClassifier(max_depth=3)``:
    its class, and the params it sets, which ``params`` overrides).  ``sections`` are whole
    config sections (``split={"method": "kfold"}``, ``output={"runs_dir": "runs"}``,
    ``metrics=[...]``, ``seed=1``)::

        cfg = kampai.config("conf/experiments/iris.yaml", overrides=["model.params.max_depth=3"])
    """
    estimator, instance_params = _estimator(model)
    flags: dict[str, Any] = {"task": task, "framework": framework, "data.target": target,
                             "model.estimator": estimator}
    if data is not None and not _is_frame(data):
        flags["data.path"] = str(data)
    if instance_params or params:
        flags["model.params"] = {**instance_params, **(params or {})}
    for key, value in sections.items():
        flags[key] = value
    from kampai.core.hosted import load_config

    return load_config(config, flags, overrides)


#: what a config value may hold (a model param given through an instance must be one)
_PLAIN = (str, int, float, bool, type(None))


def _estimator(model: Any) -> tuple[str | None, dict[str, Any]]:
    """``model=`` as ``(estimator name or import path, params an instance sets)``."""
    from kampai.core.errors import ConfigError

    if model is None or isinstance(model, str):
        return model, {}
    cls = model if isinstance(model, type) else type(model)
    path = _name_of(cls)
    if "<locals>" in cls.__qualname__:
        raise ConfigError(f"model={cls.__name__} is defined inside a function: define it at the top "
                          "level of a module so it can be imported again (and saved).")
    if isinstance(model, type):
        return path, {}
    if not hasattr(model, "get_params"):
        raise ConfigError(f"model= takes an estimator name, a class or an unfitted estimator instance; "
                          f"got a {cls.__name__} without get_params().")
    import inspect

    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()}
    params = {}
    for name, value in model.get_params(deep=False).items():
        if name in defaults and defaults[name] is not inspect.Parameter.empty and _same(value, defaults[name]):
            continue  # left at its default: the config stays small
        listed = isinstance(value, (list, tuple)) and all(isinstance(v, _PLAIN) for v in value)
        mapped = isinstance(value, dict) and all(isinstance(v, _PLAIN) for v in (*value, *value.values()))
        if not isinstance(value, _PLAIN) and not listed and not mapped:
            raise ConfigError(f"model={cls.__name__}(...) sets {name}={value!r}, which a config cannot hold: "
                              f"pass model={cls.__name__} with params={{...}} of plain values, or a "
                              "model.preprocess / import path for nested objects.")
        params[name] = list(value) if isinstance(value, tuple) else value
    return path, params


def _name_of(cls: type) -> str:
    """The registry's short name when it means this very class, else the import path."""
    from kampai.core.host import get_host

    registry = get_host().estimators()
    try:
        if registry.resolve(cls.__name__) is cls:
            return cls.__name__
    except Exception:  # unknown short name: the import path it is
        pass
    return f"{cls.__module__}.{cls.__qualname__}"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return False


def _is_frame(data: Any) -> bool:
    return hasattr(data, "columns") and hasattr(data, "iloc")


def train(config: str | Path | None = None, *, data: str | Path | pd.DataFrame | None = None,
          verbose: bool = True, quiet: bool = False, **kwargs: Any) -> Run:
    """Train one run; ``data`` may be a path, a bundled dataset name or a DataFrame.

    Takes the arguments of :func:`config`; returns a :class:`kampai.core.runs.Run` with
    ``.metrics``, ``.model``, ``.predict(df)`` and ``.run_dir`` (HTML in Jupyter); ``quiet``
    (or ``verbose=False``) prints nothing::

        run = kampai.train(task="classification", data="sklearn:iris", model="RandomForestClassifier")
        run.metrics, run.predict(df), run.evaluate("holdout.csv")
    """
    cfg = globals()["config"](config, data=data, **kwargs)
    frame = data if _is_frame(data) else None
    return engine.train(cfg, frame, verbose=verbose and not quiet)


def tune(config: str | Path | None = None, *, data: str | Path | pd.DataFrame | None = None,
         search: dict[str, Any] | None = None, trials: int | None = None, timeout: float | None = None,
         metric: str | None = None, direction: str | None = None, sampler: str | None = None,
         pruner: str | None = None, jobs: int | None = None, study: str | None = None,
         storage: str | None = None, refit: bool | None = None, verbose: bool = True, quiet: bool = False,
         **kwargs: Any) -> TuneResult:
    """Tune hyperparameters, as ``runner tune`` does (same code path; docs/tuning.md).

    ``search`` replaces the config's ``model.search``; the keyword arguments named like
    ``runner tune``'s flags set the ``tune`` section; the rest are those of
    :func:`config`.  Returns a :class:`kampai.core.tuning.study.TuneResult` with
    ``best_params``, ``best_value``, ``trials`` (a DataFrame), ``study`` (the Optuna
    study) and ``run`` (the refit run, with ``refit=True``); in Jupyter a progress bar
    that updates in place, nothing with ``quiet``::

        result = kampai.tune("conf/experiments/iris.yaml", trials=20, refit=True)
        result.best_params, result.run
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
    return run_tune(cfg, frame, verbose=verbose and not quiet)
