"""Tuning with several processes: a killed study resumes, grid mode with --jobs 2 covers
the grid exactly once, and several `runner tune` workers share one PostgreSQL study
(set KAMPAI_TEST_PG_URL, as .ci/run does with .ci/postgres.sh; skipped otherwise)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tune_helpers import GRID

optuna = pytest.importorskip("optuna")  # the tune extra

HERE = Path(__file__).resolve().parent
SLOW = """
name: slow
task: classification
data: {path: "sklearn:iris"}
split: {method: stratified_kfold, folds: 2}
model:
  estimator: DecisionTreeClassifier
  preprocess:
    num: {steps: {slow: {class: "tune_helpers:SlowIdentity", seconds: 0.4}}}
  search:
    max_depth: {type: int, low: 1, high: 8}
    min_samples_leaf: {type: int, low: 1, high: 10}
tune: {cache: false, plots: false}
"""


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "KAMPAI_BLOCK_PLUGINS": "mlflow"}


def _runner(*args: str) -> list[str]:
    return [sys.executable, "-m", "kampai", *args]


def _study(name: str, url: str) -> optuna.Study:
    from kampai.core.tuning.storage import open_storage, resolve_url

    return optuna.load_study(study_name=name, storage=open_storage(resolve_url(url)))


def _complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]


def test_killed_study_resumes_to_its_total(tmp_path: Path) -> None:
    (tmp_path / "slow.yaml").write_text(SLOW)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    cmd = _runner("tune", "-c", "slow.yaml", "--trials", "6", "--storage", url, "-q")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    done: list = []
    while time.time() < deadline:
        time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()
        try:
            done = _complete(_study("slow", url))
        except (KeyError, Exception):
            continue
        if len(done) >= 2:
            break
    os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up
    proc.wait()
    before = {t.number: (t.params, t.value) for t in _complete(_study("slow", url))}
    assert 2 <= len(before) < 6
    again = subprocess.run([*cmd, "--json"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    study = _study("slow", url)
    after = {t.number: (t.params, t.value) for t in _complete(study)}
    assert len(after) == 6  # the requested total, not 6 more
    assert all(after[n] == before[n] for n in before)  # completed trials were kept
    assert json.loads(again.stdout)["ran"] == 6 - len(before)
    # the trial that was running when the process died: failed, marked, run again later
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    assert "RUNNING" not in states
    for t in study.get_trials(deepcopy=False):
        if t.state.name == "FAIL":
            assert "interrupted" in t.user_attrs and "error" not in t.user_attrs


BUSY = """
name: busy
task: classification
data: {path: "sklearn:iris"}
split: {method: stratified}
model:
  estimator: LogisticRegression
  preprocess:
    num: {steps: {busy: {class: "tune_helpers:BusyIdentity", seconds: 4}}}
  search:
    C: {type: float, low: 0.001, high: 100, log: true}
