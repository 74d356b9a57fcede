"""The engine: one code path for ``runner train``/``predict``/``evaluate`` and the Python API.

It resolves the task and framework by name, loads and splits the data, fits per fold,
evaluates, saves, and calls the lifecycle hooks around each step.  It knows nothing about
any particular framework: everything framework-specific goes through the
:class:`kampai.core.contract.Framework` interface.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core import config as config_mod
from kampai.core import data as data_mod
from kampai.core import metrics as metrics_mod
from kampai.core import schema
from kampai.core.console import Steps, human_size, warn
from kampai.core.contract import BuildContext, Framework, Prediction, RunContext, Task, TaskData
from kampai.core.devices import Device
from kampai.core.errors import ConfigError, DataError, KampaiError, RunError, did_you_mean
from kampai.core.host import get_host
from kampai.core.hosted import model_store, open_run
from kampai.core.runs import (
    GitProbe,
    Run,
    RunWriter,
    dir_size,
    new_run_id,
    package_versions,
    utc_now,
    write_manifest,
)
from kampai.core.typed import Config

if TYPE_CHECKING:
    import pandas as pd


def resolve(cfg: dict[str, Any]) -> tuple[Config, Task, Framework]:
    """Fill the defaults that depend on the task and framework; check they fit together."""
    if not cfg.get("task"):
        raise KampaiError("No task given: set 'task' in the config or pass --task "
                          f"({', '.join(get_host().tasks())}).")
    if cfg.get("name") is not None:
        from kampai.core.errors import check_name

        check_name("run", cfg["name"])
    host = get_host()
    task = host.task(cfg["task"])
    framework = host.framework(cfg["framework"])
    if task.name not in framework.tasks:
        able = [n for n, f in get_host().frameworks().items() if task.name in f.tasks]
        raise KampaiError(
            f"Framework '{framework.name}' does not support task '{task.name}' (it supports: "
            f"{', '.join(framework.tasks)}). Frameworks for '{task.name}': {', '.join(able) or 'none'}."
        )
    config_mod.check_framework_keys(cfg, framework)
    config_mod.check_task_keys(cfg, task, host.settings(), [t for _, t in host.tasks().items()])
    # a config that did not come through config.load (a study's recorded one) gets the
    # core keys it lacks, so the typed reads below never miss one
    cfg = Config.of(config_mod.merge(schema.core_defaults(), cfg))
    if not cfg.split.method:
        cfg["split"] = config_mod.merge(cfg["split"], task.default_split)
    if cfg.split.seed is None:
        cfg["split"]["seed"] = cfg.seed
    get_host().splitters().get(cfg.split.method)
    check_serializer(cfg, framework)
    check_device(cfg, framework)
    for module in cfg.model.include:
        get_host().estimators().include(str(module))
    if not cfg["model"].get("estimator"):
        cfg["model"]["estimator"] = framework.default_estimator(task)
    check_estimator(str(cfg["model"]["estimator"]), framework)
    if not cfg["data"].get("target"):
        cfg["data"]["target"] = data_mod.default_target(cfg["data"].get("path"))
    return cfg, task, framework


class _Silent:
    """A hook relay that calls nothing (tuning trials: search mode)."""

    def __getattr__(self, name: str) -> Any:
        return lambda **kwargs: []


def _relay(ctx: RunContext) -> Any:
    """The plugins' hooks, or none for a tuning trial (``ctx.quiet``): a trial reports once
    through ``kampai_after_trial`` instead of per fit/predict/evaluate."""
    return _Silent() if ctx.quiet else get_host().observers


@contextmanager
def _observed(ctx: RunContext, step: str, **before: Any) -> Iterator[None]:
    """Call ``kampai_before_<step>`` / ``kampai_on_<step>_error`` around a block."""
    hook = _relay(ctx)
    getattr(hook, f"kampai_before_{step}")(ctx=ctx, **before)
    try:
        yield
    except BaseException as exc:
        getattr(hook, f"kampai_on_{step}_error")(ctx=ctx, error=exc)
        raise


def build_context(ctx: RunContext) -> BuildContext:
    """What ``framework.build`` gets: seed, device, the estimator resolver, folders."""
    from kampai.core import distributed
    from kampai.core.diskcache import cache_dir

    group = distributed.current()  # a torchrun worker's process group (runner train --nproc-per-node)
    device = Device.parse(ctx.config.get("device"))
    return BuildContext(seed=Config.of(ctx.config).seed, device=group.device(device) if group else device,
                        resolve=get_host().estimators().resolve, cache_dir=cache_dir(),
                        run_dir=None if ctx.quiet else ctx.run_dir, config=ctx.config, distributed=group)


def build_model(ctx: RunContext, model_cfg: dict[str, Any], data: TaskData) -> Any:
    """``framework.build`` with the run's :class:`BuildContext`."""
    return ctx.framework.build(ctx.task, model_cfg, data, build_context(ctx))


