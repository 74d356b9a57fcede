"""``kampai.study``: a tuning study of ``runner tune`` (its trials, best params, plots), and
training its best params (``runner train --from-study``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from kampai.api import Run

__all__ = ["Study", "study"]


@dataclass
class Study:
    """A study as a record: ``name``, ``metric``, ``direction``, ``best_value``,
    ``best_params``, ``best_number``, ``trials`` (a DataFrame, one row per trial, as in
    ``trials.csv``), ``plots`` (the PNG files of its folder) and the Optuna ``study``.
    Renders as HTML in Jupyter."""

    name: str
    storage: str
    metric: str | None
    direction: str
    best_value: float | None
    best_params: dict[str, Any]
    best_number: int | None
    trials: pd.DataFrame
    output_dir: Path
    plots: list[Path] = field(default_factory=list)
    study: Any = field(default=None, repr=False)

    def train(self, *, quiet: bool = False, runs_dir: str | None = None, overrides: list[str] | None = None,
              **config: Any) -> Run:
        """Train the best params as a normal run, as ``runner train --from-study NAME`` does
        (the study's recorded config; ``config`` as for :func:`kampai.config` replaces it)::

            run = kampai.study("iris-tree").train()
        """
        from kampai.api import config as make_config
        from kampai.core import engine
        from kampai.core.tuning.study import study_config

        base = make_config(overrides=overrides, **config) if config else None
        if base is not None and runs_dir:
            base["output"]["runs_dir"] = runs_dir
        cfg = study_config(self.name, self.storage_url, base=base, overrides=overrides, runs_dir=runs_dir)
        return engine.train(cfg, verbose=not quiet)

    @property
    def storage_url(self) -> str | None:
        return None if "***" in self.storage else self.storage

    def _repr_html_(self) -> str:
        from kampai.lab.html import study_html

        return study_html(self)


def study(name: str, *, storage: str | None = None, output_dir: str | Path = "studies") -> Study:
    """The tuning study ``name`` (``runner tune --study NAME``; default names are
    ``<task>-<estimator>``) from its Optuna storage (``storage``, default the project's
    ``.kampai/optuna.db``), with the plots ``runner tune`` wrote to ``output_dir/NAME``::

        import kampai
        s = kampai.study("classification-DecisionTreeClassifier")
        s.best_params, s.best_value
        s.trials.sort_values("value").tail()
    """
    from kampai.core.errors import TuneError, unknown
    from kampai.core.tuning import report
    from kampai.core.tuning.storage import mask, open_storage, resolve_url

    try:
        import optuna
    except ImportError:
        raise TuneError("kampai.study needs Optuna: pip install 'kampai[tune]'.") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = resolve_url(storage)
    store = open_storage(url)
    try:
        loaded = optuna.load_study(study_name=name, storage=store)
    except KeyError:
        raise unknown(f"study in '{mask(url)}'", name, optuna.get_all_study_names(storage=store)) from None
    try:
        best = loaded.best_trial
    except ValueError:
        best = None
    meta = loaded.user_attrs.get("kampai") if isinstance(loaded.user_attrs.get("kampai"), dict) else {}
    metric = meta.get("metric")
    folder = Path(output_dir) / name
    plots = sorted(folder.glob("*.png")) if folder.is_dir() else []
    return Study(name=name, storage=url if storage else mask(url), metric=metric,
                 direction=loaded.direction.name.lower(), best_value=best.value if best else None,
                 best_params=dict(best.params) if best else {}, best_number=best.number if best else None,
                 trials=report.trials_frame(loaded), output_dir=folder, plots=plots, study=loaded)
