"""Logging kampai runs and tuning studies to MLflow (imported only when something is logged).

The run folder stays the source of truth: MLflow receives a copy of it (params, metrics,
tags and every file as artifacts under ``run/``).  When the tracking store cannot be
reached, the run folder gets a ``tracking-pending.json`` marker and ``runner runs sync``
pushes it later.  After a successful push the folder gets ``tracking.json`` (where it
went), which the registry uses to find the MLflow run of a kampai run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kampai.plugin import KampaiError, protocol_label

PENDING = "tracking-pending.json"
RECORD = "tracking.json"
ARTIFACT_DIR = "run"
DEFAULT_EXPERIMENT = "kampai"
STORE_DIR = ".kampai"
STUDIES_DIR = "studies"
#: tags every logged run carries; the registry reads them back
TAG_RUN_ID = "kampai.run_id"
TAG_KIND = "kampai.kind"
TAG_MANIFEST = "kampai.manifest_sha256"
CONNECT_TIMEOUT = 3.0
MAX_PARAM_VALUE = 6000

log = logging.getLogger("kampai.mlflow")


class TrackingUnavailable(KampaiError):
    """The tracking store cannot be reached (the run is kept locally)."""


# --------------------------------------------------------------------------------------
# Where to log
# --------------------------------------------------------------------------------------


def default_store_uri(root: Path | None = None) -> str:
    """The embedded store: ``sqlite:///<project>/.kampai/mlflow.db``."""
    base = (root or Path.cwd()) / STORE_DIR
    return "sqlite:///" + str((base / "mlflow.db").resolve())


def tracking_uri(cfg: dict[str, Any] | None = None, override: str | None = None) -> str:
    """``override`` (a flag) > ``tracking.uri`` > ``$MLFLOW_TRACKING_URI`` > the embedded store."""
    uri = override or ((cfg or {}).get("tracking") or {}).get("uri") or os.environ.get("MLFLOW_TRACKING_URI")
    return str(uri) if uri else default_store_uri()


def experiment_name(cfg: dict[str, Any]) -> str:
    tracking = cfg.get("tracking") or {}
    return str(tracking.get("experiment") or cfg.get("name") or DEFAULT_EXPERIMENT)


def enabled(cfg: dict[str, Any]) -> bool:
    """``tracking.enabled``, unless ``KAMPAI_NO_TRACK`` is set (CI, test suites)."""
    if os.environ.get("KAMPAI_NO_TRACK", "").strip() not in ("", "0", "false"):
        return False
    return bool((cfg.get("tracking") or {}).get("enabled", True))


def is_remote(uri: str) -> bool:
    return urlparse(uri).scheme in ("http", "https")