def fit(ctx: RunContext, model_cfg: dict[str, Any], data: TaskData) -> tuple[Any, float]:
    framework, task = ctx.framework, ctx.task
    with _observed(ctx, "fit", data=data):
        model = build_model(ctx, model_cfg, data)
        start = time.perf_counter()
        model = framework.fit(model, data, task)
        seconds = time.perf_counter() - start
    _relay(ctx).kampai_after_fit(ctx=ctx, model=model, seconds=seconds)
    return model, seconds


def predict_data(ctx: RunContext, model: Any, data: TaskData) -> Prediction:
    with _observed(ctx, "predict", data=data):
        prediction = ctx.framework.predict(model, data, ctx.task)
    _relay(ctx).kampai_after_predict(ctx=ctx, prediction=prediction)
    return prediction


def evaluate_data(ctx: RunContext, metrics: list, data: TaskData, prediction: Prediction,
                  announce: bool = True, *, labels: list | None = None,
                  undefined: dict[str, str] | None = None) -> dict[str, float]:
    """The metrics on ``data``; ``labels`` is the training data's full label set (see
    :func:`kampai.core.metrics.compute`), ``undefined`` collects why a metric is NaN."""
    with _observed(ctx, "evaluate", data=data):
        scores = metrics_mod.compute(metrics, data.y, prediction, data.X, labels=labels,
                                     undefined=undefined)
    if announce:
        _relay(ctx).kampai_after_evaluate(ctx=ctx, metrics=scores)
    return scores


def train(cfg: dict[str, Any], frame: pd.DataFrame | None = None, *,
          verbose: bool = True, parent: RunContext | None = None) -> TrainedRun:
    """Train, evaluate and save one run from a loaded config (see :func:`config.load`);
    ``parent`` is the study's context when this is a tuning refit."""
    report = Steps(verbose)
    with report.step("libraries", announce=True) as note:
        # the estimator check in resolve imports the framework (scikit-learn: 2 s, PyG:
        # 6.5 s): timed and announced here, with the rest of what the run will import
        cfg, task, framework = resolve(cfg)
        note["text"] = ", ".join(_import_libraries(framework))
    _check_copy_target(cfg)
    run_id = new_run_id(cfg.get("name") or f"{task.name}-{short_name(cfg['model']['estimator'])}")
    writer = RunWriter(Path(cfg.output.runs_dir), run_id)
    ctx = RunContext(config=cfg, run_id=run_id, run_dir=writer.tmp_dir, task=task,
                     framework=framework, parent=parent)
    hook = get_host().observers
    started = time.perf_counter()
    try:
        with writer:
            # the repository's state, read by git in the background while the model trains
            # (after the run folder exists: an untracked runs/ counts as dirty, as it did)
            git = GitProbe()
            hook.kampai_before_train(ctx=ctx)
            meta, model = _train_into(ctx, writer, frame, report)
            meta["git"] = git.result()
            meta["total_seconds"] = round(time.perf_counter() - started, 4)
            meta["manifest"] = "manifest.json"
            writer.write_json("meta.json", meta)
            write_manifest(writer.tmp_dir)
    except BaseException as exc:
        hook.kampai_on_train_error(ctx=ctx, error=exc)
        raise
    ctx.run_dir = writer.final_dir
    # the record from what is in memory (what was just written); only metrics.json is read
    import json

    record = Run(run_dir=writer.final_dir, config=json.loads(json.dumps(cfg, default=str)),
                 metrics=json.loads((writer.final_dir / "metrics.json").read_text()),
                 meta=json.loads(json.dumps(meta, default=str)), store_for=model_store)
    run = TrainedRun.of(record, model)
    report.info(f"[bold]Run[/bold] {run.run_id} → {writer.final_dir}")
    hook.kampai_after_train(ctx=ctx, run=run)
    return run


