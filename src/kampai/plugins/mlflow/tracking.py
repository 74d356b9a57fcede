"""Logging kampai runs and tuning studies to MLflow (imported only when something is logged).

The run folder stays the source of truth: MLflow receives a copy of it (params, metrics,
tags and every file as artifacts under ``run/``).  When the tracking store cannot be
reached, the run folder gets a ``tracking-pending.json`` marker and ``runner runs sync``
pushes it later.  After a successful push the folder gets ``tracking.json`` (where it
went), which the registry uses to find the MLflow run of a kampai run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kampai.plugins.mlflow.push_queue import background, linger, push_lock, queue_push
from kampai.plugins.mlflow.records import (
    PENDING,
    _short,
    mark_pending,
    trusted_pending,  # noqa: F401 (tests import it from here)
    warn,
)
from kampai.plugins.mlflow.run_data import estimator_params
from kampai.plugins.mlflow.store import experiment_name, tracking_uri
from kampai.plugins.mlflow.upload import log_run

#: where StudyTracker.finish leaves, in the study context's state, what its refit links to
LINK_KEY = "mlflow_refit_link"


def track_run(ctx: Any, run: Any) -> None:
    """``kampai_after_train``: log the run; on any tracking failure keep it pending, warn once."""
    cfg = run.config
    uri, experiment = tracking_uri(cfg), experiment_name(cfg)
    extra, parent = {}, None
    link = ctx.parent.state.pop(LINK_KEY, {}) if ctx.parent is not None else {}
    if link:
        extra = {"kampai.study": str(link["name"])}
        if link.get("run_id") and link.get("uri") == uri:
            parent = link["run_id"]
            extra["mlflow.parentRunId"] = parent
    if not link and background(cfg):
        model = run.loaded_model
        queue_push(run.run_dir, uri, experiment, linger_s=linger(cfg),
                   params=None if model is None else estimator_params(model))
        return
    # pending before the push starts: a signal or a crash mid-push abandons only the push;
    # the finished run stays as it is, pending for 'runner runs sync'
    mark_pending(run.run_dir, uri, experiment, RuntimeError("interrupted during the push"))
    with push_lock(run.run_dir):
        try:
            record = log_run(run, uri, experiment, model=run.loaded_model, extra_tags=extra)
        except Exception as exc:
            mark_pending(run.run_dir, uri, experiment, exc)
            warn(f"run {run.run_id} was not tracked ({_short(exc)}). It is kept in {run.run_dir}; "
                 "push it later with 'runner runs sync'.")
            return
        (Path(run.run_dir) / PENDING).unlink(missing_ok=True)
    ctx.state["mlflow_run_id"] = record["run_id"]
