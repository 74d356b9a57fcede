"""Scale-out on a real local Ray cluster (head + worker node, `ray start` processes; no mocks):
tuning workers as Ray tasks over two nodes, a killed worker node, a remote `runner train`,
and batch prediction through Ray Data.

The cluster is $KAMPAI_TEST_RAY (`.ci/ray.sh start`, as .ci/run does); without it a session
fixture starts its own through the same script and stops it.  Skipped without Ray.
PostgreSQL studies need $KAMPAI_TEST_PG_URL (.ci/postgres.sh), else those tests skip."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
optuna = pytest.importorskip("optuna")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RAY_BIN = Path(sys.executable).parent / "ray"
PG_URL = os.environ.get("KAMPAI_TEST_PG_URL")

SLOW = """
name: slow
task: classification
data: {path: "sklearn:iris"}
split: {method: stratified_kfold, folds: 2}
model:
  estimator: DecisionTreeClassifier
  preprocess:
    num: {steps: {slow: {class: "tune_helpers:SlowIdentity", seconds: SECONDS}}}
  search:
    max_depth: {type: int, low: 1, high: 8}
    min_samples_leaf: {type: int, low: 1, high: 10}
    criterion: [gini, entropy, log_loss]
tune: {cache: false, plots: false}
"""


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(HERE), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "KAMPAI_BLOCK_PLUGINS": "mlflow"}


def _runner(*args: str) -> list[str]:
    return [sys.executable, "-m", "kampai", *args]


@pytest.fixture(scope="session")
def ray_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test cluster's address: $KAMPAI_TEST_RAY, else one started here (and stopped)."""
    if os.environ.get("KAMPAI_TEST_RAY"):
        yield os.environ["KAMPAI_TEST_RAY"]
        return
    if not RAY_BIN.exists():
        pytest.skip("the ray command is not installed beside this Python")
    state = tmp_path_factory.mktemp("ray")
    env = {**os.environ, "KAMPAI_RAY_DIR": str(state), "KAMPAI_RAY_PORT": "56479", "RAY": str(RAY_BIN)}
    out = subprocess.run([str(ROOT / ".ci" / "ray.sh"), "start"], env=env, capture_output=True, text=True,
                         timeout=180)
    if out.returncode != 0:
        pytest.fail(f"the Ray test cluster did not start: {out.stderr[-2000:]}")
    address = out.stdout.strip().splitlines()[-1].split("=", 1)[1]
    try:
        yield address
    finally:
        subprocess.run([str(ROOT / ".ci" / "ray.sh"), "stop"], env=env, capture_output=True, timeout=120)


def _storage(tmp_path: Path) -> str:
    """A fresh study storage: a PostgreSQL database's study when available, else SQLite."""
    return PG_URL or f"sqlite:///{tmp_path / 'study.db'}"


def _trials(name: str, url: str) -> list:
    from kampai.core.tuning.storage import open_storage, resolve_url

    return optuna.load_study(study_name=name, storage=open_storage(resolve_url(url))).get_trials(deepcopy=False)


def _counted(trials: list) -> list:
    from kampai.core.tuning.worker import counts_as_done

    return [t for t in trials if counts_as_done(t)]