def _check_copy_target(cfg: dict[str, Any]) -> None:
    """``output.run_dir`` (a plugin's fixed-path copy of the run: the dvc plugin's
    ``--run-dir``) replaces only a kampai run, and only with ``output.overwrite``: refused
    here, before anything trains, with the folder untouched (``--run-dir runs`` is one letter
    from ``--runs-dir``; ``--run-dir data`` is the dataset)."""
    output = cfg.get("output") or {}
    if output.get("run_dir"):
        from kampai.core.outputs import check_replaceable_run

        check_replaceable_run(output["run_dir"], bool(output.get("overwrite")))


def _train_into(ctx: RunContext, writer: RunWriter, frame: Any, report: Steps) -> tuple[dict[str, Any], Any]:
    cfg, task, framework = Config.of(ctx.config), ctx.task, ctx.framework
    with report.step("data loaded") as note:
        frame = data_mod.load(cfg["data"], frame)
        fingerprint = data_mod.fingerprint(frame)
        data = task.prepare(frame, cfg["data"], training=True)
        from kampai.core.checks import check_training

        check_training(data.X)
        features = data.info.get("features")
        shape = f"{len(data)} rows" + (f" × {len(features)} features" if features else "")
        note["text"] = f"{shape} ({cfg['data'].get('path') or 'DataFrame'})"
    splitter = get_host().splitters().get(cfg.split.method)
    with report.step("split") as note:
        folds = splitter.fn(data, cfg.split)
        note["text"] = (f"{splitter.name}: {len(folds)} folds" if splitter.cv else
                        f"{splitter.name}: {_size(folds[0][0])} train / {_size(folds[0][1])} test")
    metrics = metrics_mod.resolve(task, cfg.get("metrics"))
    labels = metrics_mod.labels_of(data.y) if task.needs_target else None
    fold_scores, fold_tables, fold_seconds = [], [], []
    undefined_metrics: list[dict[str, Any]] = []
    model = None
    for i, (train_idx, test_idx) in enumerate(folds):
        ctx.fold = i if splitter.cv else None
        train_data, test_data = fold_part(data, train_idx), fold_part(data, test_idx)
        with report.step(f"fit {cfg['model']['estimator']}" + (f" fold {i + 1}/{len(folds)}" if splitter.cv else "")):
            model, seconds = fit(ctx, cfg["model"], train_data)
        fold_seconds.append(seconds)
        prediction = predict_data(ctx, model, test_data)
        undefined: dict[str, str] = {}
        fold_scores.append(evaluate_data(ctx, metrics, test_data, prediction, labels=labels,
                                         undefined=undefined))
        unseen = _unseen_classes(prediction, test_data)
        for name, reason in undefined.items():
            where = f"fold {i + 1}" if splitter.cv else "the test split"
            undefined_metrics.append({"fold": i if splitter.cv else None, "metric": name, "reason": reason})
            report.info(f"  [yellow]warning[/yellow]: {name} is undefined on {where}: {reason}")
        if unseen:
            where = f"fold {i + 1}" if splitter.cv else "the test split"
            report.info(f"  [yellow]warning[/yellow]: {where} has class(es) {unseen} that its training "
                        "part lacks: the model cannot predict them (probability 0)")
        table = task.format_predictions(test_data, prediction)
        if splitter.cv:
            table.insert(0, "fold", i)
        fold_tables.append(table)
    ctx.fold = None
    if splitter.cv:
        scores = metrics_mod.aggregate(fold_scores)
    else:
        scores, fit_seconds = fold_scores[0], fold_seconds[0]
    refit = cfg.split.refit
    if refit if refit is not None else (splitter.cv or task.default_split.get("refit", False)):
        with report.step("refit on all rows"):
            model, fit_seconds = fit(ctx, cfg["model"], data)
    get_host().observers.kampai_after_evaluate(ctx=ctx, metrics=scores)
    report.info("  " + "  ".join(f"{k}={v:.4f}" if v == v else f"{k}=undefined"
                                 for k, v in scores.items() if not k.endswith("_std")))
    with report.step("saved") as note:
        size = save_model(ctx, model, writer.tmp_dir / "model", example=data)
        note["text"] = f"model {human_size(size)}"
    (writer.tmp_dir / "config.yaml").write_text(config_mod.to_yaml(cfg))
    writer.write_json("metrics.json", scores)
    if cfg.output.predictions:
        import pandas as pd

        pd.concat(fold_tables).to_csv(writer.tmp_dir / "predictions.csv", index_label="row")
    if "artifacts" in task.capabilities:  # plots, reports
        import pandas as pd

        with report.step("artifacts") as note:
            written = task.write_artifacts(writer.tmp_dir, data, pd.concat(fold_tables))
            note["text"] = ", ".join(p.name for p in written or [])
    versions = package_versions(framework.packages)
    writer.write_json(SIGNATURE, signature(task, framework, data, fold_tables[0], versions))
    return {
        "run_id": ctx.run_id, "created": utc_now(), "task": task.name,
        "framework": framework.name, "estimator": cfg["model"]["estimator"],
        "split": splitter.name, "folds": len(folds),
        # how the scores were measured: a k-fold mean and a holdout score are not comparable
        "protocol": {"kind": "cv" if splitter.cv else "holdout", "method": splitter.name, "folds": len(folds),
                     "test_rows": None if splitter.cv else _size(folds[0][1])},
        "fit_seconds": round(fit_seconds, 4),
        "cv_fit_seconds": [round(s, 4) for s in fold_seconds] if splitter.cv else None,
        "model_size_bytes": size,
        "data": {"source": str(cfg["data"].get("path") or "DataFrame"), "fingerprint": fingerprint,
                 "rows": len(data), "features": data.info.get("features")},
        "fold_metrics": fold_scores if splitter.cv else None,
        "undefined_metrics": undefined_metrics or None,
        "versions": versions,
        "git": None,  # train() fills it in from its GitProbe
    }, model


