"""Helpers shared by the tracking and registry tests (real MLflow, in-process CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers import stop_session


def cli(*args: str) -> int:
    """The real ``runner`` entry point, in-process; returns the exit code."""
    from kampai.core import host as plugins
    from kampai.core.cli import main

    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        plugins._blocked_from_cli.clear()  # `-p no:NAME` lasts one command
    return 0


def store(path: Path) -> str:
    return "sqlite:///" + str((path / ".kampai" / "mlflow.db").resolve())


def client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def runs_of(uri: str, kind: str = "run") -> list:
    c = client(uri)
    ids = [e.experiment_id for e in c.search_experiments()]
    return c.search_runs(ids, filter_string=f"tags.`kampai.kind` = '{kind}'") if ids else []


@contextmanager
def mlflow_server(root: Path, port: int, timeout: float = 150.0) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1:port (sqlite backend, proxied artifacts),
    killed on exit.  Waits for /health at most ``timeout`` seconds."""
    import urllib.request

    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed below
    command = [str(Path(sys.executable).parent / "mlflow"), "server",
               "--backend-store-uri", "sqlite:///" + str((root / "server.db").resolve()),
               "--artifacts-destination", str((root / "server-artifacts").resolve()),
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited ({proc.returncode}): "
                                   + (root / "server.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"mlflow server did not answer within {timeout:.0f}s")
            time.sleep(0.5)
        yield url
    finally:
        stop_session(proc, 15)
        log.close()

