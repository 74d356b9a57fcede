"""Helpers for the foundation tests: the CLI in-process, small real CSVs, run folders."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __iter__(self):  # code, out, err = invoke(...)
        return iter((self.code, self.stdout, self.stderr))


def invoke(*args: str) -> Result:
    """Run ``runner ARGS`` in this process (fast: scikit-learn stays imported).

    Plugins are reset by conftest between tests; use the ``cli`` fixture (a subprocess)
    for anything that changes process-wide state, such as ``-p no:NAME`` or ``--debug``.
    """
    from kampai.core import cli as cli_mod

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli_mod.main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            cli_mod._debug = False
    return Result(code, out.getvalue(), err.getvalue())


def churn_frame(n: int = 160, seed: int = 0):
    """A raw customer table: numeric and categorical columns, missing values, a string
    target, a group column and a date column (real pandas, built here)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "income": rng.normal(50, 12, n).round(2),
        "city": rng.choice(["paris", "lyon", "nice"], n),
        "plan": rng.choice(["basic", "pro"], n),
        "customer": rng.integers(0, 16, n),
        "day": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
    })
    frame.loc[::7, "age"] = np.nan
    frame.loc[::9, "city"] = np.nan
    score = frame["income"] + np.where(frame["plan"] == "pro", 8, 0) + rng.normal(0, 4, n)
    frame["churn"] = np.where(score > 54, "yes", "no")
    return frame


def write_churn_csv(path: Path, n: int = 160, seed: int = 0) -> Path:
    churn_frame(n, seed).to_csv(path, index=False)
    return path


def run_dirs(runs_dir: Path) -> list[Path]:
    """Finished run folders (not .tmp-*)."""
    if not runs_dir.is_dir():
        return []
    return sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def leftovers(runs_dir: Path) -> list[Path]:
    """Anything left in ``runs_dir`` at all (run folders and .tmp-* folders)."""
    if not runs_dir.is_dir():
        return []
    return sorted(runs_dir.iterdir())


@pytest.fixture(autouse=True)
def no_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Foundation tests block the MLflow tracker (an observer plugin with its own tests):
    logging every run to a fresh sqlite store costs seconds per run."""
    monkeypatch.setenv("KAMPAI_BLOCK_PLUGINS", "mlflow")


def write_distribution(root: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """A real installed distribution on disk: ``<dist>.dist-info`` with METADATA and
    entry_points.txt, and its modules beside it (what pip would leave in site-packages)."""
    info = root / f"{dist.replace('-', '_')}-0.3.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text(
        "[kampai]\n" + "".join(f"{name} = {target}\n" for name, target in entry_points.items()))
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    return root


def stop_session(proc: subprocess.Popen, seconds: float = 20) -> None:
    """Stop a server started with ``start_new_session=True`` and everything it spawned
    (workers): SIGTERM to its process group, SIGKILL if it has not left in ``seconds``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(seconds)


def free_port() -> int:
    """A TCP port free on loopback right now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
