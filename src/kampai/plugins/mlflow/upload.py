"""Sending one finished run to MLflow: params, metrics and tags in batches, the folder's
files as artifacts under ``run/``, the ``MLmodel`` that makes it a pyfunc model.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from kampai.plugins.mlflow.records import PENDING, RECORD, _now, write_record
from kampai.plugins.mlflow.run_data import TAG_RUN_ID, run_metrics, run_params, run_tags, safe_key
from kampai.plugins.mlflow.store import client, experiment_id

ARTIFACT_DIR = "run"


def _batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


def log_batch(mlflow_client: Any, run_id: str, params: dict[str, str] | None = None,
              metrics: list[tuple[str, float, int]] | None = None, tags: dict[str, str] | None = None) -> None:
    from mlflow.entities import Metric, Param, RunTag

    stamp = int(time.time() * 1000)
    plist = [Param(k, v) for k, v in {safe_key(k): v for k, v in (params or {}).items()}.items()]
    mlist = [Metric(safe_key(k), v, stamp, step) for k, v, step in (metrics or [])]
    tlist = [RunTag(k, v[:5000]) for k, v in (tags or {}).items()]
    for chunk in _batches(plist, 100):
        mlflow_client.log_batch(run_id, params=chunk)
    for chunk in _batches(mlist, 1000):
        mlflow_client.log_batch(run_id, metrics=chunk)
    for chunk in _batches(tlist, 100):
        mlflow_client.log_batch(run_id, tags=chunk)


def _is_tracking_file(rel: Path) -> bool:
    return len(rel.parts) == 1 and rel.name in (PENDING, RECORD)


def log_folder(mlflow_client: Any, run_id: str, folder: Path, artifact_path: str = ARTIFACT_DIR) -> int:
    """Upload every file of ``folder`` (but the tracking markers) under ``artifact_path``."""
    count = 0
    for file in sorted(Path(folder).rglob("*")):
        rel = file.relative_to(folder)
        if not file.is_file() or _is_tracking_file(rel):
            continue
        sub = "/".join((artifact_path, *rel.parts[:-1]))
        mlflow_client.log_artifact(run_id, str(file), sub)
        count += 1
    return count


def log_run(run: Any, uri: str, experiment: str, model: Any = None,
            extra_tags: dict[str, str] | None = None,
            estimator_params: dict[str, str] | None = None) -> dict[str, Any]:
    """Log one finished kampai run; return (and record in the folder) where it went.
    ``estimator_params``: the model's own parameters read already (:func:`.run_data.estimator_params`),
    else they are read from ``model``."""
    mlflow_client = client(uri)
    exp_id = experiment_id(mlflow_client, experiment, uri)
    _drop_unfinished(mlflow_client, exp_id, run.run_id)
    created = mlflow_client.create_run(exp_id, run_name=run.run_id, tags={**run_tags(run), **(extra_tags or {})})
    mlflow_run_id = created.info.run_id
    try:
        params = run_params(run.config, model)
        params.update(estimator_params or {})
        log_batch(mlflow_client, mlflow_run_id, params=params, metrics=run_metrics(run))
        log_folder(mlflow_client, mlflow_run_id, run.run_dir)
        log_pyfunc(mlflow_client, mlflow_run_id, run)
    except BaseException:
        _terminate(mlflow_client, mlflow_run_id, "FAILED")
        raise
    mlflow_client.set_terminated(mlflow_run_id, "FINISHED")
    record = {"uri": uri, "experiment": experiment, "experiment_id": exp_id, "run_id": mlflow_run_id,
              "artifact_uri": created.info.artifact_uri, "logged": _now()}
    write_record(run.run_dir, record)
    return record


def log_pyfunc(mlflow_client: Any, run_id: str, run: Any) -> None:
    """An ``MLmodel`` beside the run's files in ``run/``: the folder is then an MLflow pyfunc
    model (``mlflow.pyfunc.load_model``, ``mlflow models serve``; see :mod:`.pyfunc`)."""
    import tempfile

    from kampai.plugins.mlflow.pyfunc import write_mlmodel

    with tempfile.TemporaryDirectory() as tmp:
        for file in write_mlmodel(run, Path(tmp)):
            mlflow_client.log_artifact(run_id, str(file), ARTIFACT_DIR)


def _drop_unfinished(mlflow_client: Any, exp_id: str, kampai_run_id: str) -> None:
    """A push that failed half-way left an unfinished MLflow run: delete it before retrying."""
    try:
        found = mlflow_client.search_runs(
            [exp_id], filter_string=f"tags.`{TAG_RUN_ID}` = '{kampai_run_id}' and attributes.status != 'FINISHED'")
    except Exception:
        return
    for stale in found:
        mlflow_client.delete_run(stale.info.run_id)


def _terminate(mlflow_client: Any, run_id: str, status: str) -> None:
    with contextlib.suppress(Exception):
        mlflow_client.set_terminated(run_id, status)
