"""The contracts between the engine, tasks and frameworks (public through :mod:`kampai.plugin`).

A *task* (classification, forecasting ...) owns the data contract, the default split and
the metrics.  A *framework* (scikit-learn, Darts ...) builds, fits, predicts, saves and
loads models.  Both are classes a plugin subclasses: required methods are abstract,
optional ones are switched on by naming a *capability*, never found by looking.  The
registries refuse an object that breaks the contract (:mod:`kampai.core.contract_checks`),
naming the plugin and what is wrong.

Nothing here imports pandas or a framework at module import time.  One module of a little
over 400 lines on purpose: the two base classes, the values they exchange (``TaskData``,
``Prediction``, ``BuildContext``) and the capability names are one contract a plugin author
reads top to bottom; the checks of it live apart (:mod:`kampai.core.contract_checks`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from kampai.core.devices import Device
from kampai.core.plain import to_python

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from kampai.core.distributed import Distributed


@dataclass
class TaskData:
    """A task's view of a dataset: features, target and the columns splits need.

    ``X`` is whatever the task's frameworks consume: a DataFrame for tabular and text
    tasks, a :class:`kampai.kinds.series.SeriesSet` for forecasting.  ``y`` is the
    target (``None`` when the task or the file has none).  ``groups`` and ``order`` feed
    grouped and time-ordered splits.  ``info`` carries task facts such as the feature
    names.  ``window`` is the task's typed description of what is asked beyond ``X``, set
    by its splits and its ``predict_input`` (forecasting's
    :class:`kampai.kinds.series.ForecastWindow`: how far ahead), ``None`` elsewhere.
    """

    X: Any
    y: Any = None
    groups: Any = None
    order: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    window: Any = None

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
            info=self.info, window=self.window,
        )


@dataclass
class Prediction:
    """What a framework returns from ``predict``.

    ``y`` holds one prediction per row (label, value or cluster).  ``proba`` is an
    ``(n_rows, n_classes)`` array of class probabilities when the model gives them, with
    ``classes`` naming its columns.  ``extra`` holds task-specific outputs (forecast
    quantiles, ranked items) that the task's ``format_predictions`` knows about.
    """

    y: Any
    proba: Any = None
    classes: list[Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Metric:
    """A named metric for one or more tasks.

    ``fn(y_true, prediction, X)`` returns a float.  ``needs_proba`` metrics are skipped
    when the model gives no probabilities; ``needs_target`` ones when there is no ground
    truth.
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
    ``None`` for the final model.  ``state`` is free space for observers (the engine
    keeps nothing of its own there, except the documented study facts of the tune hooks).
    ``quiet`` is True inside a tuning trial: the engine then calls no per-fit hooks (a
    trial reports once through ``kampai_after_trial``).  ``parent`` is the study's context
    when this train is a tuning refit (``--refit``): an observer links the two there.
    """

    config: dict[str, Any]
    run_id: str
    run_dir: Path
    task: Task
    framework: Framework
    fold: int | None = None
    state: dict[str, Any] = field(default_factory=dict)
    quiet: bool = False
    parent: RunContext | None = None


@dataclass
class BuildContext:
    """What :meth:`Framework.build` gets besides the model section.

    ``seed`` seeds the model unless its params set their own.  ``device`` is the
    config's ``device`` parsed once by the core (a :class:`~kampai.core.devices.Device`:
    ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, also usable as that text),
    meaningful to frameworks with the ``device`` capability; ``ctx.device.torch()`` is the
    torch device string.  ``resolve(name)`` turns an estimator name or import
    path into a class through the estimator registry (any plugin's models, the user's
    ``--include``d ones).  ``cache_dir`` is a folder the framework may keep derived
    files in (tokenizers, embeddings); ``run_dir`` the run being written (``None``
    inside a tuning trial).  ``config`` is the whole resolved config (read it, do not
    change it).  ``distributed`` is the torch.distributed process group this process
    trains in (``runner train --nproc-per-node N``: rank, world size, backend, and the
    ``shard``/``wrap``/``mean`` helpers of :class:`kampai.core.distributed.Distributed`), or
    ``None``; only frameworks with the ``distributed`` capability are run that way.
    """

    seed: int = 42
    device: Device = field(default_factory=lambda: Device("auto"))
    resolve: Callable[[str], Any] = field(default=lambda name: name, repr=False)
    cache_dir: Path | None = None
    run_dir: Path | None = None
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    distributed: Distributed | None = None

    def __post_init__(self) -> None:
        self.device = Device.parse(self.device)  # a plain "cpu" from a caller: the same one grammar


# --------------------------------------------------------------------------------------
# Capabilities: optional members a framework or task switches on by naming them.
# --------------------------------------------------------------------------------------

#: framework capability -> the method that must back it
FRAMEWORK_CAPABILITIES: dict[str, str | None] = {
    "device": None,                          # build() honours ctx.device (--device)
    "search_space": "default_search_space",  # default model.search per estimator
    "cached_preprocessing": "split_preprocessing",  # tuner caches fitted preprocessing
    "incremental": "fit_incremental",        # per-epoch/step scores for pruning
    "inspect": "inspect",                    # what each preprocessing step outputs (runner inspect)
    "labels_only": "predict_labels",         # predict without probabilities (tuning trials)
    "distributed": None,                     # fit() trains under DDP when ctx.distributed is set
    "columns": "predict_columns",            # predict from typed input columns, no DataFrame (serving)
}

#: what a task predicts (``Task.target_kind``): class labels, numbers per row, cluster ids,
#: values of time series ahead, ranked items
TARGET_KINDS = ("labels", "values", "clusters", "series", "items")

#: the standard plots of a run's ``predictions.csv`` a task may name (``Task.plots``), drawn
#: by plot plugins (insight's report, dvc's plots): a confusion matrix, one-vs-rest ROC curves,
#: predicted vs actual, residuals, rows per cluster, ranking metrics at every k
PLOTS = ("confusion", "roc", "predicted_vs_actual", "residuals", "cluster_sizes", "ranking_at_k")

#: task capability -> the method that must back it
TASK_CAPABILITIES: dict[str, str | None] = {
    "artifacts": "write_artifacts",         # task files in every run folder (plots)
    "evaluation_split": "evaluation_split",  # which part of new data `runner evaluate` scores
    "predict_options": "predict_input",     # runner predict takes the task's own options
    "rows": "format_columns",               # rows of the signature's inputs need no preparing (serving)
}


class Task(ABC):
    """A machine-learning task: its data contract, default split and default metrics.

    Subclass it, set the class attributes, implement :meth:`prepare` and
    :meth:`format_predictions`.  Optional parts are switched on through
    ``capabilities`` (see :data:`TASK_CAPABILITIES`):

    * ``"artifacts"``: :meth:`write_artifacts` writes task files into every run folder;
    * ``"evaluation_split"``: :meth:`evaluation_split` picks the part of new labelled data
      that ``runner evaluate`` scores;
    * ``"predict_options"``: :meth:`predict_input` turns ``runner predict``'s task options
      (settings declared under ``predict.``, e.g. recommendation's ``--k``, ``--users``,
      forecasting's ``--horizon``) into what the framework predicts for; data is then
      optional.  ``predict_keys`` names them (the core's message for an option given to a
      task that takes none says which task takes it);
    * ``"rows"``: new rows holding exactly the signature's input columns are the model's
      input as they are (:meth:`prepare` would change nothing), and :meth:`format_columns`
      gives the columns :meth:`format_predictions` would put in its table, without one (a
      server's row path, ``kampai.plugin.runs.row_predictor``).

    ``data_keys`` / ``split_keys`` are extra keys the task accepts in the ``data`` and
    ``split`` config sections (checked with a did-you-mean).  ``target_kind`` says what the
    task predicts (:data:`TARGET_KINDS`), so the core and plugins treat its outputs (class
    checks) without knowing tasks by name; ``plots`` / ``plot_files`` name the plots of its
    runs, drawn by plot plugins through one mechanism.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: whether the data must hold a target column to train
    needs_target: ClassVar[bool] = True
    #: the ``split`` section used when the config gives none (may set ``refit``)
    default_split: ClassVar[dict[str, Any]] = {"method": "random"}
    #: metric names computed when the config lists none; the first is the primary one
    default_metrics: ClassVar[Sequence[str]] = ()
    #: what one input is, for run signatures: table, texts, series, images, graph, interactions
    input_kind: ClassVar[str] = "table"
    #: what one prediction is (:data:`TARGET_KINDS`); None: none of those (no kind-specific
    #: checks or plots)
    target_kind: ClassVar[str | None] = None
    data_keys: ClassVar[tuple[str, ...]] = ()
    split_keys: ClassVar[tuple[str, ...]] = ()
    #: with capability ``predict_options``: the ``predict.*`` keys :meth:`predict_input` takes
    predict_keys: ClassVar[tuple[str, ...]] = ()
    #: the plots of its runs: standard ones drawn from ``predictions.csv`` (names of
    #: :data:`PLOTS`), and with capability ``artifacts`` the pictures :meth:`write_artifacts`
    #: draws itself into every run folder (``plot_files``: forecasting's ``forecast.png``)
    plots: ClassVar[tuple[str, ...]] = ()
    plot_files: ClassVar[tuple[str, ...]] = ()
    capabilities: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def prepare(self, frame: pd.DataFrame, data_cfg: dict[str, Any], *, training: bool) -> TaskData:
        """Check ``frame`` against the contract and return the task's view of it.

        ``training`` is False for ``predict``: the target may then be missing.  Raise
        :class:`kampai.plugin.DataError` with a clear message on bad data.
        """

    @abstractmethod
    def format_predictions(self, data: TaskData, prediction: Prediction) -> pd.DataFrame:
        """Turn a prediction into the table ``runner predict`` writes."""

    def format_columns(self, prediction: Prediction) -> dict[str, Any]:
        """Capability ``rows``: the output columns of :meth:`format_predictions` for rows
        without a target (name -> array, in order), without building a table."""
        raise NotImplementedError

    def signature(self, data: TaskData) -> dict[str, Any]:
        """What a server needs to know about the inputs, without the framework: the
        default describes a DataFrame ``X`` (columns and dtypes) and the classes of ``y``."""
        out: dict[str, Any] = {"input_kind": self.input_kind}
        if hasattr(data.X, "dtypes"):
            X = data.X
            nullable = X.isna().any().tolist()  # one pass over the table, not one per column
            out["inputs"] = [_column_signature(X, i, c, t, nullable[i])
                             for i, (c, t) in enumerate(X.dtypes.items())]
        if data.y is not None and self.target_kind == "labels" and hasattr(data.y, "unique"):
            out["classes"] = sorted(map(to_python, data.y.unique()), key=str)
        return out

    def example(self) -> tuple[pd.DataFrame, dict[str, Any]] | None:
        """A tiny real dataset of this task and its ``data`` section, for the conformance
        checks of :mod:`kampai.testing` (a few hundred rows at most); None when there is none."""
        return None

    def baseline(self, train: TaskData, test: TaskData, *,
                 seed: int) -> tuple[str, Prediction] | list[tuple[str, Prediction]] | None:
        """A trivial reference model fitted on ``train``: ``(a short description such as
        "majority class", its Prediction on test)``, or a list of them with the reference
        first; ``None`` (the default) when the task has none.

        The engine scores each with the run's own metrics (:func:`kampai.core.metrics.compute`),
        writes the reference's as ``baseline_<metric>`` beside the model's in metrics.json and
        warns when the model loses to it (:mod:`kampai.core.baselines`).  ``test.info``
        holds the model's own prediction for ``test`` under ``"prediction"`` (clustering's
        k-means takes the model's number of clusters from it) and the seconds the baselines
        may take under ``"baseline_seconds"`` (a tenth of the run so far): keep within it, e.g.
        by fitting on a sample of the training rows (the built-in linear baselines do).  A
        Prediction may cover a sample of the test rows only: its ``extra["rows"]`` then holds
        their positions in ``test``, and the engine scores it on those rows."""
        return None

    def write_artifacts(self, run_dir: Path, data: TaskData, predictions: pd.DataFrame) -> list[Path]:
        """Capability ``artifacts``: write task files (plots) into ``run_dir``; return them."""
        raise NotImplementedError

    def evaluation_split(self, data: TaskData, split_cfg: dict[str, Any]) -> TaskData:
        """Capability ``evaluation_split``: the part of new labelled data to score."""
        raise NotImplementedError

    def predict_input(self, data: TaskData | None, options: dict[str, Any], config: dict[str, Any]) -> TaskData:
        """Capability ``predict_options``: what to predict for, from the prepared new data
        (``None`` when none was given), the ``predict.*`` options (``{"k": 10}``; keys
        without the ``predict.`` prefix) and the run's config."""
        raise NotImplementedError


class Framework(ABC):
    """A framework adapter: builds, fits, predicts, saves and loads models.

    Subclass it, set the class attributes and implement the six abstract methods.
    Optional parts are switched on through ``capabilities`` (see
    :data:`FRAMEWORK_CAPABILITIES`):

    * ``"device"``: :meth:`build` honours ``ctx.device`` (``--device``);
    * ``"search_space"``: :meth:`default_search_space` gives ``runner tune`` a default space;
    * ``"cached_preprocessing"``: :meth:`split_preprocessing` lets the tuner cache the
      fitted preprocessing of each fold;
    * ``"incremental"``: :meth:`fit_incremental` reports scores along the fit (pruning);
    * ``"inspect"``: :meth:`inspect` shows what each preprocessing step outputs (``runner inspect``);
    * ``"labels_only"``: :meth:`predict_labels` predicts without probabilities (a tuning
      trial whose metric needs none);
    * ``"columns"``: :meth:`predict_columns` predicts from typed numpy columns (a server's
      one-row request without a DataFrame).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: the tasks this framework can train
    tasks: ClassVar[tuple[str, ...]] = ()
    #: keys the ``model`` config section may hold besides estimator/params/search
    model_keys: ClassVar[tuple[str, ...]] = ()
    #: the pip extra that installs the framework (``pip install 'kampai[extra]'``)
    extra: ClassVar[str | None] = None
    #: modules that must be importable for the framework to work (checked before use)
    requires: ClassVar[tuple[str, ...]] = ()
    #: distributions whose versions go into every run's meta and signature
    packages: ClassVar[tuple[str, ...]] = ()
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: with the ``device`` capability: whose view of the machine decides whether a device
    #: exists. ``"torch"``: the core refuses a device torch does not see at the config check
    #: (:meth:`kampai.core.devices.Device.check_available`); anything else: the framework
    #: checks ``ctx.device`` against its own library in :meth:`build`
    device_backend: ClassVar[str] = "torch"

    @abstractmethod
    def default_estimator(self, task: Task) -> str:
        """The estimator used when the config names none."""

    @abstractmethod
    def build(self, task: Task, model_cfg: dict[str, Any], data: TaskData, ctx: BuildContext) -> Any:
        """Return an unfitted model from the ``model`` section; validate its params.

        ``data`` is the training data (to size inputs or pick columns).  Raise
        :class:`kampai.plugin.ConfigError` (with a did-you-mean) for unknown params.
        """

    @abstractmethod
    def fit(self, model: Any, data: TaskData, task: Task) -> Any:
        """Fit ``model`` on ``data`` and return the fitted model."""

    @abstractmethod
    def predict(self, model: Any, data: TaskData, task: Task) -> Prediction:
        """Predict for ``data`` with a fitted model."""

    @abstractmethod
    def save(self, model: Any, path: Path) -> None:
        """Write the fitted model into the (empty, existing) folder ``path``."""

    @abstractmethod
    def load(self, path: Path) -> Any:
        """Load a model written by :meth:`save`; raise RunError if it is corrupt."""

    def describe(self, estimator: str, ctx: BuildContext) -> dict[str, Any]:
        """The parameters of ``estimator`` and their defaults (``runner estimators show``);
        ``{}`` when the framework cannot tell."""
        return {}

    def fit_progress(self, model: Any) -> str | None:
        """How far a running :meth:`fit` of ``model`` has come (``"iteration 7/20"``), for the
        progress line of a long fit (``output.progress_seconds``).  Called from another
        thread while the fit runs: only read the model, never change it.  ``None`` (the
        default) when the framework cannot tell: the line then shows the time so far."""
        return None

    # -- capabilities --------------------------------------------------------------------

    def default_search_space(self, estimator: str, task: Task) -> dict[str, Any]:
        """Capability ``search_space``: the ``model.search`` to use for ``estimator``
        when the config gives none (same format as the config; ``{}`` when none)."""
        raise NotImplementedError

    def split_preprocessing(self, model: Any) -> tuple[Any, Any]:
        """Capability ``cached_preprocessing``: ``(preprocessing, estimator)`` of a built
        model, or ``(None, model)``.  ``preprocessing`` has ``fit_transform(X, y)`` and
        ``transform(X)``; :meth:`fit`/:meth:`predict` accept ``estimator`` on its output."""
        raise NotImplementedError

    def fit_incremental(self, model: Any, data: TaskData, task: Task,
                        report: Callable[[int, Any], None]) -> Any:
        """Capability ``incremental``: fit like :meth:`fit`, calling ``report(step, model)``
        after each epoch or step (``step`` counts from 0 and means the same in every
        trial; ``model`` can predict at that point).  ``report`` may raise to stop the fit
        (a pruned trial): let it propagate."""
        raise NotImplementedError

    def predict_labels(self, model: Any, data: TaskData, task: Task) -> Prediction:
        """Capability ``labels_only``: like :meth:`predict` with ``proba`` left ``None``
        (the same ``y``); the tuner calls it when no metric of a trial needs probabilities,
        so a model whose probabilities cost extra work (a second pass over the trees,
        calibration) does not pay for them."""
        raise NotImplementedError

    def predict_columns(self, model: Any, columns: dict[str, Any], task: Task) -> Prediction | None:
        """Capability ``columns``: what :meth:`predict` returns for the rows whose input
        columns are ``columns`` (the signature's input names, in order -> numpy arrays of
        the training dtypes, checked), without a DataFrame; ``None`` when this loaded
        model needs one (the caller then builds it and calls :meth:`predict`)."""
        raise NotImplementedError

    def inspect(self, model: Any, data: TaskData) -> list[dict[str, Any]]:
        """Capability ``inspect``: run ``data`` through the fitted model's preprocessing and
        describe each step's output, in order: one JSON-able dict per step with at least
        ``name`` (a path such as ``preprocess/num/scale``), ``kind`` (the step's class),
        ``shape``, ``columns`` (output names), ``dtypes``, ``missing`` (per column) and
        ``head`` (a few rows as records); a branch of a column router also gives
        ``inputs`` (the input columns it received).  Return ``[]`` when the model has no
        preprocessing steps."""
        raise NotImplementedError


#: a text/bool column with at most this many distinct values lists them (its categories)
MAX_CATEGORIES = 50


def _column_signature(X: Any, i: int, name: Any, dtype: Any, nullable: bool) -> dict[str, Any]:
    """Input column ``i`` of ``X``: name, dtype, whether training saw missing values, and the
    values seen in training for a non-numeric column with few of them (a server's choices)."""
    out: dict[str, Any] = {"name": str(name), "dtype": str(dtype), "nullable": bool(nullable)}
    if dtype.kind in "biufcmM":
        return out
    column = X.iloc[:, i]
    values = column.dropna().unique()
    if 0 < len(values) <= MAX_CATEGORIES and len(values) < max(2, len(column) // 2):
        out["categories"] = sorted(map(to_python, values), key=str)
    return out
