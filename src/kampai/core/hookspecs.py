"""Every hook a kampai plugin can implement, in one module.

Two kinds of hooks:

* **Registration hooks** (``kampai_register_*``) are called once per process, the first
  time the engine needs the registry they fill.  Each receives a registry object and
  calls ``registry.add(...)``.  They must not import heavy libraries: keep framework
  imports inside the objects they register, so ``runner plugins list`` stays fast.
* **Lifecycle hooks** (``kampai_before_*``, ``kampai_after_*``, ``kampai_on_*_error``) are
  called by the engine around each step of a run (train, fit, evaluate, predict,
  serialize).  Observers such as trackers and reports implement them.  All results are
  ignored; after an ``on_*_error`` hook the engine re-raises the error.

* **Resolution hooks** (``kampai_resolve_*``) turn a user's reference into something the
  core can open; they are ``firstresult``: the first non-None answer wins.
* **Maintenance hooks** (``kampai_sync_runs``) are called by maintenance commands.

Every hook is called with keyword arguments, and an implementation may accept any subset
of them (pluggy's rule).  Only the resolution hooks are ``firstresult``; for every other
hook all implementations run.  Every call goes through pluggy (wrappers, ``tryfirst``/
``trylast``, ``KAMPAI_TRACE_PLUGINS``); :mod:`kampai.core.hookcalls` says how each kind is
called and what it refuses.

One module, over 400 lines, on purpose: it has one job (the specs) and is the one place a
plugin author reads every hook in order; pluggy reads the specs from one namespace
(``add_hookspecs``), and ``scripts/hook_reference.py`` generates the hook reference of
docs/plugins.md from it.  Its length is the hooks' docstrings (that reference), not code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core.markers import hookspec

if TYPE_CHECKING:
    import pandas as pd

    from kampai.core.contract import Metric, Prediction, RunContext, TaskData
    from kampai.core.registry import (
        DatasetRegistry,
        EstimatorRegistry,
        FrameworkRegistry,
        MetricRegistry,
        SerializerRegistry,
        SplitterRegistry,
        TaskRegistry,
    )
    from kampai.core.runs import RunRecord
    from kampai.core.settings import SettingRegistry


# --------------------------------------------------------------------------------------
# Registration hooks: called once per process, the first time a registry is needed.
# --------------------------------------------------------------------------------------


@hookspec
def kampai_register_tasks(registry: TaskRegistry) -> None:
    """Register tasks (``registry.add(task)``), each a :class:`kampai.plugin.Task` instance
    (refused, with the plugin marked broken, when it breaks the contract).

    Called by the engine the first time a task is looked up or listed
    (``runner tasks list``).  A task owns its data contract, default split and
    default metrics.  Return value ignored.
    """


@hookspec
def kampai_register_frameworks(registry: FrameworkRegistry) -> None:
    """Register framework adapters (``registry.add(framework)``).

    Each adapter is a :class:`kampai.plugin.Framework` instance (refused, with the plugin
    marked broken, when a required method is missing, a declared capability is not backed by
    its method, or it names an unknown task): it builds, fits, predicts,
    saves and loads models and says which tasks it supports.  Called the first time a
    framework is looked up or listed.  The adapter must import its library lazily.
    Return value ignored.
    """


@hookspec
def kampai_register_estimators(registry: EstimatorRegistry) -> None:
    """Register estimators that configs may name (``model.estimator``).

    Add single classes or import paths with ``registry.add(name, "pkg.mod:Class",
    kind=...)`` or a lazy collection with ``registry.add_source(name, loader,
    description)``; the loader runs only when estimators are resolved or listed
    (``runner estimators list``).  Called by the engine the first time an estimator name
    is resolved or listed.  Return value ignored.
    """


@hookspec
def kampai_register_datasets(registry: DatasetRegistry) -> None:
    """Register bundled datasets by name (``registry.add("sklearn:iris", loader, ...)``).

    ``loader()`` returns a :class:`pandas.DataFrame`; ``data.path: sklearn:iris`` in a
    config resolves through this registry.  Called the first time a dataset name is
    resolved or listed.  Return value ignored.
    """


@hookspec
def kampai_register_splitters(registry: SplitterRegistry) -> None:
    """Register split strategies (``registry.add(name, fn, cv=..., description=...)``).

    ``fn(data, cfg)`` receives a :class:`kampai.plugin.TaskData` and the ``split``
    config section and returns a list of ``(train_index, test_index)`` pairs (row
    positions), or of ``(train, test)`` TaskData pairs for tasks whose folds are not row
    subsets (forecasting's ``holdout``/``backtest``).  Called the
    first time a split is resolved.  Return value ignored.
    """


@hookspec
def kampai_register_metrics(registry: MetricRegistry) -> None:
    """Register metrics for one or more tasks (``registry.add(metric)``).

    Each metric is a :class:`kampai.plugin.Metric` naming the tasks it applies to.
    Called the first time metrics are computed or listed.  Return value ignored.
    """


@hookspec
def kampai_register_serializers(registry: SerializerRegistry) -> None:
    """Register model serializers (``registry.add(serializer)``) that ``--serializer NAME``
    (config ``output.serializer``) selects instead of the framework's own save/load.

    Each is a :class:`kampai.plugin.Serializer`: a name, the frameworks it can
    handle, and ``save(model, path)`` / ``load(path)`` callables that import their library
    lazily; ``example=True`` asks for training rows (``save(model, path, example)``: an
    exporter's input types and its check), ``extra`` names the kampai extra a serving image
    of its runs needs.  Called the first time a serializer is looked up or listed.  Return
    value ignored.
    """


@hookspec
def kampai_add_settings(settings: SettingRegistry) -> None:
    """Declare the plugin's config keys and CLI options (``settings.add(Setting(...))``).

    Called once per process by the host, the first time a config is loaded or the CLI
    builds a command that takes options (``train``, ``tune``, ``config show``).  Each
    :class:`kampai.plugin.Setting` names a dotted key (a new section such as ``wandb.project``
    or a key inside a core section such as ``data.text``), its default, type and help,
    and optionally a flag added to commands.  Keys are validated with a did-you-mean like
    the core's; they exist only while the plugin is loaded.  Return value ignored.
    """


@hookspec
def kampai_register_commands(app: Any) -> None:
    """Add command groups to the ``runner`` CLI (``app.add_typer(sub, name="registry")``).

    ``app`` is the :class:`typer.Typer` root.  Called by the CLI only when the command
    line names no built-in command (or asks for ``--help``), so plugin commands cost
    built-in commands nothing.  Return value ignored.
    """


# --------------------------------------------------------------------------------------
# Lifecycle hooks: around a whole training run.
# --------------------------------------------------------------------------------------


@hookspec
def kampai_before_train(ctx: RunContext) -> None:
    """Called by the engine once per ``train`` before any data is loaded.

    ``ctx.config`` is the resolved experiment config; ``ctx.run_dir`` is the temporary
    folder the run is written to.  Return value ignored.
    """


@hookspec
def kampai_after_train(ctx: RunContext, run: RunRecord) -> None:
    """Called once per ``train`` after the run folder is complete and in place.

    ``run`` is the finished run, a :class:`kampai.plugin.RunRecord` (metrics, meta, run_dir;
    the model in memory as ``run.loaded_model``).
    Trackers log the run here.  Return value ignored.
    """


@hookspec
def kampai_on_train_error(ctx: RunContext, error: BaseException) -> None:
    """Called when a ``train`` fails or is interrupted, after its temporary folder is removed.

    The engine re-raises ``error`` afterwards.  Return value ignored.
    """


# --------------------------------------------------------------------------------------
# Lifecycle hooks: fit (once per fold, and once for the final model).
# --------------------------------------------------------------------------------------


@hookspec
def kampai_before_fit(ctx: RunContext, data: TaskData) -> None:
    """Called before each fit; ``ctx.fold`` is the fold index or ``None`` for the final fit.

    ``data`` is the training data.  Return value ignored.
    """


@hookspec
def kampai_after_fit(ctx: RunContext, model: Any, seconds: float) -> None:
    """Called after each successful fit with the fitted model and the fit time in seconds.

    Return value ignored.
    """


@hookspec
def kampai_on_fit_error(ctx: RunContext, error: BaseException) -> None:
    """Called when a fit raises; the engine re-raises afterwards.  Return value ignored."""


# --------------------------------------------------------------------------------------
# Lifecycle hooks: evaluate.
# --------------------------------------------------------------------------------------


@hookspec
def kampai_before_evaluate(ctx: RunContext, data: TaskData) -> None:
    """Called before metrics are computed on ``data`` (a test split or a user's file).

    Return value ignored.
    """


@hookspec
def kampai_after_evaluate(ctx: RunContext, metrics: dict[str, float]) -> None:
    """Called with the computed metrics (per fold, then the aggregate with ``ctx.fold=None``).

    Return value ignored.
    """


@hookspec
def kampai_on_evaluate_error(ctx: RunContext, error: BaseException) -> None:
    """Called when computing metrics raises; the engine re-raises.  Return value ignored."""


# --------------------------------------------------------------------------------------
# Lifecycle hooks: predict.
# --------------------------------------------------------------------------------------


@hookspec
def kampai_before_predict(ctx: RunContext, data: TaskData) -> None:
    """Called before a model predicts on ``data`` (test splits, ``runner predict``).

    Return value ignored.
    """


@hookspec
def kampai_after_predict(ctx: RunContext, prediction: Prediction) -> None:
    """Called with the :class:`kampai.plugin.Prediction` a model returned.

    Return value ignored.
    """


@hookspec
def kampai_on_predict_error(ctx: RunContext, error: BaseException) -> None:
    """Called when predicting raises; the engine re-raises.  Return value ignored."""


# --------------------------------------------------------------------------------------
# Lifecycle hooks: serialize (save the final model into the run folder).
# --------------------------------------------------------------------------------------


@hookspec
def kampai_before_serialize(ctx: RunContext, path: Path) -> None:
    """Called before the framework saves the final model under ``path``.

    Return value ignored.
    """


@hookspec
def kampai_after_serialize(ctx: RunContext, path: Path, size_bytes: int) -> None:
    """Called after the model is saved; ``size_bytes`` is its size on disk.

    Return value ignored.
    """


@hookspec
def kampai_on_serialize_error(ctx: RunContext, error: BaseException) -> None:
    """Called when saving the model raises; the engine re-raises.  Return value ignored."""


# --------------------------------------------------------------------------------------
# Lifecycle hooks: tune (an Optuna study; search mode writes no run folder per trial).
#
# ``ctx`` is a RunContext whose ``run_id`` is the study name and whose ``run_dir`` is the
# study's output folder (trial log, plots); ``ctx.state`` holds ``"storage"`` (the URL,
# credentials masked), ``"metric"`` and ``"direction"``.  All four hooks run in the
# ``runner tune`` / ``kampai.tune`` process itself, also with ``--jobs N`` (the workers
# send each finished trial back), so a tracker can keep one parent run open.
# --------------------------------------------------------------------------------------


@hookspec
def kampai_before_tune(ctx: RunContext, study: Any) -> None:
    """Called once per ``tune`` after the study is created or loaded, before any trial.

    ``study`` is the :class:`optuna.study.Study` (it may already hold trials of earlier
    invocations: a resumed study).  ``ctx.config`` is the resolved config, its
    ``model.search`` the space in use.  Return value ignored.
    """


@hookspec
def kampai_after_trial(ctx: RunContext, trial: Any, metrics: dict[str, float]) -> None:
    """Called once for every trial this process (or its ``--jobs`` workers) finished.

    ``trial`` is the finished :class:`optuna.trial.FrozenTrial` (``trial.number``,
    ``trial.params``, ``trial.value``, ``trial.state``, ``trial.duration``, and the user
    attrs ``"metrics"`` and ``"fit_seconds"``).  ``metrics`` are the task's metrics for
    the trial aggregated over the folds (``{"accuracy": 0.95, "accuracy_std": ...}``);
    empty when the trial was pruned or failed.  Called in completion order.  Return value
    ignored.
    """


@hookspec
def kampai_after_tune(ctx: RunContext, study: Any, best: Any) -> None:
    """Called once per ``tune`` after the last trial (also after a timeout or Ctrl-C).

    ``best`` is the best :class:`optuna.trial.FrozenTrial` of the whole study, or
    ``None`` when no trial has completed.  Called before the refit (``--refit``), which
    is a normal ``train`` with its own hooks.  Return value ignored.
    """


@hookspec
def kampai_on_tune_error(ctx: RunContext, error: BaseException) -> None:
    """Called when a ``tune`` fails after its study was opened; the engine re-raises.

    Completed trials are already in the study storage.  A Ctrl-C is not an error: the
    study stops, ``kampai_after_tune`` is called.  Return value ignored.
    """


# --------------------------------------------------------------------------------------
# Resolution hooks (firstresult): turn a reference into something the core can open.
# --------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def kampai_resolve_run(ref: str) -> Path | None:
    """Turn a run reference that is not a folder (``churn@production``, ``churn@3``) into
    the path of a complete, verified run folder.

    Called by :func:`kampai.plugin.runs.load_run` and ``read_run`` (so by ``runner
    predict``/``evaluate`` and the Python API) only when ``ref`` is not an existing folder.  Return ``None`` when the
    reference is not yours; raise :class:`kampai.plugin.RunError` when it is yours
    but cannot be opened (unknown version, tampered artifact).  Stops at the
    first non-None result.
    """


@hookspec(firstresult=True)
def kampai_read_data(path: str) -> pd.DataFrame | None:
    """Read data that is not a CSV/Parquet file or a bundled name (a folder of images with
    one sub-folder per class) into the DataFrame a task's ``prepare`` receives.

    Called by :func:`kampai.plugin.io.read_frame` (so by ``--data`` of every command and the
    Python API) only when ``path`` is an existing folder or a file with a suffix the core
    cannot read.  Return ``None`` when the data is not yours; raise
    :class:`kampai.plugin.DataError` when it is yours but unreadable.  Stops at the
    first non-None result.
    """


@hookspec(firstresult=True)
def kampai_resolve_metric(name: str, task: str) -> Metric | None:
    """Turn a metric name that no plugin registered for ``task`` into a
    :class:`kampai.plugin.Metric` (the scikit-learn plugin answers with its scorers:
    ``precision_macro``, ``neg_median_absolute_error`` ...).

    Called by the engine when a config's ``metrics`` (or ``--metric``) names a metric the
    task does not have.  Return ``None`` when the name is not yours.  Stops at the
    first non-None result.
    """


# --------------------------------------------------------------------------------------
# Maintenance hooks.
# --------------------------------------------------------------------------------------


@hookspec
def kampai_sync_runs(runs_dir: Path, tracking_uri: str | None) -> list[str] | None:
    """Called by ``runner runs sync``: push the runs under ``runs_dir`` that an observer
    could not record when they were made (e.g. a tracking server was unreachable).

    ``tracking_uri`` overrides where they go (``None``: where each was meant to go).
    Return the ids of the runs pushed (all implementations run; the CLI lists them).
    Raise :class:`kampai.plugin.KampaiError` when nothing can be pushed.
    """
