"""``runner train --nproc-per-node N``: real torchrun workers (torch.distributed.run) on CPU
with the gloo backend, 2 processes of one thread each; DDP for torch (skorch) and PyG.

Rank 0 alone writes the run (complete, signed: load_run and predict work); the quality
is within noise of a single-process run; a failing worker is one error line; Ctrl-C (a
real SIGINT to the launcher) stops every rank and leaves no run and no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
import torch.distributed

from helpers import invoke
from kampai.core.distributed import Distributed
from kampai.core.errors import ConfigError
from kampai.core.torchrun import torchrun_args

if not torch.distributed.is_available():
    pytest.skip("torch without torch.distributed", allow_module_level=True)

ENV = {"OMP_NUM_THREADS": "1", "KAMPAI_BLOCK_PLUGINS": "mlflow"}
SKORCH = ("train", "--task", "classification", "--framework", "torch", "--data", "sklearn:breast_cancer")


def _runner(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    (cwd / "tmp").mkdir(exist_ok=True)  # the processes' temporary folder: checked for leftovers
    return subprocess.run([sys.executable, "-m", "kampai", *args], capture_output=True, text=True,
                          env={**os.environ, **ENV, "TMPDIR": str(cwd / "tmp")}, cwd=cwd, timeout=timeout)


def _torchrun_leftovers(tmp: Path) -> list[Path]:
    return [*tmp.glob("kampai-torchrun-*"), *tmp.glob("torchelastic_*")]


def _runs(runs_dir: Path) -> list[Path]:
    return sorted(p for p in runs_dir.iterdir() if not p.name.startswith(".")) if runs_dir.exists() else []


def test_shard_gives_every_rank_the_same_count_and_covers_all() -> None:
    shards = [Distributed(rank=r, world_size=3, local_rank=r, backend="gloo").shard(10) for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]  # padded: equal batch counts keep DDP in step
    assert set().union(*map(set, shards)) == set(range(10))
    assert Distributed(rank=0, world_size=2, local_rank=0, backend="gloo").shard(0).tolist() == []


def test_torchrun_arguments_one_machine_and_several() -> None:
    local = torchrun_args({"distributed": {"nproc_per_node": 2, "nnodes": 1}}, ["train", "--nproc-per-node", "2"])
    assert "--standalone" in local and local[-4:] == ["kampai", "train", "--nproc-per-node", "2"]
    nodes = torchrun_args({"distributed": {"nproc_per_node": 4, "nnodes": 2, "rdzv_endpoint": "job-0.job:29500",
                                           "rdzv_id": "exp1"}}, ["train"])
    joined = " ".join(nodes)
    assert "--nnodes 2" in joined and "--rdzv-backend c10d --rdzv-endpoint job-0.job:29500 --rdzv-id exp1" in joined
    assert "--max-restarts 0" in joined and "--standalone" not in nodes
    with pytest.raises(ConfigError, match="rdzv-endpoint"):
        torchrun_args({"distributed": {"nproc_per_node": 1, "nnodes": 2}}, ["train"])


def test_refusals_are_one_line_before_any_process_starts(tmp_path: Path) -> None:
    pytest.importorskip("skorch")
    code, _out, err = invoke("train", "--task", "classification", "--data", "sklearn:iris", "--runs-dir",
                             str(tmp_path), "--nproc-per-node", "2")
    assert code == 2 and "Framework 'sklearn' cannot train with torch.distributed" in err and "torch" in err
    assert len(err.strip().splitlines()) == 1
    code, _out, err = invoke(*SKORCH, "--runs-dir", str(tmp_path), "--nnodes", "2", "--rdzv-endpoint", "nohost")
    assert code == 2 and "HOST:PORT" in err
    before = set(Path(tempfile.gettempdir()).glob("kampai-torchrun-*"))
    code, _out, err = invoke(*SKORCH, "--runs-dir", str(tmp_path), "--nnodes", "2")
    assert code == 2 and "--rdzv-endpoint" in err
    assert not _runs(tmp_path)
    assert set(Path(tempfile.gettempdir()).glob("kampai-torchrun-*")) == before  # nothing left behind


@pytest.mark.slow
def test_torch_skorch_ddp_two_processes_one_signed_run_quality_of_one_process(tmp_path: Path) -> None:
    pytest.importorskip("skorch")
    import kampai

    params = ["model.params.epochs=15", "model.params.patience=0"]
    result = _runner(*SKORCH, "--runs-dir", "runs", "--nproc-per-node", "2", "--json", *params, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)  # rank 0 alone prints
    runs = _runs(tmp_path / "runs")
    assert len(runs) == 1 and runs[0].name == out["run_id"]  # rank 0 alone writes
    assert not _torchrun_leftovers(tmp_path / "tmp")
    assert (runs[0] / "manifest.json").exists() and (runs[0] / "metrics.json").exists()
    run = kampai.load_run(runs[0])  # the signed manifest verifies
    table = run.predict("sklearn:breast_cancer")
    assert len(table) == 569 and (table["prediction"] == table["target"]).mean() > 0.95
    single = kampai.train(task="classification", framework="torch", data="sklearn:breast_cancer",
                          params={"epochs": 15, "patience": 0}, output={"runs_dir": str(tmp_path / "single")},
                          verbose=False)
    assert abs(out["metrics"]["accuracy"] - single.metrics["accuracy"]) <= 0.05  # 114 test rows: ~6 rows


@pytest.mark.slow
def test_pyg_ddp_two_processes_graph_classification(tmp_path: Path) -> None:
    pytest.importorskip("torch_geometric")
    pytest.importorskip("networkx")
    import kampai

    result = _runner("train", "--task", "graph-classification", "--framework", "pyg", "--data", "networkx:atlas",
                     "--runs-dir", "runs", "--nproc-per-node", "2", "--json", "model.params.epochs=10", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    runs = _runs(tmp_path / "runs")
    assert [r.name for r in runs] == [out["run_id"]]
    run = kampai.load_run(runs[0])
    assert len(run.predict("networkx:atlas")) == 994
    # one process scores 0.99-1.0 here (benchmarks/distributed_cpu.py measures both)
    assert out["metrics"]["accuracy"] >= 0.95


@pytest.mark.slow
def test_a_failing_worker_is_one_error_line_and_no_run(tmp_path: Path) -> None:
    pytest.importorskip("skorch")
    result = _runner(*SKORCH, "--runs-dir", "runs", "--nproc-per-node", "2", "-q", "model.params.optimizer=Nope",
                     cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "Error" in line]
    assert len(errors) == 1 and "Distributed training failed on rank" in errors[0] and "'Nope'" in errors[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not _runs(tmp_path / "runs")
    assert not _torchrun_leftovers(tmp_path / "tmp")  # torchrun's error files were read, then removed


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] not in "ZX"
    except (OSError, IndexError):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_ctrl_c_stops_every_rank_and_leaves_nothing(tmp_path: Path) -> None:
    pytest.importorskip("skorch")
    proc = subprocess.Popen([sys.executable, "-m", "kampai", *SKORCH, "--runs-dir", "runs", "--nproc-per-node",
                             "2", "model.params.epochs=100000", "model.params.patience=0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **ENV}, cwd=tmp_path, start_new_session=True)
    workers: set[int] = set()
    try:
        seen = ""
        for line in proc.stdout:  # rank 0 trains: every rank is inside the DDP fit
            seen += line
            if "epoch" in line:
                break
        workers = _descendants(proc.pid)
        assert len(workers) >= 2, seen
        os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the launcher (the workers have own sessions)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, seen + rest
        assert "Traceback" not in rest
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in workers if _alive(p)]
        assert not _runs(tmp_path / "runs")  # the run being written is removed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_two_machines_meet_at_the_rendezvous_endpoint(tmp_path: Path) -> None:
    """--nnodes 2 --rdzv-endpoint: two launchers (as on two machines) meet at torchrun's c10d
    rendezvous; the one whose worker is rank 0 writes the run, the other nothing."""
    import socket

    pytest.importorskip("skorch")

    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    procs = []
    for node in ("a", "b"):
        (tmp_path / node).mkdir()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "kampai", *SKORCH, "--runs-dir", "runs", "--nnodes", "2", "--nproc-per-node", "1",
             "--rdzv-endpoint", f"localhost:{port}", "--json", "model.params.epochs=3"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **ENV},
            cwd=tmp_path / node))
    try:
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    written = [node for node in ("a", "b") if _runs(tmp_path / node / "runs")]
    assert len(written) == 1
    out = json.loads(outs[("a", "b").index(written[0])][0])
    assert out["metrics"]["accuracy"] > 0.9