def _unseen_classes(prediction: Prediction, test: TaskData) -> list[Any]:
    """Classes of the test rows that the model (its training part) never saw."""
    if prediction.classes is None or test.y is None or getattr(test.y, "ndim", 1) != 1:
        return []
    import pandas as pd

    seen = set(prediction.classes)
    return [c for c in pd.unique(pd.Series(test.y).dropna()) if c not in seen]


SIGNATURE = "signature.json"


def signature(task: Task, framework: Framework, data: TaskData, predictions: pd.DataFrame,
              versions: dict[str, str]) -> dict[str, Any]:
    """What a server or another tool needs without importing the framework: task,
    framework, the inputs (columns and dtypes, or the task's input kind), the classes,
    the output columns, and the packages with their versions."""
    return {"version": 1, "task": task.name, "framework": framework.name, **task.signature(data),
            "outputs": [str(c) for c in predictions.columns if c not in ("fold", "target", "actual")],
            "packages": versions}


class TrainedRun(Run):
    """A run with its actions: what ``kampai.train`` and ``kampai.load_run`` return."""

    @classmethod
    def of(cls, run: Run, model: Any = None) -> TrainedRun:
        return cls(run_dir=run.run_dir, config=run.config, metrics=run.metrics, meta=run.meta,
                   _model=model if model is not None else run.loaded_model, store_for=run.store_for,
                   _digests=run._digests)

    def predict(self, data: Any = None, *, horizon: int | None = None, **options: Any) -> pd.DataFrame:
        """Predictions for a DataFrame or a file path, as ``runner predict`` writes them
        (forecasting: ``horizon`` steps ahead; ``data`` optional; ``options``: the task's
        predict options, such as ``k=10``)."""
        return predict(self, data, horizon=horizon, options=options)

    def evaluate(self, data: Any) -> dict[str, float]:
        """Metrics of this run's model on other labelled data (a DataFrame or a path)."""
        return evaluate(self, data)

    def inspect(self, data: Any = None, step: str | None = None) -> list[dict[str, Any]]:
        """What each preprocessing step of the model outputs on the run's data (or ``data``),
        one dict per step: see :func:`inspect` (``runner inspect RUN``)."""
        return inspect(self, data, step)