tune: {cache: false, plots: false}
"""


def _gone(pids: list[int]) -> list[int]:
    """The pids of ``pids`` still running (a zombie waiting for init to reap it is gone)."""
    import psutil

    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.slow
def test_sigkill_of_the_main_process_ends_its_workers_and_the_total_stays_exact(tmp_path: Path) -> None:
    """SIGKILL of `runner tune --jobs 2` while both workers sit in a long C call (which no
    SIGTERM handler interrupts): every worker is gone within 2 s, and the resumed study
    ends with exactly --trials COMPLETE trials (a continuous space: no reused points)."""
    import psutil

    (tmp_path / "busy.yaml").write_text(BUSY)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    cmd = _runner("tune", "-c", "busy.yaml", "--trials", "5", "--jobs", "2", "--storage", url, "-q")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env={**_env(), "KAMPAI_TEST_BUSY": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(0.2)
            assert proc.poll() is None, proc.communicate()
            try:
                if _complete(_study("busy", url)):
                    break
            except Exception:  # the study may not exist yet
                continue
        workers = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        assert len(workers) >= 2, workers
        os.kill(proc.pid, signal.SIGKILL)  # the main process only: its workers get no signal from us
        proc.wait()
        killed = time.time()
        while _gone(workers) and time.time() < killed + 2:
            time.sleep(0.05)
        assert _gone(workers) == [], f"workers still running {time.time() - killed:.1f} s after the kill"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    before = len(_complete(_study("busy", url)))
    assert 1 <= before < 5
    again = subprocess.run([*cmd, "--json"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    study = _study("busy", url)
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    assert states.count("COMPLETE") == 5, states
    assert "RUNNING" not in states
    assert json.loads(again.stdout)["ran"] == 5 - before


def test_ctrl_c_stops_cleanly_and_keeps_finished_trials(tmp_path: Path) -> None:
    (tmp_path / "slow.yaml").write_text(SLOW)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    # far more trials than can finish before the signal: the study must stop because of it
    cmd = _runner("tune", "-c", "slow.yaml", "--trials", "500", "--storage", url, "-q", "--json")
    # A shell that runs a job in the background (CI scripts, nohup) starts it with SIGINT
    # ignored, and Python then keeps ignoring it: restore the terminal's default, as Ctrl-C
    # in a terminal would find it.
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    seen, last_error = 0, None
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.3)
        try:
            seen = len(_complete(_study("slow", url)))
        except Exception as exc:  # the study may not exist yet
            last_error = exc
            continue
        if seen >= 1:
            break
    assert seen >= 1 and proc.poll() is None, (seen, last_error, proc.poll())
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert json.loads(out)["interrupted"] is True
    study = _study("slow", url)
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    assert "RUNNING" not in states and states.count("COMPLETE") >= 1
    assert (tmp_path / "studies" / "slow" / "trials.csv").exists()  # the log is written on the way out


def test_grid_with_two_jobs_covers_the_grid_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kampai

    monkeypatch.setenv("KAMPAI_BLOCK_PLUGINS", "mlflow")
    (tmp_path / "grid.yaml").write_text(GRID)
    result = kampai.tune(tmp_path / "grid.yaml", jobs=2, verbose=False)
    trials = result.study.get_trials(deepcopy=False)
    combos = [json.dumps(t.params, sort_keys=True) for t in trials]
    assert len(trials) == 8 == len(set(combos))
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert sorted(t.user_attrs["grid_index"] for t in trials) == list(range(8))
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # two processes shared the work
    assert result.ran == 8
    # running it again finds the grid done
    assert kampai.tune(tmp_path / "grid.yaml", jobs=1, verbose=False).ran == 0


PG_URL = os.environ.get("KAMPAI_TEST_PG_URL")


@pytest.mark.skipif(not PG_URL, reason="KAMPAI_TEST_PG_URL is not set (see .ci/postgres.sh)")
@pytest.mark.parametrize("sampler", ["random", "grid"])
def test_workers_share_a_postgresql_study(tmp_path: Path, sampler: str) -> None:
    (tmp_path / "grid.yaml").write_text(GRID)
    name = f"pg-{sampler}-{uuid.uuid4().hex[:8]}"
    trials = "9" if sampler == "random" else "100"
    cmd = _runner("tune", "-c", "grid.yaml", "--sampler", sampler, "--trials", trials,
                  "--storage", PG_URL, "--study", name, "-q", "--json")
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    ran = [json.loads(out)["ran"] for out, _ in outs]
    study = _study(name, PG_URL)
    trials_ = study.get_trials(deepcopy=False)
    assert [t.number for t in trials_] == list(range(len(trials_)))  # each recorded once
    assert all(t.state.name == "COMPLETE" for t in trials_)
    fitted = [t for t in trials_ if t.user_attrs.get("duplicate_of") is None]  # reused points are extra
    assert sum(ran) == len(fitted)
    if sampler == "random":
        # 9 trials asked of a space of 8 points: every point is fitted exactly once (a point a
        # finished trial holds is reused, one another worker is fitting is waited for), then the
        # study stops
        distinct = {json.dumps(t.params, sort_keys=True) for t in fitted}
        assert len(fitted) == 8 == len(distinct)
    else:
        combos = {json.dumps(t.params, sort_keys=True) for t in trials_}
        assert len(trials_) == 8 == len(combos)
        assert sorted(t.user_attrs["grid_index"] for t in trials_) == list(range(8))


_OPEN = """
import sys
from kampai.core.tuning.storage import open_storage
storage = open_storage(sys.argv[1])
import optuna
optuna.create_study(study_name="race", storage=storage, load_if_exists=True)
"""


@pytest.mark.slow
def test_four_processes_opening_a_fresh_database_at_once(tmp_path: Path) -> None:
    """Schema creation is safe when N processes start together (4 processes, 10 rounds)."""
    import subprocess
    import sys

    for round_ in range(10):
        url = f"sqlite:///{tmp_path / f'fresh-{round_}.db'}"
        procs = [subprocess.Popen([sys.executable, "-c", _OPEN, url], stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], errors


@pytest.mark.slow
def test_four_runner_tunes_starting_together_on_a_fresh_database(cli) -> None:
    import subprocess
    import sys

    args = ["tune", "--task", "classification", "--data", "sklearn:iris", "--model", "LogisticRegression",
            "--trials", "4", "--study", "together", "--no-plots", "--quiet"]
    procs = [subprocess.Popen([sys.executable, "-m", "kampai", *args], stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
