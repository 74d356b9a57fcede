"""``kampai.registry``: ``runner registry register|list|show|promote|best`` and loading a
model by ``NAME@stage`` (the mlflow plugin's functions, as the commands call them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core.schema import RUNS_DIR
from kampai.lab._plugins import plugin_module

if TYPE_CHECKING:
    import pandas as pd

    from kampai.api import Run

__all__ = ["Registry", "registry"]


def _actions() -> Any:
    return plugin_module("mlflow", "actions", "The model registry")


def _ref(run: Any) -> str | None:
    """A run object, a folder or a run id as the text the commands take."""
    if run is None:
        return None
    folder = getattr(run, "run_dir", None)
    return str(folder if folder is not None else run)


class Registry:
    """The model registry (MLflow: a local ``.kampai/mlflow.db`` unless ``tracking_uri`` or
    ``$MLFLOW_TRACKING_URI`` says otherwise)::

        import kampai
        run = kampai.train(task="classification", data="sklearn:iris", model="LogisticRegression")
        kampai.registry.register(run, "iris", stage="production")
        model = kampai.registry.load("iris@production")
        model.predict(df)
    """

    def register(self, run: Any = None, name: str | None = None, *, best: bool = False, metric: str | None = None,
                 study: str | None = None, stage: str | None = None, description: str | None = None,
                 runs_dir: str | Path = RUNS_DIR, tracking_uri: str | None = None) -> dict[str, Any]:
        """``runner registry register``: register ``run`` (a run, its folder or run id), the
        best run by ``metric`` (``best=True``) or a study's refit run (``study=``) as a new
        version of ``name``; ``stage`` also points that alias at it.  Returns ``{name,
        version, run, stage, source}``::

            kampai.registry.register(best=True, metric="accuracy", name="iris", stage="production")
        """
        from kampai.core.errors import ConfigError

        if not name:
            raise ConfigError("kampai.registry.register needs name= (the registered model's name).")
        return _actions().register_run(_ref(run), name, best=best, metric=metric, study=study, stage=stage,
                                       description=description, runs_dir=runs_dir, uri=tracking_uri)

    def promote(self, ref: str, stage: str, *, tracking_uri: str | None = None) -> dict[str, Any]:
        """``runner registry promote``: point alias ``stage`` at ``ref`` (NAME@VERSION or
        NAME@ALIAS)::

            kampai.registry.promote("iris@2", "production")
        """
        return _actions().promote(ref, stage, tracking_uri)

    def best(self, name: str, metric: str, *, promote: str | None = None,
             tracking_uri: str | None = None) -> dict[str, Any]:
        """``runner registry best``: the best version of ``name`` by ``metric`` (a dict with
        ``version``, ``metrics``, ``run_id``, ``aliases`` ...); ``promote`` also points that
        alias at it::

            kampai.registry.best("iris", "accuracy", promote="production")["version"]
        """
        top, _ = _actions().best(name, metric, stage=promote, uri=tracking_uri)
        return {**top, "metric": metric, "value": top["metrics"][metric], "promoted": promote}

    def load(self, ref: str) -> Run:
        """``NAME@stage`` or ``NAME@version`` (or a run folder) as a run ready to predict,
        verified as ``runner predict NAME@stage`` verifies it::

            model = kampai.registry.load("iris@production")
            model.predict(df)
        """
        from kampai.api import load_run

        return load_run(ref)

    def list(self, *, tracking_uri: str | None = None) -> pd.DataFrame:
        """``runner registry list``: registered models with their latest version and aliases::

            kampai.registry.list()
        """
        import pandas as pd

        models, _ = _actions().models(tracking_uri)
        return pd.DataFrame(models, columns=["name", "latest_version", "aliases", "description"])

    def show(self, name: str, *, tracking_uri: str | None = None) -> pd.DataFrame:
        """``runner registry show NAME``: every version with its aliases, run, estimator and metrics::

            kampai.registry.show("iris")
        """
        import pandas as pd

        return pd.DataFrame(_actions().versions(name, tracking_uri))

    def __repr__(self) -> str:
        return "<kampai.registry: register, promote, best, load, list, show>"


registry = Registry()
