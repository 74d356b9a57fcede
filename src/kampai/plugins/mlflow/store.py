"""Where to log: a config's tracking URI and experiment, whether tracking is on, and the
MLflow client (which creates the embedded sqlite store, seeded from a cached empty one).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kampai.plugin import KampaiError

DEFAULT_EXPERIMENT = "kampai"
STORE_DIR = ".kampai"
CONNECT_TIMEOUT = 3.0
log = logging.getLogger("kampai.mlflow")


class TrackingUnavailable(KampaiError):
    """The tracking store cannot be reached (the run is kept locally)."""


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
    """``tracking.enabled`` (``KAMPAI_TRACKING__ENABLED=false`` for a CI job or a test suite:
    the config's environment layer)."""
    from kampai.plugin import Config

    return bool(Config.of(cfg).section("tracking").enabled)  # declared, defaulted and checked by the loader


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
    from mlflow import MlflowClient

    if db is not None and not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        # one process creates the store, the others wait for it: two processes running MLflow's
        # migrations on one new file fail ("table ... already exists"); a notebook that trains,
        # tunes and registers at once has several background pushes doing exactly that
        with _creating(db):
            if not db.exists():
                with contextlib.suppress(Exception):
                    _seed_store(db)
            if not db.exists():
                with contextlib.suppress(Exception):
                    MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()  # migrations
                    _save_template(db)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def _creating(db: Path) -> Any:
    """An exclusive lock on ``.<db>.lock`` beside the store while it is created."""
    import fcntl

    with open(db.parent / f".{db.name}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# A new MLflow sqlite store runs ~50 schema migrations (4-14 s here); an empty one is kept
# in kampai's cache, per MLflow version, and copied for every new project.


def _template() -> Path:
    from importlib.metadata import version

    from kampai.plugin.io import cache_dir

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