@pytest.mark.slow
@pytest.mark.skipif(not PG_URL, reason="KAMPAI_TEST_PG_URL is not set (see .ci/postgres.sh)")
def test_twenty_trials_over_two_nodes_on_postgresql_with_a_ctrl_c(tmp_path: Path, ray_address: str) -> None:
    (tmp_path / "slow.yaml").write_text(SLOW.replace("SECONDS", "0.15"))
    name = f"ray-{uuid.uuid4().hex[:8]}"
    tune = _runner("tune", "-c", "slow.yaml", "--trials", "20", "--jobs", "4", "--study", name,
                   "--storage", PG_URL, "--ray", ray_address, "--json")
    proc = subprocess.Popen(tune, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.3)
            with contextlib.suppress(Exception):
                if len([t for t in _trials(name, PG_URL) if t.state.name == "COMPLETE"]) >= 4:
                    break
        proc.send_signal(signal.SIGINT)  # Ctrl-C: every worker marks its running trial and stops
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()[-3000:]
    trials = _trials(name, PG_URL)
    assert all(t.state.name != "RUNNING" for t in trials)
    assert all("interrupted" in t.user_attrs for t in trials if t.state.name == "FAIL"), \
        [t.user_attrs for t in trials if t.state.name == "FAIL"]
    assert len(_counted(trials)) < 20
    # the same command resumes the study to exactly its total
    out = subprocess.run(tune, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    trials = _trials(name, PG_URL)
    assert len(_counted(trials)) == 20
    assert all(t.state.name != "RUNNING" for t in trials)
    nodes = {t.user_attrs.get("node") for t in _counted(trials)}
    assert len(nodes) == 2 and None not in nodes, nodes  # the head and the worker node both ran trials


def _extra_node(address: str, state: Path) -> tuple[subprocess.Popen, str]:
    """A third node joining the cluster, in its own process group: (its process, its node id)."""
    import tempfile

    port = int(address.rsplit(":", 1)[1]) + 60
    temp = tempfile.mkdtemp(prefix="kv-", dir="/tmp")  # short: Ray's sockets live there (107-byte paths)
    (state / "victim.tmp").write_text(temp)
    proc = subprocess.Popen(
        [str(RAY_BIN), "start", "--block", "--address", address, "--num-cpus", "1", "--disable-usage-stats",
         "--temp-dir", temp,
         "--node-ip-address", "127.0.0.1", "--object-store-memory", str(80 * 1024 * 1024),
         "--memory", str(512 * 1024 * 1024), "--resources", '{"kampai_victim": 1}',
         "--node-manager-port", str(port), "--object-manager-port", str(port + 1),
         "--dashboard-agent-listen-port", str(port + 2), "--dashboard-agent-grpc-port", str(port + 3),
         "--runtime-env-agent-port", str(port + 4), "--metrics-export-port", str(port + 5),
         "--min-worker-port", str(port + 300), "--max-worker-port", str(port + 340)],
        stdout=(state / "victim.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    # the probe's answer is its one line tagged VICTIM (Ray may print its own lines to stdout,
    # e.g. about a raylet that went away while the probe was connecting: then ask again)
    probe = ("import json,ray,sys; ray.init(address=sys.argv[1], logging_level='ERROR', log_to_driver=False);"
             "print('VICTIM', json.dumps([n['NodeID'] for n in ray.nodes() "
             "if n['Alive'] and 'kampai_victim' in n['Resources']]))")
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            out = subprocess.run([sys.executable, "-c", probe, address], capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            continue
        tagged = [line for line in out.stdout.splitlines() if line.startswith("VICTIM ")]
        ids = json.loads(tagged[-1].removeprefix("VICTIM ")) if tagged else []
        if ids:
            return proc, ids[0]
        time.sleep(1)
    _kill_group(proc)
    pytest.fail(f"the extra Ray node did not join: {(state / 'victim.log').read_text()[-2000:]}")


def _remove_node_dir(temp: str) -> None:
    """Remove the killed node's temp dir once no process of that node (named by the dir in its
    command line: only the node this test started) is left to write into it."""
    import shutil

    for _ in range(20):
        left = subprocess.run(["pgrep", "-f", temp], capture_output=True, text=True).stdout.split()
        for pid in left:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)
        if not left and not os.path.exists(temp):
            return
        time.sleep(0.5)


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.slow
def test_a_killed_worker_node_loses_only_its_running_trial(tmp_path: Path, ray_address: str) -> None:
    (tmp_path / "slow.yaml").write_text(SLOW.replace("SECONDS", "0.6"))
    url = _storage(tmp_path)
    name = f"kill-{uuid.uuid4().hex[:8]}"
    victim, node_id = _extra_node(ray_address, tmp_path)
    tune = _runner("tune", "-c", "slow.yaml", "--trials", "10", "--jobs", "3", "--study", name, "--storage", url,
                   "--ray", ray_address, "-q")
    proc = subprocess.Popen(tune, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        hit = None
        while time.time() < deadline and hit is None and proc.poll() is None:
            time.sleep(0.3)
            with contextlib.suppress(Exception):
                hit = next((t for t in _trials(name, url) if t.state.name == "RUNNING"
                            and str(t.user_attrs.get("node", "")).endswith(node_id[:12])), None)
        assert hit is not None, "no trial ran on the extra node"
        _kill_group(victim)  # the node's raylet and agents at once; its workers follow
        _, err = proc.communicate(timeout=400)
        assert proc.returncode == 0, err.decode()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        if victim.poll() is None:
            _kill_group(victim)
        _remove_node_dir((tmp_path / "victim.tmp").read_text())
    trials = _trials(name, url)
    assert len(_counted(trials)) == 10
    lost = [t for t in trials if t.state.name == "FAIL" and "interrupted" in t.user_attrs]
    # at most the one trial the node was running when it died (it may have moved on from `hit`)
    assert len(lost) <= 1 and all(str(t.user_attrs.get("node", "")).endswith(node_id[:12]) for t in lost), \
        [(t.number, t.user_attrs) for t in lost]
    assert all(t.state.name != "RUNNING" for t in trials)
    # resumed: the study is at its total, a second invocation has nothing left to run
    again = subprocess.run([*tune[:-1], "--json"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert '"ran": 0' in again.stdout, again.stdout[-2000:]
    assert len(_counted(_trials(name, url))) == 10


WINE = """
name: wine
seed: 7
task: classification
data: {path: data/wine.csv, target: target}
model: {estimator: RandomForestClassifier, params: {n_estimators: 15}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder: a config, its data file, and a run trained here (no Ray)."""
    from sklearn.datasets import load_wine

    root = tmp_path_factory.mktemp("project")
    (root / "data").mkdir()
    load_wine(as_frame=True).frame.to_csv(root / "data" / "wine.csv", index=False)
    (root / "wine.yaml").write_text(WINE)
    out = subprocess.run(_runner("train", "-c", "wine.yaml", "--json"), cwd=root, env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return root


def _json(text: str) -> dict:
    import json

    return json.loads(text[text.index("{"):])


@pytest.mark.slow
def test_a_remote_run_lands_like_a_local_one(project: Path, ray_address: str) -> None:
    from kampai.core import verified

    local = sorted((project / "runs").iterdir())[0]
    out = subprocess.run(_runner("train", "-c", "wine.yaml", "--ray", ray_address, "--json"), cwd=project,
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    remote = Path(project / _json(out.stdout)["run_dir"])
    assert remote.parent == local.parent and remote != local
    assert not [p for p in remote.parent.iterdir() if p.name.startswith(".")]  # nothing half-written left
    verified.check(remote)  # signed with this machine's key
    for name in ("metrics.json", "predictions.csv", "config.yaml", "signature.json"):
        assert (remote / name).read_bytes() == (local / name).read_bytes(), name
    pred = subprocess.run(_runner("predict", str(remote), "--data", "data/wine.csv"), cwd=project, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert pred.returncode == 0 and pred.stdout.count("\n") == 179, pred.stderr[-2000:]


@pytest.mark.slow
def test_a_failed_remote_run_leaves_nothing(project: Path, ray_address: str) -> None:
    before = sorted(p.name for p in (project / "runs").iterdir())
    out = subprocess.run(_runner("train", "-c", "wine.yaml", "--ray", ray_address, "model.params.n_estimators=-3"),
                         cwd=project, env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "n_estimators" in out.stderr and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert sorted(p.name for p in (project / "runs").iterdir()) == before


@pytest.mark.slow
def test_batch_predict_on_ray_equals_runner_predict(project: Path, ray_address: str) -> None:
    import numpy as np
    import pandas as pd

    wine = pd.read_csv(project / "data" / "wine.csv").drop(columns="target")
    rng = np.random.default_rng(0)
    big = wine.sample(1_000_000, replace=True, random_state=0).reset_index(drop=True)
    big = big * rng.normal(1, 0.02, big.shape)
    big.to_parquet(project / "big.parquet")
    run = str(sorted((project / "runs").iterdir())[0])
    whole = subprocess.run(  # the whole file at once, as runner predict did before it streamed
        [sys.executable, "-c", "import sys, kampai; kampai.load_run(sys.argv[1]).predict(sys.argv[2])"
         ".to_parquet(sys.argv[3])", run, "big.parquet", "whole.parquet"],
        cwd=project, env=_env(), capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr[-2000:]
    for args in ([], ["--ray", ray_address]):
        out = project / f"out{len(args)}.parquet"
        done = subprocess.run(_runner("predict", run, "--data", "big.parquet", "-o", str(out), *args), cwd=project,
                              env=_env(), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(project / "whole.parquet"))


def test_an_unreachable_cluster_is_one_line(project: Path) -> None:
    out = subprocess.run(_runner("train", "-c", "wine.yaml", "--ray", "127.0.0.1:1"), cwd=project, env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "Cannot connect to the Ray cluster at '127.0.0.1:1'" in out.stderr and "Traceback" not in out.stderr
