"""The engine: one code path for ``runner train`` and ``kampai.train``.

It loads and splits the data, fits per fold, evaluates, refits, saves the run, and calls the
lifecycle hooks around each step.  It knows nothing about any particular framework:
everything framework-specific goes through the :class:`kampai.core.contract.Framework`
interface.  Its neighbours hold the other jobs: :mod:`kampai.core.run_config` (the config
resolved and checked), :mod:`kampai.core.lifecycle` (each step between its hooks),
:mod:`kampai.core.trained_run` (a saved run's predict/evaluate/inspect),
:mod:`kampai.core.signature` and :mod:`kampai.core.prediction_files`; their names used
through ``kampai.core.engine`` stay importable from here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core import config as config_mod
from kampai.core import data as data_mod
from kampai.core import distributed
from kampai.core import metrics as metrics_mod
from kampai.core.console import Steps, human_size
from kampai.core.contract import Prediction, RunContext, TaskData
from kampai.core.host import get_host
from kampai.core.hosted import model_store
from kampai.core.lifecycle import build_model, evaluate_data, fit, predict_data, save_model
from kampai.core.prediction_files import PREDICTION_FORMATS, check_predictions_output, write_predictions
from kampai.core.progress import every as progress_every
from kampai.core.progress import step_heartbeat
from kampai.core.run_config import (
    check_copy_target,
    check_serializer,
    import_libraries,
    resolve,
    short_name,
)
from kampai.core.runs import GitProbe, Run, RunWriter, new_run_id, package_versions, utc_now, write_manifest
from kampai.core.signature import SIGNATURE, signature
from kampai.core.trained_run import TrainedRun, evaluate, inspect, load_run, predict
from kampai.core.typed import Config

if TYPE_CHECKING:
    import pandas as pd

#: what other modules use through ``kampai.core.engine`` (defined in its neighbours)
__all__ = [
    "PREDICTION_FORMATS", "SIGNATURE", "TrainedRun", "build_model", "check_predictions_output",
    "check_serializer", "evaluate", "evaluate_data", "fit", "fold_part", "inspect", "load_run", "predict",
    "predict_data", "resolve", "save_model", "short_name", "signature", "train", "write_predictions",
]


def train(cfg: dict[str, Any], frame: pd.DataFrame | None = None, *,
          verbose: bool = True, parent: RunContext | None = None) -> TrainedRun:
    """Train, evaluate and save one run from a loaded config (see :func:`config.load`);
    ``parent`` is the study's context when this is a tuning refit."""
    report = Steps(verbose)
    with report.step("libraries", announce=True) as note:
        # the estimator check in resolve imports the framework (scikit-learn: 2 s, PyG:
        # 6.5 s): timed and announced here, with the rest of what the run will import
        cfg, task, framework = resolve(cfg)
        note["text"] = ", ".join(import_libraries(framework))
    check_copy_target(cfg)
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


def _train_into(ctx: RunContext, writer: RunWriter, frame: Any, report: Steps) -> tuple[dict[str, Any], Any]:
    cfg, task, framework = Config.of(ctx.config), ctx.task, ctx.framework
    with report.step("data loaded") as note, step_heartbeat(data_mod.read_progress, progress_every(cfg)):
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
    from kampai.core.baselines import Tracker

    baseline = Tracker(ctx, metrics, labels)  # the task's reference models (--no-baseline)
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
        baseline.fold(i, train_data, test_data, prediction, fold_scores[-1])
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
    scores = baseline.finish(scores)  # with baseline_<metric> beside each metric
    get_host().observers.kampai_after_evaluate(ctx=ctx, metrics=scores)
    report.info("  " + "  ".join(f"{k}={v:.4f}" if v == v else f"{k}=undefined"
                                 for k, v in scores.items() if not k.endswith("_std") and not baseline.owns(k)))
    baseline.report(report)  # "accuracy 0.95 (baseline ... 0.33)" and the warning when the model loses
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
        "baseline": baseline.meta(),
        "distributed": distributed.summary(),  # the torchrun process group (--nproc-per-node), else None
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


def fold_part(data: TaskData, part: Any) -> TaskData:
    """A fold's side: row positions (tabular splits), or the task's own view already
    (forecasting's holdout/backtest return TaskData pairs: history and horizon)."""
    return part if isinstance(part, TaskData) else data.take(part)


def _size(part: Any) -> int:
    """Rows of a fold's side; a TaskData side counts its target rows (a forecasting test
    side holds the whole history in ``X`` but only the horizon in ``y``)."""
    return len(part.y) if isinstance(part, TaskData) and part.y is not None else len(part)