def load_run(ref: str | Path) -> TrainedRun:
    """Open a run folder or ``NAME@stage`` / ``NAME@version``, ready to predict and evaluate
    (public to plugins as :func:`kampai.plugin.open_run`)."""
    return TrainedRun.of(open_run(ref))


def fold_part(data: TaskData, part: Any) -> TaskData:
    """A fold's side: row positions (tabular splits), or the task's own view already
    (forecasting's holdout/backtest return TaskData pairs: history and horizon)."""
    return part if isinstance(part, TaskData) else data.take(part)


def _size(part: Any) -> int:
    """Rows of a fold's side; a TaskData side counts its target rows (a forecasting test
    side holds the whole history in ``X`` but only the horizon in ``y``)."""
    return len(part.y) if isinstance(part, TaskData) and part.y is not None else len(part)


def save_model(ctx: RunContext, model: Any, path: Path, example: TaskData | None = None) -> int:
    """The model into ``path`` through the framework or the chosen serializer; a serializer
    that asks for an example (``Serializer.example``) gets up to 1,000 of ``example``'s rows."""
    import numpy as np

    path.mkdir(parents=True, exist_ok=True)
    store = model_store(ctx.config)
    with _observed(ctx, "serialize", path=path):
        if getattr(store, "example", False):
            rows = None if example is None else example.take(np.arange(min(len(example), EXAMPLE_ROWS)))
            store.save(model, path, rows)
        else:
            store.save(model, path)
    size = dir_size(path)
    get_host().observers.kampai_after_serialize(ctx=ctx, path=path, size_bytes=size)
    return size


#: training rows a serializer that asks for an example gets (``Serializer.example``)
EXAMPLE_ROWS = 1000


def check_serializer(cfg: dict[str, Any], framework: Framework) -> None:
    """``output.serializer`` must be registered and handle the framework's models."""
    name = (cfg.get("output") or {}).get("serializer")
    if not name:
        return
    serializer = get_host().serializers().get(name)
    if framework.name not in serializer.frameworks:
        raise KampaiError(
            f"Serializer '{name}' cannot save '{framework.name}' models (it handles: "
            f"{', '.join(serializer.frameworks)}). Drop --serializer to use the framework's own format."
        )
    if serializer.check is not None:
        serializer.check()


def _import_libraries(framework: Framework) -> list[str]:
    """Import what the run will use: the framework's ``requires`` and the splitters' library."""
    import importlib
    import warnings

    done = []
    for module in (*framework.requires, "pandas", "sklearn.model_selection"):
        try:
            with warnings.catch_warnings():  # torch_geometric (imported by skorch, PyG) scripts
                # modules with the deprecated torch.jit.script as it loads: not the user's concern
                warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated",
                                        category=FutureWarning)
                importlib.import_module(module)
        except ImportError:
            continue  # the step that needs it says so
        done.append(module)
    return done


def check_estimator(name: str, framework: Framework) -> None:
    """An unknown estimator name fails now, before any data is read: the framework's
    ``describe`` (what ``runner estimators show`` prints) is asked about it, and an error it
    raises for the name (with its did-you-mean) stops the run here.  A framework that cannot
    describe its models (``{}``) is checked when the model is built, as before."""
    if "." in name or ":" in name or "/" in name:
        return  # an import path or a hub id: checked when the model is built
    from kampai.core.diskcache import cache_dir
    from kampai.core.errors import UnknownNameError

    ctx = BuildContext(seed=0, device="cpu", resolve=get_host().estimators().resolve, cache_dir=cache_dir())
    try:
        framework.describe(name, ctx)
    except UnknownNameError as exc:
        raise UnknownNameError(f"{exc} For your own class use --include MODULE or its import path.") from None
    except KampaiError:
        raise
    except Exception:
        return

def short_name(estimator: str) -> str:
    return str(estimator).replace(":", ".").rsplit(".", 1)[-1]


