"""The contracts between the engine, tasks and frameworks.

A *task* (classification, forecasting ...) owns the data contract, the default split and
the metrics.  A *framework* (scikit-learn, Darts ...) builds, fits, predicts, saves and
loads models.  The engine only talks to these interfaces, so a third-party plugin can add
either by registering an object that follows them.

Nothing here imports pandas or a framework at module import time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass
class TaskData:
    """A task's view of a dataset: features, target and the columns splits need.

    ``X`` is whatever the task's frameworks consume (a DataFrame for tabular tasks).
    ``y`` is the target (``None`` when the task or the file has none). ``groups`` and
    ``order`` feed grouped and time-ordered splits.  ``info`` carries task facts such as
    the class labels.
    """

    X: Any
    y: Any = None
    groups: Any = None
    order: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.X)

    def take(self, index: np.ndarray) -> TaskData:
        """Rows ``index`` (positions) of every part, as a new :class:`TaskData`."""

        def pick(part: Any) -> Any:
            if part is None:
                return None
            return part.iloc[index] if hasattr(part, "iloc") else part[index]

        return TaskData(
            X=pick(self.X), y=pick(self.y), groups=pick(self.groups), order=pick(self.order),
            info=self.info,
        )


@dataclass
class Prediction:
    """What a framework returns from ``predict``.

    ``y`` holds one prediction per row (label, value or cluster).  ``proba`` is an
    ``(n_rows, n_classes)`` array of class probabilities when the model gives them, with
    ``classes`` naming its columns.
    """

    y: Any
    proba: Any = None
    classes: list[Any] | None = None


@dataclass
class Metric:
    """A named metric for one or more tasks.

    ``fn(y_true, prediction, X)`` returns a float.  ``needs`` is ``"label"`` for metrics
    on ``prediction.y``, ``"proba"`` for metrics that need probabilities (skipped when
    the model has none), ``"target"`` when a ground truth is required at all.
    """

    name: str
    fn: Callable[[Any, Prediction, Any], float]
    tasks: tuple[str, ...]
    greater_is_better: bool = True
    needs_proba: bool = False
    needs_target: bool = True
    description: str = ""


@dataclass
class RunContext:
    """What lifecycle hooks receive about the run in progress.

    ``fold`` is the index of the cross-validation fold being fitted or evaluated, or
    ``None`` for the final model.  ``state`` is free space for observers.
    """

    config: dict[str, Any]
    run_id: str
    run_dir: Path
    task: Task
    framework: Framework
    fold: int | None = None
    state: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Task(Protocol):
    """A machine-learning task: its data contract, default split and default metrics.

    Optional members, used when present (``getattr``), so older tasks keep working:

    * ``data_keys`` / ``split_keys``: extra keys the task accepts in the ``data`` and
      ``split`` config sections (forecasting: ``series_id``, ``horizon`` ...), checked with
      a did-you-mean by :func:`kampai.core.config.check_task_keys`;
    * ``predicts_ahead``: ``predict`` takes a ``horizon`` (``runner predict --horizon``) and
      data is optional; the framework finds ``info["mode"] == "ahead"`` and
      ``info["horizon"]`` on the :class:`TaskData` it gets (``X`` is None without data);
    * ``write_artifacts(run_dir, data, predictions) -> list[Path]``: task files written into
      every run folder (forecasting: ``forecast.png``);
    * ``evaluation_split(data, split_cfg) -> TaskData``: the part of new labelled data that
      ``runner evaluate`` scores (forecasting: its last ``horizon`` steps, from the rest).

    A split method registered for the task may return ``(train, test)`` pairs of
    :class:`TaskData` instead of row positions (a forecasting test side holds the history
    in ``X`` and the horizon's truth in ``y``); ``default_split["refit"]`` says whether
    the saved model is refit on all rows after evaluation.
    """

    name: str
    description: str
    #: whether the data must hold a target column to train
    needs_target: bool
    #: the ``split`` section used when the config gives none
    default_split: ClassVar[dict[str, Any]]
    #: metric names computed when the config lists none; the first is the primary one
    default_metrics: ClassVar[Sequence[str]]

    def prepare(self, frame: pd.DataFrame, data_cfg: dict[str, Any], *, training: bool) -> TaskData:
        """Check ``frame`` against the contract and return the task's view of it.

        ``training`` is False for ``predict``: the target may then be missing.
        Raise :class:`kampai.core.errors.DataError` with a clear message on bad data.
        """
        ...

    def format_predictions(self, data: TaskData, prediction: Prediction) -> pd.DataFrame:
        """Turn a prediction into the table ``runner predict`` writes."""
        ...


@runtime_checkable
class Framework(Protocol):
    """A framework adapter: builds, fits, predicts, saves and loads models."""

    name: str
    description: str
    #: the tasks this framework can train
    tasks: tuple[str, ...]
    #: keys the ``model`` config section may hold besides estimator/params/search
    model_keys: tuple[str, ...]
    #: the pip extra that installs the framework (``pip install kampai[extra]``)
    extra: str | None

    def default_estimator(self, task: Task) -> str:
        """The estimator used when the config names none."""
        ...

    def build(self, task: Task, model_cfg: dict[str, Any], data: TaskData, seed: int) -> Any:
        """Return an unfitted model from the ``model`` section; validate its params.

        ``data`` is the training data (to size inputs or pick columns); ``seed`` seeds the
        model unless its params set their own.

        A framework that trains on a device may add a ``device`` keyword (``auto``, ``cpu``,
        ``cuda``, ``cuda:N``): the engine then passes the config's ``device`` (``--device``).

        Raise :class:`kampai.core.errors.ConfigError` (with a did-you-mean) for unknown
        params.
        """
        ...

    def fit(self, model: Any, data: TaskData, task: Task) -> Any:
        """Fit ``model`` on ``data`` and return the fitted model."""
        ...

    def predict(self, model: Any, data: TaskData, task: Task) -> Prediction:
        """Predict for ``data`` with a fitted model."""
        ...

    def save(self, model: Any, path: Path) -> None:
        """Write the fitted model into the (empty, existing) folder ``path``."""
        ...

    def load(self, path: Path) -> Any:
        """Load a model written by :meth:`save`; raise RunError if it is corrupt."""
        ...


class TunableFramework(Protocol):
    """Optional methods a :class:`Framework` may add for tuning (``runner tune``).

    None is required: every framework is tunable as it is, because a trial only builds,
    fits and predicts through the methods above and scores with the task's metrics.  These
    make tuning friendlier or cheaper; the tuner uses each one only when it exists
    (``hasattr``), so adding one never breaks an older kampai.
    """

    def default_search_space(self, estimator: str, task: Task) -> dict[str, Any]:
        """The ``model.search`` to use for ``estimator`` when the config gives none.

        Same format as the config (``{"max_depth": {"type": "int", "low": 2, "high": 12}}``,
        see :mod:`kampai.core.tuning.space`); ``{}`` when there is no default for it.
        ``runner config show`` prints it.
        """
        ...

    def split_preprocessing(self, model: Any) -> tuple[Any, Any]:
        """``(preprocessing, estimator)`` of a built model, or ``(None, model)``.

        ``preprocessing`` has ``fit_transform(X, y)`` and ``transform(X)``; ``estimator``
        is a model :meth:`Framework.fit`/:meth:`Framework.predict` accept on the
        transformed data.  With it, the tuner caches the fitted preprocessing of each fold
        (keyed by data fingerprint, fold and preprocessing params) and fits only the
        estimator in trials that change the estimator's params.
        """
        ...

    def fit_incremental(self, model: Any, data: TaskData, task: Task,
                        report: Callable[[int, Any], None]) -> Any:
        """Fit like :meth:`Framework.fit`, calling ``report(step, model)`` along the way.

        ``step`` counts increments from 0 (an epoch, a fifth of the trees) and must mean
        the same thing in every trial; ``model`` must be able to predict at that point.
        ``report`` scores it on the validation fold for the pruner and may raise to stop
        the fit (a pruned trial): let that exception propagate.  A model that cannot grow
        step by step is simply fitted, without calling ``report``.  Used only when a
        pruner is configured (``tune.pruner``).
        """
        ...
