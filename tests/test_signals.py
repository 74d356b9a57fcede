"""Signals lose nothing: SIGTERM of `runner train` removes its half-written run; SIGTERM or
SIGKILL of `runner tune --jobs N` stops its workers (no process outlives its parent) and no
trial stays RUNNING; a dead process's temporary run folder is removed by the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SLOW_TRAIN = ["train", "--task", "classification", "--data", "sklearn:breast_cancer",
              "--model", "RandomForestClassifier", "model.params.n_estimators=3000", "split.method=kfold"]


def _fit_marker(folder: Path) -> str:
    """An override adding a preprocessing step that creates ``folder/<pid>`` as its fit starts
    (tests/tune_helpers.py:FitMarker): the slow forest is fitted right after it."""
    return f'model.preprocess={{num: {{steps: {{mark: {{class: "tune_helpers:FitMarker", folder: "{folder}"}}}}}}}}'


def _start(args: list[str], marker: str) -> subprocess.Popen[str]:
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "KAMPAI_TEST_MARK": marker, "PYTHONPATH": path}
    code = "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); from kampai.core.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _marked(marker: str) -> list[int]:
    """Pids of live processes whose environment carries ``marker`` (the command and its workers)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if f"KAMPAI_TEST_MARK={marker}".encode() in (proc / "environ").read_bytes():
                status = (proc / "status").read_text()
                if "\nState:\tZ" not in status:
                    pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _wait_for(predicate, timeout: float = 120.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def test_sigterm_during_train_leaves_nothing(tmp_path: Path) -> None:
    fits = tmp_path / "fits"
    proc = _start([*SLOW_TRAIN, _fit_marker(fits)], uuid.uuid4().hex)
    runs = Path("runs")
    _wait_for(lambda: (fits.exists() and any(fits.iterdir())) or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()[1]
    assert any(runs.glob(".tmp-*/")), "the run is written into a temporary folder while it trains"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert list(runs.iterdir()) == [], "a half-written run (or its pid file) was left behind"


def test_a_dead_writers_temporary_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    import kampai

    runs = Path("runs")
    runs.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import platform

    for name, pid in (("dead", dead.pid), ("alive", os.getpid())):
        (runs / f".tmp-{name}").mkdir()
        (runs / f".tmp-{name}.pid").write_text(f"{pid} {platform.node()}\n")
    kampai.train(task="classification", data="sklearn:iris", verbose=False)
    assert not (runs / ".tmp-dead").exists() and not (runs / ".tmp-dead.pid").exists()
    assert (runs / ".tmp-alive").exists()  # its writer still runs: never touched


def _slow_tune(study: str, fits: Path) -> list[str]:
    return ["tune", "--task", "classification", "--data", "sklearn:breast_cancer",
            "--model", "RandomForestClassifier", "--trials", "200", "--jobs", "2", "--study", study,
            "--no-plots", "split.method=kfold", "tune.cache=false", _fit_marker(fits),
            'model.search={n_estimators: {type: int, low: 400, high: 800}}']


def _running_trials(study: str) -> list[int]:
    import optuna

    from kampai.core.tuning.storage import open_storage, resolve_url

    loaded = optuna.load_study(study_name=study, storage=open_storage(resolve_url(None)))
    return [t.number for t in loaded.get_trials(deepcopy=False) if t.state.name == "RUNNING"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_killing_the_main_tune_process_stops_its_workers(tmp_path: Path, sig: int) -> None:
    pytest.importorskip("optuna")  # the tune extra
    marker = uuid.uuid4().hex
    study = f"sig-{sig}"
    fits = tmp_path / "fits"
    proc = _start(_slow_tune(study, fits), marker)

    def workers_fitting() -> bool:  # both workers are inside a trial's fit (tune.cache=false: each fits)
        fitting = {int(p.name) for p in fits.iterdir()} if fits.exists() else set()
        return len(fitting & set(_marked(marker)) - {proc.pid}) >= 2 or proc.poll() is not None

    _wait_for(workers_fitting)
    assert proc.poll() is None, proc.communicate()[1]
    proc.send_signal(sig)
    proc.communicate(timeout=90)
    if sig == signal.SIGTERM:
        assert proc.returncode == 143
        assert (Path("studies") / study / "trials.csv").exists(), "the trial log is written on the way out"
    _wait_for(lambda: not _marked(marker), timeout=30)  # no worker outlives its parent
    assert _running_trials(study) == []