def check_device(cfg: dict[str, Any], framework: Framework) -> None:
    """One rule for every framework, at the config check: a device other than auto/cpu needs
    the ``device`` capability, and one this machine lacks (mps, cuda:N) is refused here, in
    one line, not later inside the plugin."""
    device = Device.parse(cfg.get("device"))
    if device not in ("auto", "cpu") and "device" not in framework.capabilities:
        raise ConfigError(f"Framework '{framework.name}' does not train on a device: device={str(device)!r} "
                          "is for frameworks with the 'device' capability (runner frameworks list). "
                          "Drop --device or use auto/cpu.")
    if "device" in framework.capabilities and framework.device_backend == "torch":
        device.check_available()


def _run_context(run: Run) -> RunContext:
    host = get_host()
    task = host.task(run.config["task"])
    framework = host.framework(run.config["framework"])
    return RunContext(config=run.config, run_id=run.run_id, run_dir=run.run_dir, task=task,
                      framework=framework)


def _prepare_new(run: Run, ctx: RunContext, data: Any, training: bool) -> TaskData:
    frame = data if not isinstance(data, (str, Path)) else data_mod.read_frame(data)
    data_cfg = dict(run.config["data"])
    if run.meta["data"].get("features"):  # predict with exactly the training columns
        data_cfg["features"] = run.meta["data"]["features"]
    # new data need not carry the columns that only served training: dropped ones, and the
    # group/time columns that only ordered or grouped the split (when they are absent)
    data_cfg["drop"] = [c for c in data_cfg.get("drop") or [] if c in frame.columns]
    for role in ("group", "time"):
        if data_cfg.get(role) and data_cfg[role] not in frame.columns:
            data_cfg[role] = None
    from kampai.core import checks

    signature = _signature(run)
    prepared = ctx.task.prepare(frame, data_cfg, training=training)
    numeric = _cached(run, "_numeric_inputs", lambda: checks.numeric_inputs(signature))
    checks.check_against_signature(prepared.X, signature, numeric)
    # unknown categories are predicted, as `runner serve` does, and said (docs/serving.md)
    for line in checks.unknown_categories(prepared.X, signature):
        warn(line)
    if training and ctx.task.name.endswith("classification"):
        checks.check_labels(prepared.y, signature)
    return prepared


def _cached(run: Run, key: str, make: Any) -> Any:
    """``make()`` computed once per run object and kept on it (a server predicts many times
    through one run: what depends only on the run is not redone per request)."""
    if key not in run.__dict__:
        run.__dict__[key] = make()
    return run.__dict__[key]


def _signature(run: Run) -> dict[str, Any] | None:
    """The run's ``signature.json``, read once per run object (a server predicts many times)."""
    import json

    def read() -> dict[str, Any]:  # the bytes verified with the model, never the path again
        try:
            return json.loads(run.record(SIGNATURE) or b"{}") or {}
        except ValueError:
            return {}

    return _cached(run, "_signature", read) or None


def predict(run: Run, data: Any = None, *, horizon: int | None = None,
            options: dict[str, Any] | None = None) -> pd.DataFrame:
    """Predictions of a run's model for new data, as a table (label + proba columns).

    Tasks that predict ahead in time (``task.predicts_ahead``: forecasting) take a
    ``horizon`` and may omit ``data``: the model then continues the series it was
    trained on; with ``data`` it forecasts after the end of those series.
    """
    from kampai.kinds.series import ForecastWindow

    ctx = _run_context(run)
    ahead = "ahead" in ctx.task.capabilities
    own_options = "predict_options" in ctx.task.capabilities
    if horizon is not None and not ahead:
        raise KampaiError(f"Task '{ctx.task.name}' does not predict ahead in time: --horizon is for "
                          "forecasting tasks.")
    if options and not own_options:
        raise KampaiError(f"Task '{ctx.task.name}' takes no predict options (got {', '.join(options)}).")
    if data is None and not (ahead or own_options):
        raise DataError("No data given: pass --data FILE (CSV/Parquet or a bundled dataset).")
    task_data = TaskData(X=None) if data is None else _prepare_new(run, ctx, data, training=False)
    if own_options:
        task_data = ctx.task.predict_input(None if data is None else task_data, dict(options or {}), run.config)
    if ahead:
        task_data.window = ForecastWindow(mode="ahead", horizon=horizon)  # type: ignore[arg-type]
    prediction = predict_data(ctx, run.model, task_data)
    return ctx.task.format_predictions(task_data, prediction)


