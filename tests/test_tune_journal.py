"""Local studies live in an Optuna journal file: the default storage, shared by ``--jobs``
workers with exact totals, an existing SQLite default kept, a dead worker's trial failed
and run again, and the incremental trial ledger agreeing with a full count."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tune_helpers import GRID

optuna = pytest.importorskip("optuna")  # the tune extra



def _runner(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KAMPAI_BLOCK_PLUGINS": "mlflow"}
    return subprocess.run([sys.executable, "-m", "kampai", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def _load(url: str, name: str) -> optuna.Study:
    from kampai.core.tuning.storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(url))


def test_default_storage_is_a_journal_and_two_workers_cover_the_grid_once(tmp_path: Path) -> None:
    (tmp_path / "grid.yaml").write_text(GRID)
    done = _runner(tmp_path, "tune", "-c", "grid.yaml", "--jobs", "2", "-q", "--json")
    assert done.returncode == 0, done.stderr
    journal = tmp_path / ".kampai" / "optuna.journal"
    assert journal.is_file() and not (tmp_path / ".kampai" / "optuna.db").exists()
    from kampai.core.tuning.storage import resolve_url

    url = resolve_url(None, tmp_path)
    assert url == f"journal:///{journal.resolve()}"
    trials = _load(url, "grid").get_trials(deepcopy=False)
    points = [(t.params["max_depth"], t.params["criterion"]) for t in trials if t.state.name == "COMPLETE"]
    assert len(trials) == 8 and sorted(points) == sorted({(d, c) for d in range(1, 5) for c in ("gini", "entropy")})
    assert json.loads(done.stdout)["ran"] == 8
    # a second run has nothing left; train --from-study finds the study in the default journal
    again = _runner(tmp_path, "tune", "-c", "grid.yaml", "-q", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["ran"] == 0, again.stderr
    trained = _runner(tmp_path, "train", "--from-study", "grid", "-q", "--json")
    assert trained.returncode == 0, trained.stderr


def test_an_existing_sqlite_default_is_kept_and_paths_pick_their_store(tmp_path: Path) -> None:
    from kampai.core.tuning.storage import resolve_url

    assert resolve_url(None, tmp_path).startswith("journal:///")
    (tmp_path / ".kampai" / "optuna.db").write_bytes(b"SQLite format 3\x00")  # the earlier default
    assert resolve_url(None, tmp_path) == f"sqlite:///{(tmp_path / '.kampai' / 'optuna.db').resolve()}"
    assert resolve_url("studies/x.journal", tmp_path) == f"journal:///{(tmp_path / 'studies/x.journal').resolve()}"
    assert resolve_url("studies/x.db", tmp_path).startswith("sqlite:///")


def test_a_dead_workers_trial_is_failed_and_the_total_stays_exact(tmp_path: Path) -> None:
    """A RUNNING trial left by a process of this machine that is gone does not count: the
    next claim fails it and the study still ends with exactly its total."""
    import kampai
    from kampai.core.tuning.storage import open_storage, resolve_url

    url = resolve_url("s.journal", tmp_path)
    kwargs = dict(data="sklearn:iris", task="classification", target="target", model="DecisionTreeClassifier",
                  search={"max_depth": {"type": "int", "low": 1, "high": 30}}, sampler="random",
                  split={"method": "stratified", "test_size": 0.3}, metrics=["accuracy"],
                  overrides=["tune.plots=false", f"tune.output_dir={tmp_path}/studies"],
                  storage=url, study="dead", verbose=False)
    kampai.tune(**kwargs, trials=2)
    storage = open_storage(url)
    study = optuna.load_study(study_name="dead", storage=storage)
    orphan = study.ask()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    orphan.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
    result = kampai.tune(**kwargs, trials=4)
    states = [t.state.name for t in _load(url, "dead").get_trials(deepcopy=False)]
    assert states.count("COMPLETE") == 4 and "RUNNING" not in states, states
    assert result.ran == 2
    assert _load(url, "dead").trials[orphan.number].user_attrs["interrupted"] == "worker process died"


def test_the_ledger_counts_like_a_full_scan(tmp_path: Path) -> None:
    """Finished trials are counted once; the counts match the full-scan rules, also when a
    trial finishes after one that is still running."""
    from optuna.trial import TrialState

    from kampai.core.tuning.trials import Ledger, counts_as_done, finished_points, is_duplicate

    study = optuna.create_study()
    ledger = Ledger()
    running = None
    for i in range(12):
        trial = study.ask({"x": optuna.distributions.IntDistribution(0, 3)})
        if i == 3:
            running = trial  # stays open while later trials finish
            continue
        if i % 5 == 4:
            trial.set_user_attr("duplicate_of", 0)
        if i % 4 == 2:
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, float(i))
        ledger.update(study.get_trials(deepcopy=False))
    assert running is not None
    study.tell(running, 1.0)
    trials = study.get_trials(deepcopy=False)
    pending = ledger.update(trials)
    assert pending == []
    assert ledger.done == sum(counts_as_done(t) for t in trials)
    assert ledger.duplicates == sum(is_duplicate(t) for t in trials)
    assert set(ledger.finished) == set(finished_points(trials))