def check_reachable(uri: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail fast (TrackingUnavailable) when an HTTP tracking server does not answer.

    MLflow's own client retries for minutes; a training run should not wait that long.
    """
    if not is_remote(uri):
        return
    parsed = urlparse(uri)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "localhost", port), timeout=timeout):
            pass
    except OSError as exc:
        raise TrackingUnavailable(f"tracking server {uri} is unreachable ({exc})") from None


def _quiet_mlflow() -> None:
    # bounded retries: an unreachable or failing server must not hang a training run
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)


def client(uri: str) -> Any:
    """An ``MlflowClient`` for ``uri`` (tracking and registry); creates the embedded store."""
    _quiet_mlflow()
    check_reachable(uri)
    db = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    fresh = False
    if db is not None and not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            _seed_store(db)
        fresh = not db.exists()
    from mlflow import MlflowClient

    mlflow_client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if fresh and db is not None:
        with contextlib.suppress(Exception):
            mlflow_client.search_experiments()  # MLflow creates the store (its migrations)
            _save_template(db)
    return mlflow_client


# A new MLflow sqlite store runs ~50 schema migrations (4-14 s here); an empty one is kept
# in kampai's cache, per MLflow version, and copied for every new project.


def _template() -> Path:
    from importlib.metadata import version

    from kampai.plugin import cache_dir

    return cache_dir() / f"mlflow-{version('mlflow')}-empty-store.db"


def _seed_store(db: Path) -> None:
    import shutil
    import sqlite3

    template = _template()
    if not template.is_file():
        return
    tmp = db.with_name(f".{db.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(template, tmp)
        with contextlib.closing(sqlite3.connect(tmp)) as con:  # the Default experiment's folder
            con.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                        (str((db.parent / "mlartifacts" / "0").resolve()),))
            con.commit()
        os.link(tmp, db)  # never replaces a store another process just created
    finally:
        tmp.unlink(missing_ok=True)


def _save_template(db: Path) -> None:
    import shutil
    import sqlite3

    template = _template()
    if template.exists():
        return
    with contextlib.closing(sqlite3.connect(db)) as con:
        if con.execute("SELECT COUNT(*) FROM experiments").fetchone()[0] != 1:
            return  # only a store holding nothing but MLflow's Default experiment
    template.parent.mkdir(parents=True, exist_ok=True)
    tmp = template.with_name(f".{template.name}.{os.getpid()}.tmp")
    shutil.copyfile(db, tmp)
    os.replace(tmp, template)


def experiment_id(mlflow_client: Any, name: str, uri: str) -> str:
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            mlflow_client.restore_experiment(found.experiment_id)
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):  # artifacts beside the embedded database
        location = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts" / name).resolve().as_uri()
    return mlflow_client.create_experiment(name, artifact_location=location)


# --------------------------------------------------------------------------------------
# What to log
# --------------------------------------------------------------------------------------


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"params": {"a__b": 1}}}`` -> ``{"model.params.a__b": 1}``.

    Lists become JSON text; ``__`` pipeline names stay as they are (they are one key).
    """
    out: dict[str, Any] = {}
    if isinstance(tree, dict):
        if not tree and prefix:
            out[prefix] = "{}"
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(tree, (list, tuple)):
        out[prefix] = json.dumps(list(tree), default=str)
    else:
        out[prefix] = tree
    return out


def _param_value(value: Any) -> str:
    text = "None" if value is None else str(value)
    return text if len(text) <= MAX_PARAM_VALUE else text[: MAX_PARAM_VALUE - 3] + "..."


def model_params(model: Any) -> dict[str, Any]:
    """The fitted model's own parameters (``get_params(deep=True)``: every ``a__b`` of a
    Pipeline), scalars only, under ``estimator.``."""
    get_params = getattr(model, "get_params", None)
    if get_params is None:
        return {}
    try:
        params = get_params(deep=True)
    except Exception:
        return {}
    return {f"estimator.{k}": v for k, v in params.items()
            if v is None or isinstance(v, (str, int, float, bool))}


def run_params(config: dict[str, Any], model: Any = None) -> dict[str, str]:
    params = {k: _param_value(v) for k, v in flatten(config).items()}
    params.update({k: _param_value(v) for k, v in model_params(model).items()})
    return params


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def run_metrics(run: Any) -> list[tuple[str, float, int]]:
    """``(key, value, step)``: the run's metrics, timings, size and per-fold metrics."""
    out = [(k, float(v), 0) for k, v in run.metrics.items() if _finite(v)]
    meta = run.meta
    for key in ("fit_seconds", "total_seconds", "model_size_bytes"):
        if _finite(meta.get(key)):
            out.append((key, float(meta[key]), 0))
    if _finite((meta.get("data") or {}).get("rows")):
        out.append(("data_rows", float(meta["data"]["rows"]), 0))
    for fold, scores in enumerate(meta.get("fold_metrics") or []):
        out.extend((f"fold.{k}", float(v), fold) for k, v in scores.items() if _finite(v))
    for fold, seconds in enumerate(meta.get("cv_fit_seconds") or []):
        if _finite(seconds):
            out.append(("fold.fit_seconds", float(seconds), fold))
    return out


def manifest_digest(run_dir: Path) -> str | None:
    from kampai.plugin import MANIFEST, file_sha256

    file = Path(run_dir) / MANIFEST
    return file_sha256(file) if file.exists() else None


def run_tags(run: Any) -> dict[str, str]:
    meta, config = run.meta, run.config
    data = meta.get("data") or {}
    tags = {
        "mlflow.runName": run.run_id,
        "mlflow.source.name": "runner train",
        "mlflow.source.type": "LOCAL",
        TAG_KIND: "run",
        TAG_RUN_ID: run.run_id,
        "kampai.run_dir": str(Path(run.run_dir).resolve()),
        "kampai.task": meta.get("task"),
        "kampai.framework": meta.get("framework"),
        "kampai.estimator": meta.get("estimator"),
        "kampai.split": meta.get("split"),
        "kampai.protocol": protocol_label(meta),
        "kampai.created": meta.get("created"),
        "kampai.data.source": data.get("source"),
        "kampai.data.fingerprint": data.get("fingerprint"),
        "kampai.data.rows": data.get("rows"),
        "kampai.serializer": (config.get("output") or {}).get("serializer") or meta.get("framework"),
        TAG_MANIFEST: manifest_digest(run.run_dir),
    }
    for package, version in (meta.get("versions") or {}).items():
        tags[f"kampai.version.{package}"] = version
    git = meta.get("git") or {}
    if git.get("commit"):
        tags["mlflow.source.git.commit"] = git["commit"]
        tags["kampai.git.commit"] = git["commit"]
        tags["kampai.git.dirty"] = str(bool(git.get("dirty"))).lower()
    return {k: str(v) for k, v in tags.items() if v is not None}


def safe_key(key: str) -> str:
    """MLflow keys allow letters, digits, ``_ - . / space``, at most 250 characters."""
    return re.sub(r"[^\w\-. /]", "_", str(key))[:250]


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


# --------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------


def log_run(run: Any, uri: str, experiment: str, model: Any = None,
            extra_tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Log one finished kampai run; return (and record in the folder) where it went."""
    mlflow_client = client(uri)
    exp_id = experiment_id(mlflow_client, experiment, uri)
    _drop_unfinished(mlflow_client, exp_id, run.run_id)
    created = mlflow_client.create_run(exp_id, run_name=run.run_id, tags={**run_tags(run), **(extra_tags or {})})
    mlflow_run_id = created.info.run_id
    try:
        log_batch(mlflow_client, mlflow_run_id, params=run_params(run.config, model),
                  metrics=run_metrics(run))
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_record(run_dir: Path) -> dict[str, Any]:
    """``tracking.json``: ``{"mlflow": {uri: {...}}}``; empty when the run was never pushed."""
    file = Path(run_dir) / RECORD
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError):
        return {}


def write_record(run_dir: Path, record: dict[str, Any]) -> None:
    data = read_record(run_dir)
    data.setdefault("mlflow", {})[record["uri"]] = record
    (Path(run_dir) / RECORD).write_text(json.dumps(data, indent=2) + "\n")


def record_for(run_dir: Path, uri: str) -> dict[str, Any] | None:
    return (read_record(run_dir).get("mlflow") or {}).get(uri)


#: the fields of a pending record its signature covers (the error and time are only shown)
SIGNED_FIELDS = ("tracker", "kind", "uri", "experiment", "folder")


def _pending_payload(record: dict[str, Any]) -> bytes:
    signed = {key: record.get(key) for key in SIGNED_FIELDS}
    return b"kampai-tracking-pending:" + json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


def mark_pending(folder: Path, uri: str, experiment: str, error: BaseException, kind: str = "run") -> None:
    """Write the folder's ``tracking-pending.json``: where ``runner runs sync`` pushes it,
    signed with this machine's key (a record planted by whoever can write the folder, but
    not read the key, is ignored: it cannot send a run to a server of its choosing)."""
    from kampai.plugin import sign_bytes, write_text_atomic

    payload = {"tracker": "mlflow", "kind": kind, "uri": uri, "experiment": experiment,
               "folder": Path(folder).resolve().name, "error": f"{type(error).__name__}: {error}",
               "when": _now()}
    payload["signature"] = sign_bytes(_pending_payload(payload))
    write_text_atomic(Path(folder) / PENDING, json.dumps(payload, indent=2) + "\n", "pending record")


def trusted_pending(folder: Path, record: Any) -> bool:
    """Whether ``record`` (a folder's pending record) was written by kampai with this key for
    this very folder (a record copied from another folder does not count)."""
    from kampai.plugin import sign_bytes, valid_signature

    if not isinstance(record, dict) or not isinstance(record.get("signature"), str):
        return False
    if record.get("folder") != Path(folder).resolve().name:
        return False
    return valid_signature(record["signature"], sign_bytes(_pending_payload(record)))


def read_pending(folder: Path) -> dict[str, Any] | None:
    """The folder's pending record when kampai wrote it with this key, else None (with a
    warning line when a record is there but cannot be trusted)."""
    try:
        record = json.loads((Path(folder) / PENDING).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        record = None
    if trusted_pending(folder, record):
        return record
    warn(f"{Path(folder) / PENDING} is not signed with this machine's key (planted, copied from another "
         "folder, or written by an older kampai): ignored. To push that run anyway: "
         "runner runs sync --tracking-uri URI (the URI you choose).")
    return None


def pending(runs_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Run folders under ``runs_dir`` (and study folders under ``studies/``, the tuner's
    default output folder) holding a pending-push marker (trusted or not: see
    :func:`read_pending`)."""
    markers = []
    for root in (Path(runs_dir), Path(STUDIES_DIR)):
        if root.is_dir():
            markers += sorted(root.glob(f"*/{PENDING}"))
    out = []
    for marker in markers:
        if marker.parent.name.startswith("."):
            continue
        try:
            out.append((marker.parent, json.loads(marker.read_text())))
        except (OSError, ValueError):
            continue
    return out


def warn(message: str) -> None:
    from kampai.plugin import warn as print_warning

    print_warning(message)


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
        queue_push(run.run_dir, uri, experiment)
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


def background(cfg: dict[str, Any]) -> bool:
    """``tracking.background`` (default true), unless ``KAMPAI_TRACK_FOREGROUND`` is set."""
    if os.environ.get("KAMPAI_TRACK_FOREGROUND", "").strip() not in ("", "0", "false"):
        return False
    value = (cfg.get("tracking") or {}).get("background")
    return True if value is None else bool(value)


def queue_push(folder: Path, uri: str, experiment: str, kind: str = "run") -> None:
    """Keep the finished run (or study) folder pending and hand it to a detached process
    that pushes it, so the user does not wait for MLflow.  If that process fails, the
    folder stays pending and ``runner runs sync`` pushes it; ``runner runs sync --wait``
    waits for it."""
    import subprocess
    import sys

    mark_pending(folder, uri, experiment, RuntimeError("queued for the background push"), kind=kind)
    log = Path(".kampai") / "mlflow-push.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            subprocess.Popen([sys.executable, "-m", "kampai.plugins.mlflow.push", str(Path(folder).resolve())],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    except OSError as exc:
        warn(f"the background push could not start ({exc}); run 'runner runs sync' to push {folder}.")


@contextlib.contextmanager
def push_lock(folder: Path, wait: bool = True) -> Any:
    """One pusher per run folder at a time (the background one, ``runner runs sync``);
    yields False when ``wait`` is off and another holds it."""
    import fcntl

    fd = os.open(Path(folder) / (PENDING + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def push_one(folder: Path, marker: dict[str, Any], override_uri: str | None = None) -> None:
    """Push one pending run or study folder and clear its marker (raises on failure)."""
    from kampai.plugin import open_run

    uri = override_uri or marker.get("uri") or tracking_uri()
    experiment = marker.get("experiment") or DEFAULT_EXPERIMENT
    if marker.get("kind") == "study":
        log_study_folder(folder, uri, experiment)
    else:
        run = open_run(folder)
        if not marker.get("experiment"):  # an untrusted record: the run's own (signed) config says
            experiment = experiment_name(run.config)
        try:
            model = run.model
        except Exception:
            model = None
        log_run(run, uri, experiment, model=model)
    (folder / PENDING).unlink(missing_ok=True)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def sync(runs_dir: Path, override_uri: str | None = None, wait: bool = True) -> list[str]:
    """Push every pending run folder; returns the ids pushed; raises when none could be.
    A folder a background push holds is waited for (``wait``) or skipped."""
    pushed, failures = [], []
    for folder, _ in pending(runs_dir):
        with push_lock(folder, wait=wait) as held:
            marker_file = folder / PENDING
            if not held or not marker_file.exists():  # being pushed, or the push just finished
                continue
            marker = read_pending(folder)
            if marker is None:
                if not override_uri:
                    continue  # never a URI (or anything else) from an unsigned record
                # the user named the URI: the kind is the folder's, the experiment the run's
                marker = {"kind": "run" if (folder / "meta.json").is_file() else "study"}
            try:
                push_one(folder, marker, override_uri)
            except Exception as exc:
                failures.append(f"{folder.name}: {_short(exc)}")
                continue
        pushed.append(folder.name)
    if failures and not pushed:
        raise KampaiError("Nothing could be pushed: " + "; ".join(failures))
    for failure in failures:
        warn(f"not pushed: {failure}")
    return pushed


# --------------------------------------------------------------------------------------
# Tuning studies: one parent run per study, trials as child runs only when asked
# --------------------------------------------------------------------------------------


class StudyTracker:
    """Kept in ``ctx.state["mlflow_study"]`` between the tune hooks of one study."""

    def __init__(self, ctx: Any) -> None:
        cfg = ctx.config
        self.uri, self.experiment = tracking_uri(cfg), experiment_name(cfg)
        self.children = bool((cfg.get("tracking") or {}).get("trials"))
        # the study's folder is pushed after the study by a detached process (as a run is),
        # unless trials are logged as they finish or a refit run must link to the study's
        # MLflow run: those need the run now, in the foreground
        self.deferred = (background(cfg) and not self.children
                         and not (cfg.get("tune") or {}).get("refit"))
        self.client: Any = None
        self.run_id: str | None = None
        self.error: BaseException | None = None
        self.rows: list[dict[str, Any]] = []

    def start(self, ctx: Any, study: Any) -> None:
        if self.deferred:
            return  # nothing to open: MLflow is not even imported during the study
        try:
            self.client = client(self.uri)
            exp_id = experiment_id(self.client, self.experiment, self.uri)
            tags = {"mlflow.runName": f"study-{ctx.run_id}", "mlflow.source.name": "runner tune",
                    TAG_KIND: "study", "kampai.study": str(ctx.run_id),
                    "kampai.study_dir": str(Path(ctx.run_dir).resolve()),
                    "kampai.metric": str(ctx.state.get("metric")),
                    "kampai.direction": str(ctx.state.get("direction")),
                    "kampai.storage": str(ctx.state.get("storage"))}
            created = self.client.create_run(exp_id, run_name=f"study-{ctx.run_id}", tags=tags)
            self.run_id = created.info.run_id
            log_batch(self.client, self.run_id, params=run_params(ctx.config))
        except Exception as exc:
            self._fail(ctx, exc)

    def _fail(self, ctx: Any, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
            warn(f"study {ctx.run_id} is not tracked ({_short(exc)}); its folder keeps everything, "
                 "'runner runs sync' pushes it later.")
        self.run_id = None

    def trial(self, ctx: Any, trial: Any, metrics: dict[str, float]) -> None:
        row = trial_row(trial, metrics)
        self.rows.append(row)
        if not (self.run_id and self.children):
            return
        try:
            tags = {"mlflow.parentRunId": self.run_id, "mlflow.runName": f"trial-{trial.number}",
                    TAG_KIND: "trial", "kampai.study": str(ctx.run_id), "kampai.trial": str(trial.number),
                    "kampai.trial_state": row["state"]}
            child = self.client.create_run(self.client.get_run(self.run_id).info.experiment_id,
                                           run_name=f"trial-{trial.number}", tags=tags)
            scores = [(k, float(v), 0) for k, v in metrics.items() if _finite(v)]
            if _finite(row.get("fit_seconds")):
                scores.append(("fit_seconds", float(row["fit_seconds"]), 0))
            log_batch(self.client, child.info.run_id,
                      params={k: _param_value(v) for k, v in (trial.params or {}).items()}, metrics=scores)
            self.client.set_terminated(child.info.run_id, "FINISHED" if row["state"] == "COMPLETE" else "FAILED")
        except Exception as exc:
            self._fail(ctx, exc)

    def finish(self, ctx: Any, study: Any, best: Any, status: str = "FINISHED") -> None:
        if self.deferred:
            # the tuner has written the trial log, best.json and the plots by now
            queue_push(Path(ctx.run_dir), self.uri, self.experiment, kind="study")
            return
        if status == "FINISHED" and (ctx.config.get("tune") or {}).get("refit"):
            ctx.state[LINK_KEY] = {"name": str(ctx.run_id), "run_id": self.run_id, "uri": self.uri,
                                   "dir": str(ctx.run_dir)}
        if self.run_id is None:
            if self.error is not None:
                mark_pending(ctx.run_dir, self.uri, self.experiment, self.error, kind="study")
            return
        try:
            log_study(self.client, self.run_id, ctx.run_dir, study, best, self.rows,
                      metric=ctx.state.get("metric"))
            self.client.set_terminated(self.run_id, status)
            write_record(ctx.run_dir, {"uri": self.uri, "experiment": self.experiment,
                                       "run_id": self.run_id, "logged": _now()})
        except Exception as exc:
            _terminate(self.client, self.run_id, "FAILED")
            self._fail(ctx, exc)
            mark_pending(ctx.run_dir, self.uri, self.experiment, exc, kind="study")


def trial_row(trial: Any, metrics: dict[str, float] | None = None) -> dict[str, Any]:
    state = getattr(trial.state, "name", str(trial.state))
    duration = getattr(trial, "duration", None)
    attrs = getattr(trial, "user_attrs", {}) or {}
    row: dict[str, Any] = {"number": trial.number, "state": state, "value": trial.value,
                           "duration_seconds": duration.total_seconds() if duration else None,
                           "fit_seconds": attrs.get("fit_seconds")}
    row["duplicate_of"] = attrs.get("duplicate_of")  # a reused point: no fit, not a trial of the budget
    row.update({f"params_{k}": v for k, v in (trial.params or {}).items()})
    row.update({f"metric_{k}": v for k, v in (metrics or attrs.get("metrics") or {}).items()})
    return row


def study_table(study: Any, rows: list[dict[str, Any]]) -> Any:
    """Every trial of the study (also those of earlier, resumed invocations)."""
    import pandas as pd

    if study is not None:
        try:
            return pd.DataFrame([trial_row(t) for t in study.trials])
        except Exception:
            pass
    return pd.DataFrame(rows)


def log_study(mlflow_client: Any, run_id: str, study_dir: Path, study: Any, best: Any,
              rows: list[dict[str, Any]], metric: str | None) -> None:
    import tempfile

    table = study_table(study, rows)
    if "duplicate_of" in table:
        reused = int(table["duplicate_of"].notna().sum())
        table = table[table["duplicate_of"].isna()]
    else:
        reused = 0
    states = table["state"].value_counts().to_dict() if "state" in table else {}
    metrics = [("n_trials", float(len(table)), 0), ("n_trials_reused", float(reused), 0)]
    metrics += [(f"n_trials_{str(k).lower()}", float(v), 0) for k, v in states.items()]
    params: dict[str, str] = {}
    if best is not None:
        if _finite(best.value):
            metrics.append(("best_value", float(best.value), 0))
            if metric:
                metrics.append((f"best_{metric}", float(best.value), 0))
        for k, v in ((best.user_attrs or {}).get("metrics") or {}).items():
            if _finite(v):
                metrics.append((f"best.{k}", float(v), 0))
        params = {f"best.{k}": _param_value(v) for k, v in (best.params or {}).items()}
        params["best.trial"] = str(best.number)
    log_batch(mlflow_client, run_id, params=params, metrics=metrics)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trials.csv"
        table.to_csv(path, index=False)
        mlflow_client.log_artifact(run_id, str(path), "study")
    if Path(study_dir).is_dir():
        log_folder(mlflow_client, run_id, Path(study_dir), "study")


def _trial_counts(trials_csv: Path) -> list[tuple[str, float, int]]:
    """``n_trials`` and ``n_trials_<state>`` from the tuner's trial log (none if absent)."""
    import csv

    try:
        with open(trials_csv, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError:
        return []
    fitted = [row for row in rows if not row.get("duplicate_of")]  # a reused point is no trial run
    states = [row.get("state") or "" for row in fitted]
    counts = [("n_trials", float(len(states)), 0), ("n_trials_reused", float(len(rows) - len(fitted)), 0)]
    for state in sorted(set(states)):
        counts.append((f"n_trials_{state.lower()}", float(states.count(state)), 0))
    return counts


def log_study_folder(folder: Path, uri: str, experiment: str) -> None:
    """One parent run for a study, from its folder: the background push after ``runner
    tune``, and ``runs sync`` for a study whose tracking failed."""
    best_file = folder / "best.json"  # the tuner's summary, when it got that far
    best = json.loads(best_file.read_text()) if best_file.is_file() else {}
    mlflow_client = client(uri)
    exp_id = experiment_id(mlflow_client, experiment, uri)
    tags = {TAG_KIND: "study", "kampai.study": folder.name, "kampai.study_dir": str(folder.resolve()),
            "mlflow.source.name": "runner tune"}
    tags.update({f"kampai.{key}": str(best[key]) for key in ("metric", "direction") if best.get(key)})
    created = mlflow_client.create_run(exp_id, run_name=f"study-{folder.name}", tags=tags)
    try:
        metrics, params = _trial_counts(folder / "trials.csv"), {}
        if best:
            if _finite(best.get("value")):
                metrics.append(("best_value", float(best["value"]), 0))
                if best.get("metric"):
                    metrics.append((f"best_{best['metric']}", float(best["value"]), 0))
            params = {f"best.{k}": _param_value(v) for k, v in (best.get("params") or {}).items()}
            if best.get("number") is not None:
                params["best.trial"] = str(best["number"])
        if metrics or params:
            log_batch(mlflow_client, created.info.run_id, params=params, metrics=metrics)
        log_folder(mlflow_client, created.info.run_id, folder, "study")
    except BaseException:
        _terminate(mlflow_client, created.info.run_id, "FAILED")
        raise
    mlflow_client.set_terminated(created.info.run_id, "FINISHED")
    write_record(folder, {"uri": uri, "experiment": experiment, "run_id": created.info.run_id,
                          "logged": _now()})