def evaluate(run: Run, data: Any) -> dict[str, float]:
    """The run's metrics recomputed on other labelled data."""
    ctx = _run_context(run)
    task_data = _prepare_new(run, ctx, data, training=True)
    if task_data.y is None and ctx.task.needs_target:
        raise DataError("Evaluating needs the target column in the data.")
    if "evaluation_split" in ctx.task.capabilities:  # forecasting: the last horizon steps
        task_data = ctx.task.evaluation_split(task_data, run.config["split"])
    prediction = predict_data(ctx, run.model, task_data)
    metrics = metrics_mod.resolve(ctx.task, run.config.get("metrics"))
    return evaluate_data(ctx, metrics, task_data, prediction)


def inspect(run: Run, data: Any = None, step: str | None = None) -> list[dict[str, Any]]:
    """What each preprocessing step of a run's model outputs on the run's own data (its
    ``data.path``) or on ``data``: one dict per step (``name``, ``kind``, ``shape``,
    ``columns``, ``dtypes``, ``missing``, ``head``; ``inputs`` for a column router's branch),
    from the framework's ``inspect`` capability.  ``step`` keeps the steps whose name (a
    path such as ``preprocess/num/scaler``) is or ends with it."""
    ctx = _run_context(run)
    if "inspect" not in ctx.framework.capabilities:
        raise KampaiError(f"Framework '{ctx.framework.name}' cannot show its preprocessing steps (it has no "
                          "'inspect' capability; runner frameworks list shows the capabilities).")
    source = data if data is not None else run.config["data"].get("path")
    if source is None:
        raise DataError(f"Run '{run.run_dir}' was trained on a DataFrame: pass --data FILE to inspect it.")
    prepared = _prepare_new(run, ctx, source, training=False)
    try:
        steps = ctx.framework.inspect(run.model, prepared)
    except RunError:
        raise
    except (ValueError, KeyError) as exc:
        raise DataError(f"The run's preprocessing cannot transform this data: {exc}") from None
    if not steps:
        raise KampaiError(f"The model of run '{run.run_id}' has no preprocessing pipeline to inspect "
                          f"(estimator {run.meta.get('estimator')} alone, e.g. model.preprocess: false).")
    if step is None:
        return steps
    picked = [s for s in steps if s["name"] == step or s["name"].endswith("/" + step)]
    if not picked:
        names = [s["name"] for s in steps] + sorted({s["name"].rsplit("/", 1)[-1] for s in steps})
        raise KampaiError(f"No step '{step}' in run '{run.run_id}'.{did_you_mean(step, names)} "
                          f"Steps: {', '.join(s['name'] for s in steps)}.")
    return picked


#: the formats ``predict -o`` writes, by the file's suffix
PREDICTION_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "jsonl"}


def check_predictions_output(output: str | Path) -> Path:
    """Refuse, before anything is predicted, an output whose suffix names no format kampai
    writes, or that lies inside a run folder (its files are signed)."""
    from kampai.core.outputs import check_output

    out = check_output(output, "predictions file")  # a folder, or inside a run: refused first
    if out.suffix.lower() not in PREDICTION_FORMATS:
        raise KampaiError(f"Cannot write predictions as '{out.suffix or out.name}' ({out}): use one of "
                          f"{', '.join(PREDICTION_FORMATS)}.")
    return out


def write_predictions(table: pd.DataFrame, output: str | Path) -> Path:
    """Write ``table`` in the format its suffix names (:data:`PREDICTION_FORMATS`), whole or
    not at all (a temporary file renamed into place)."""
    from kampai.core.outputs import atomic_write

    out = check_predictions_output(output)
    kind = PREDICTION_FORMATS[out.suffix.lower()]

    def write(tmp: Path) -> None:
        if kind == "parquet":
            table.to_parquet(tmp)
        elif kind == "json":
            table.to_json(tmp, orient="records", indent=2, date_format="iso")
        elif kind == "jsonl":
            table.to_json(tmp, orient="records", lines=True, date_format="iso")
        else:
            table.to_csv(tmp, index=False)

    return atomic_write(out, write, "predictions file")
