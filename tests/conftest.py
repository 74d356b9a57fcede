"""Shared fixtures: every test runs in its own folder with its own kampai cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The tests train tiny models, where a thread pool only adds synchronisation; on a busy machine
# OpenMP threads spin waiting for a preempted peer (GAT on the 34-node karate graph: 80 s with
# 2 torch threads on a loaded 2-core box, 1.6 s with 1).  Set before anything imports torch,
# numpy or scipy; subprocesses (runner, serve, dvc) inherit it.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    # one estimator-index cache for the whole session, never the user's ~/.cache
    os.environ.setdefault("KAMPAI_CACHE_DIR", str(tmp_path_factory.mktemp("kampai-cache")))
    # one signing key for the session (never the user's ~/.config/kampai/secret.key)
    os.environ.setdefault("KAMPAI_KEY_FILE", str(tmp_path_factory.mktemp("kampai-key") / "secret.key"))
    # the config's environment layer (KAMPAI_<SECTION>__<KEY>, docs/config.md): trackers (the
    # mlflow plugin) log nothing unless a test asks (tests/test_tracking*.py and
    # test_registry*.py unset it) ...
    os.environ.setdefault("KAMPAI_TRACKING__ENABLED", "false")
    # ... and when they do, in the foreground, so a test reads the MLflow record at once
    # (tests/test_tracking.py::test_the_push_runs_in_the_background covers the default)
    os.environ.setdefault("KAMPAI_TRACKING__BACKGROUND", "false")
    # no report.html per run either (the insight plugin), unless a test asks: tests/test_insight.py
    os.environ.setdefault("KAMPAI_REPORT__AFTER_TRAIN", "off")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def _fresh_plugins() -> None:
    """Each test sees freshly loaded plugins and registries (env vars may differ)."""
    from kampai.core import host as plugins

    plugins.block(set())  # a test's `runner -p no:NAME` (helpers.invoke) blocks nothing for the next
    yield
    plugins.block(set())


def runner(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
           ) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (``python -m kampai``)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "kampai", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=600)


@pytest.fixture
def cli():
    return runner
