"""The project's warm MLflow pusher for real (issue 27, target 1): one process pushes a burst
of finished runs (MLflow imported once), picks up runs queued while it lingers, and exits
after ``tracking.linger``; a second pusher never runs beside it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from kampai.plugins.mlflow import push_queue
from kampai.plugins.mlflow.records import PENDING, RECORD
from mlflow_helpers import cli, client, runs_of, store


def _runs(tmp_path: Path, n: int) -> list[Path]:
    """``n`` finished run folders, not tracked yet (what a run leaves before its push)."""
    for _ in range(n):
        assert cli("train", "--task", "classification", "--data", "sklearn:iris", "--model", "GaussianNB",
                   "-q", "--no-track") == 0
    return sorted(p for p in (tmp_path / "runs").iterdir() if not p.name.startswith("."))


def _wait(condition, timeout: float = 180.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _pushers(log: Path) -> dict[str, list[str]]:
    """pid -> what it logged (``.kampai/mlflow-push.log``)."""
    out: dict[str, list[str]] = {}
    for line in log.read_text().splitlines():
        if " pusher " in line:
            pid, _, what = line.split(" pusher ", 1)[1].partition(": ")
            out.setdefault(pid, []).append(what)
    return out


@pytest.mark.slow
def test_one_pusher_pushes_a_burst_and_what_comes_while_it_lingers(tmp_path: Path) -> None:
    first, second, third, late = _runs(tmp_path, 4)
    uri = store(tmp_path)
    for folder in (first, second):  # queued while no pusher runs (as a run does before it starts one)
        push_queue.mark_pending(folder, uri, "burst", RuntimeError("queued"))
        push_queue.write_entry(folder, {"estimator.var_smoothing": "1e-09"})
    # a 20 s linger: the two checks below must fall inside it even on a loaded machine
    push_queue.queue_push(third, uri, "burst", linger_s=20, params={"estimator.var_smoothing": "1e-09"})
    assert _wait(lambda: (third / RECORD).exists()), (tmp_path / push_queue.LOG).read_text()
    assert push_queue.pusher_running()  # lingering
    push_queue.queue_push(late, uri, "burst", linger_s=20, params={})  # the lock is held: no second pusher
    assert _wait(lambda: not push_queue.pusher_running(), 120)  # it exits after its linger
    log = tmp_path / push_queue.LOG
    pushers = _pushers(log)
    assert len(pushers) == 1, log.read_text()
    (lines,) = pushers.values()
    assert sum(line.startswith("pushed ") for line in lines) == 4 and lines[-1] == "done: 4 folder(s)"
    assert not push_queue.queued() and not any((f / PENDING).exists() for f in (first, second, third, late))
    logged = runs_of(uri)
    assert sorted(r.data.tags["kampai.run_id"] for r in logged) == sorted(f.name for f in (first, second, third, late))
    by_id = {r.data.tags["kampai.run_id"]: r for r in logged}
    # the estimator's own params came from the signed queue entry (the model was not loaded for them)
    assert by_id[first.name].data.params["estimator.var_smoothing"] == "1e-09"
    assert by_id[first.name].data.params["model.estimator"] == "GaussianNB"
    assert {a.path for a in client(uri).list_artifacts(
        by_id[first.name].info.run_id, "run")} >= {"run/meta.json", "run/MLmodel"}


def test_a_second_pusher_leaves_at_once_and_a_planted_entry_pushes_nothing_of_its_own(tmp_path: Path) -> None:
    import fcntl

    from kampai.plugins.mlflow import pusher

    (folder,) = _runs(tmp_path, 1)
    push_queue.LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(push_queue.LOCK, "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert push_queue.pusher_running()
        assert pusher.serve(0) == 0  # another pusher holds the project: this one does nothing
    assert not push_queue.pusher_running()
    entry = push_queue.write_entry(folder, {"estimator.x": "1"})
    data = json.loads(entry.read_text())
    data["params"] = {"estimator.x": "planted"}
    entry.write_text(json.dumps(data))
    assert push_queue.read_entry(entry)["params"] is None  # unsigned params are not used
    # an entry for a folder that is not pending (no signed marker): dropped, nothing pushed
    assert pusher.serve(0) == 1
    assert not push_queue.queued() and not (folder / RECORD).exists()
    assert not os.path.exists(tmp_path / ".kampai" / "mlflow.db") or not runs_of(store(tmp_path))


@pytest.mark.slow
def test_a_live_interpreter_with_mlflow_imported_pushes_in_a_thread(tmp_path: Path, monkeypatch) -> None:
    import sys
    import threading

    import mlflow  # noqa: F401 - what makes the in-process push free

    (folder,) = _runs(tmp_path, 1)
    monkeypatch.setattr(sys, "ps1", ">>> ", raising=False)  # the interactive prompt
    push_queue.queue_push(folder, store(tmp_path), "live", linger_s=0, params={})
    for thread in threading.enumerate():
        if thread.name == "kampai-mlflow-push":
            thread.join(120)
    assert (folder / RECORD).exists() and not (folder / PENDING).exists()
    assert not push_queue.pusher_running() and not push_queue.queued()
    assert "in-process" in (tmp_path / push_queue.LOG).read_text()
    assert [r.data.tags["kampai.run_id"] for r in runs_of(store(tmp_path))] == [folder.name]


def test_an_imported_ipykernel_is_not_a_live_kernel() -> None:
    """A pytest process that ran the notebook tests has ipykernel and IPython imported but no
    kernel: its runs go to the project's pusher, not to a thread (the burst test above failed
    in the whole suite when ``live()`` only looked at ``sys.modules``)."""
    pytest.importorskip("ipykernel")
    import ipykernel  # noqa: F401
    import IPython

    assert IPython.get_ipython() is None and not hasattr(__import__("sys"), "ps1")
    assert not push_queue.live()
