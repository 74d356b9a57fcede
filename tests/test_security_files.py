"""Commands delete or overwrite only what kampai created (issue 22, section 2).

Each test replays a data-loss case found by the attack on a fresh clone: a project folder
given as a cache, a data folder given as ``--run-dir``, a prediction written into a signed run,
a full disk under ``predict -o``, SIGTERM during a foreground MLflow push, a planted pending
record naming a server, a file planted beside a run's model that a serving image took in.
Real files, real processes and signals, real HTTP; no mocks.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers import invoke

IRIS = ["--task", "classification", "--data", "sklearn:iris", "--model", "GaussianNB", "-q"]


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the sha256 of its bytes (what "untouched" means)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    return " ".join(lines)


def _train(*extra: str) -> Path:
    result = invoke("train", *IRIS, "--json", *extra)
    assert result.code == 0, result.stderr
    return Path(result.json()["run_dir"])


# --------------------------------------------------------------------------------------
# runner cache clear
# --------------------------------------------------------------------------------------


def _project(folder: Path) -> dict[str, str]:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.csv").write_text("a,b\n1,2\n")
    (folder / "notes.md").write_text("my notes\n")
    return _tree(folder)


def test_cache_clear_refuses_a_project_folder_given_as_the_tune_cache(tmp_path: Path) -> None:
    before = _project(tmp_path / "proj")
    result = invoke("cache", "clear", "tune", "--tune-dir", "proj")
    assert _tree(tmp_path / "proj") == before
    assert result.code == 2 and "not a kampai tune cache" in _one_error_line(result)


def test_cache_clear_refuses_the_current_folder(tmp_path: Path) -> None:
    before = _project(tmp_path)
    result = invoke("cache", "clear", "tune", "--tune-dir", ".")
    assert _tree(tmp_path) == before
    assert result.code == 2 and "nothing was deleted" in _one_error_line(result)


def test_cache_clear_user_refuses_a_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    before = _project(home)
    (home / ".bashrc").write_text("export PATH\n")
    before = _tree(home)
    monkeypatch.setenv("KAMPAI_CACHE_DIR", str(home))
    monkeypatch.setenv("KAMPAI_NO_PLUGIN_CACHE", "1")  # nothing of kampai's own written there first
    result = invoke("cache", "clear", "user")
    assert _tree(home) == before
    assert result.code == 2 and "$KAMPAI_CACHE_DIR" in _one_error_line(result)
    # `all` checks every folder before it deletes anything: the tune cache is not cleared either
    tune = tmp_path / "tune"
    _fill_tune_cache(tune)
    entries = _tree(tune)
    assert invoke("cache", "clear", "all", "--tune-dir", str(tune)).code == 2
    assert _tree(tune) == entries and _tree(home) == before


def _fill_tune_cache(root: Path) -> None:
    """Two real entries written by the fold cache (joblib payload, signature, lock)."""
    import numpy as np

    from kampai.core.tuning.fold_cache import PreprocessCache

    cache = PreprocessCache(root)
    for fold in (0, 1):
        key = PreprocessCache.key("fingerprint", fold, np.arange(5), np.arange(5, 8), {"scale": fold})
        cache.get(key, lambda fold=fold: np.ones((3, 2)) * fold)


def test_a_marked_cache_loses_only_kampais_entries(tmp_path: Path) -> None:
    tune = tmp_path / "tune"
    _fill_tune_cache(tune)
    marker = json.loads((tune / ".kampai-cache").read_text())
    assert marker["kind"] == "tune" and marker["kampai"]
    (tune / "mine.txt").write_text("the user's file, put there by hand\n")
    result = invoke("cache", "clear", "tune", "--tune-dir", str(tune))
    assert result.code == 0, result.stderr
    assert "kept 1 entry" in result.stderr
    assert sorted(p.name for p in tune.iterdir()) == [".kampai-cache", "mine.txt"]
    # a cache from before the marker (kampai's entries only) is recognised and removed whole
    legacy = tmp_path / "legacy"
    _fill_tune_cache(legacy)
    (legacy / ".kampai-cache").unlink()
    result = invoke("cache", "clear", "tune", "--tune-dir", str(legacy))
    assert result.code == 0 and "6 files" in result.stderr, result.stderr
    assert not legacy.exists()


# --------------------------------------------------------------------------------------
# runner train --run-dir
# --------------------------------------------------------------------------------------


def test_run_dir_never_replaces_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    before = _project(tmp_path / "data")
    result = invoke("train", *IRIS, "--run-dir", "data")
    assert result.code == 2 and "not a kampai run" in _one_error_line(result)
    assert _tree(tmp_path / "data") == before
    assert not (tmp_path / "runs").exists()  # refused before anything trained
    # --run-dir runs (one letter from --runs-dir): the earlier runs stay
    earlier = _train()
    runs = _tree(tmp_path / "runs")
    assert invoke("train", *IRIS, "--run-dir", "runs", "--overwrite").code == 2
    assert _tree(tmp_path / "runs") == runs and earlier.is_dir()
    # the Python API follows the same rule
    import kampai
    from kampai.core.errors import KampaiError

    with pytest.raises(KampaiError, match="not a kampai run"):
        kampai.train(task="classification", data="sklearn:iris", verbose=False,
                     output={"run_dir": "data", "overwrite": True})
    assert _tree(tmp_path / "data") == before


def test_run_dir_replaces_a_run_only_with_overwrite(tmp_path: Path) -> None:
    from kampai.plugin.runs import verify_manifest

    first = _train("--run-dir", "fixed")
    assert json.loads((tmp_path / "fixed" / "meta.json").read_text())["run_id"] == first.name
    verify_manifest(tmp_path / "fixed")
    copy = _tree(tmp_path / "fixed")
    result = invoke("train", *IRIS, "--run-dir", "fixed")
    assert result.code == 2 and "--overwrite" in _one_error_line(result)
    assert _tree(tmp_path / "fixed") == copy
    second = _train("--run-dir", "fixed", "--overwrite")
    assert json.loads((tmp_path / "fixed" / "meta.json").read_text())["run_id"] == second.name
    verify_manifest(tmp_path / "fixed")


# --------------------------------------------------------------------------------------
# runner predict -o
# --------------------------------------------------------------------------------------


def test_predict_never_writes_inside_a_run_folder(tmp_path: Path) -> None:
    from kampai.plugin.runs import verify_manifest

    run = _train()
    other = _train()
    signed = _tree(run)
    writing = run.parent / ".tmp-being-written"  # a run folder a RunWriter is filling
    writing.mkdir()
    (run.parent / ".tmp-being-written.pid").write_text(f"{os.getpid()} here\n")
    for target in (run / "predictions.csv", run / "model" / "extra.csv", other / "p.csv", writing / "p.csv"):
        result = invoke("predict", str(run), "--data", "sklearn:iris", "-o", str(target))
        assert result.code == 2 and "inside the run folder" in _one_error_line(result), target
    assert _tree(run) == signed and not (other / "p.csv").exists() and not any(writing.iterdir())
    verify_manifest(run)
    # the suffix names the format; an unknown one is refused with the list
    result = invoke("predict", str(run), "--data", "sklearn:iris", "-o", "p.xlsx")
    assert result.code == 2 and ".csv, .parquet" in _one_error_line(result) and not Path("p.xlsx").exists()
    assert invoke("predict", str(run), "--data", "sklearn:iris", "-o", "p.json").code == 0
    assert len(json.loads(Path("p.json").read_text())) == 150
    assert invoke("predict", str(run), "--data", "sklearn:iris", "-o", "p.jsonl").code == 0
    assert len(Path("p.jsonl").read_text().splitlines()) == 150
    pytest.importorskip("pyarrow")
    import pandas as pd

    assert invoke("predict", str(run), "--data", "sklearn:iris", "-o", "p.parquet").code == 0
    assert len(pd.read_parquet("p.parquet")) == 150


def _no_bigger_files(limit: int):
    def apply() -> None:  # in the child: a write past `limit` bytes fails (EFBIG), as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_disk_during_predict_leaves_the_old_file(tmp_path: Path) -> None:
    run = _train()
    out = tmp_path / "out"
    out.mkdir()
    (out / "p.csv").write_text("the previous predictions\n")
    # the model's private verified copy must fit; 150 rows of predictions must not
    limit = max(p.stat().st_size for p in (run / "model").iterdir()) + 512
    assert limit < 6000
    done = subprocess.run([sys.executable, "-m", "kampai", "predict", str(run), "--data", "sklearn:iris",
                           "-o", str(out / "p.csv")], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "KAMPAI_NO_PLUGIN_CACHE": "1"}, preexec_fn=_no_bigger_files(limit))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Cannot write" in done.stderr, done.stderr
    assert (out / "p.csv").read_text() == "the previous predictions\n"
    assert sorted(p.name for p in out.iterdir()) == ["p.csv"]  # no temporary file left either


# --------------------------------------------------------------------------------------
# MLflow: SIGTERM during the foreground push, planted pending records
# --------------------------------------------------------------------------------------


class _StalledServer:
    """A real HTTP tracking endpoint that accepts requests and answers none until closed:
    a push is then provably in flight (``arrived`` is set) for as long as the test wants."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.arrived.set()
                outer.release.wait(120)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_sigterm_during_a_foreground_push_keeps_the_run_and_its_pending_push(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    from kampai.plugin.runs import verify_manifest
    from kampai.plugins.mlflow.tracking import PENDING

    server = _StalledServer()
    env = {k: v for k, v in os.environ.items() if k != "KAMPAI_TRACKING__ENABLED"}
    env["KAMPAI_TRACKING__BACKGROUND"] = "false"
    proc = subprocess.Popen([sys.executable, "-m", "kampai", "train", *IRIS, "--tracking-uri", server.uri],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert server.arrived.wait(180), "the push never reached the server"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()
    assert proc.returncode == 143, err
    (run,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    verify_manifest(run)  # the finished run is whole
    assert (run / PENDING).is_file(), "the abandoned push is not pending: 'runner runs sync' would not push it"
    from kampai.plugins.mlflow.tracking import trusted_pending

    record = json.loads((run / PENDING).read_text())
    assert record["uri"] == server.uri and trusted_pending(run, record)


def test_a_planted_pending_record_does_not_choose_where_a_run_is_pushed(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    from kampai.plugins.mlflow.tracking import PENDING, mark_pending

    run = _train("--no-track")
    elsewhere = tmp_path / "attacker"
    uri = "sqlite:///" + str(elsewhere / "mlflow.db")
    (run / PENDING).write_text(json.dumps({"tracker": "mlflow", "kind": "run", "uri": uri,
                                           "experiment": "stolen", "error": "x", "when": "now"}))
    result = invoke("runs", "sync")
    assert not elsewhere.exists(), "the run was pushed to the URI the planted record names"
    assert result.code == 0 and "not signed" in result.stderr, result.stderr
    assert "Nothing to push" in result.stdout
    # a record kampai signed for another folder, copied here, does not count either
    other = _train("--no-track")
    mark_pending(other, uri, "stolen", RuntimeError("down"))
    (run / PENDING).write_text((other / PENDING).read_text())
    (other / PENDING).unlink()
    result = invoke("runs", "sync")
    assert result.code == 0 and "not signed" in result.stderr and not elsewhere.exists()
    # the URI the user names still takes the run (the experiment: the run's own signed config)
    mine = "sqlite:///" + str(tmp_path / "mine" / "mlflow.db")
    result = invoke("runs", "sync", "--tracking-uri", mine)
    assert result.code == 0 and run.name in result.stdout, result.stderr
    assert not (run / PENDING).exists() and not elsewhere.exists()


# --------------------------------------------------------------------------------------
# runner container build RUN --serve
# --------------------------------------------------------------------------------------


def test_a_serving_image_gets_only_what_the_manifest_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kampai.plugin.runs import verify_manifest

    run = _train()
    (run / "sitecustomize.py").write_text("open('/tmp/pwned', 'w')\n")  # planted beside model/
    (run / "extra").mkdir()
    (run / "extra" / "payload.pkl").write_bytes(b"\x80\x04planted")
    result = invoke("container", "build", str(run), "--serve", "--dockerfile-only", "-o", "ctx", "--json")
    assert result.code == 0, result.stderr
    copied = {p.relative_to(tmp_path / "ctx" / "model").as_posix()
              for p in (tmp_path / "ctx" / "model").rglob("*") if p.is_file()}
    listed = set(json.loads((run / "manifest.json").read_text())["files"])
    assert copied == listed | {"manifest.json"}
    monkeypatch.setenv("KAMPAI_SECRET_KEY", (tmp_path / "ctx" / "image.key").read_text())
    verify_manifest(tmp_path / "ctx" / "model")
    monkeypatch.delenv("KAMPAI_SECRET_KEY")
    # a symbolic link inside a run is refused; the earlier context stays as it was
    context = _tree(tmp_path / "ctx")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "weights.bin").write_bytes(b"not trained")
    (run / "model" / "sub").symlink_to(outside, target_is_directory=True)
    result = invoke("container", "build", str(run), "--serve", "--dockerfile-only", "-o", "ctx")
    assert result.code == 2 and "symbolic link" in _one_error_line(result)
    assert _tree(tmp_path / "ctx") == context
    # -o never replaces a folder that is not a build context kampai wrote
    before = _project(tmp_path / "proj")
    result = invoke("container", "build", "--framework", "sklearn", "--dockerfile-only", "-o", "proj")
    assert result.code == 2 and "left untouched" in _one_error_line(result)
    assert _tree(tmp_path / "proj") == before

