"""``runner serve`` vs ``mlflow models serve`` on the same RandomForest (iris), with wrk.

    python benchmarks/serving.py [--seconds 5] [--rounds 3] [--trees 100,20] [--serializers joblib,onnx]

For each forest size and serializer (joblib: the default pickle, scikit-learn predicts;
onnx: ``--serializer onnx``, the same fitted pipeline exported and predicted by ONNX Runtime):
trains one run, registers it (the pyfunc flavour), starts three servers
on loopback (``runner serve``, ``runner serve --no-batching``, ``mlflow models serve`` on
``models:/NAME/1``, which loads the same run folder through kampai's pyfunc) and drives each
with ``wrk`` (Debian package ``wrk``): single-row POST /invocations at concurrency 1 (p50/p99
latency) and 64 (throughput, p50/p99).  The phases are interleaved over ``--rounds`` (round
r runs every server once) and the medians are printed, with the servers' CPU time per request
(user+system of their process group, /proc) and the load average.  Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROW = {"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4, "petal width (cm)": 0.2}
LUA = """wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format("KAMPAI %%d %%d %%d %%f %%f %%f\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), summary.duration))
end
"""
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.3)
    stop(proc)
    raise SystemExit(f"server did not start: {cmd}")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of the live processes of a process group."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state ppid pgrp ...
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def wrk(port: int, script: Path, connections: int, seconds: int, pgid: int) -> dict:
    cpu = group_cpu(pgid)
    out = subprocess.run(["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{seconds}s",
                          "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}/invocations"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    cpu = group_cpu(pgid) - cpu
    n, bad, errors, p50, p99, duration = re.search(r"KAMPAI (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)",
                                                   out).groups()
    return {"requests": int(n), "errors": int(bad) + int(errors), "p50_ms": float(p50) / 1000,
            "p99_ms": float(p99) / 1000, "rps": int(n) / (float(duration) / 1e6),
            "cpu_ms_per_req": 1000 * cpu / max(int(n), 1)}


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def bench(trees: int, serializer: str, work: Path, env: dict, seconds: int, rounds: int) -> dict:
    runner = [sys.executable, "-m", "kampai"]
    runs = work / f"runs-{trees}-{serializer}"
    subprocess.run([*runner, "train", "--task", "classification", "--data", "sklearn:iris", "--model",
                    "RandomForestClassifier", "--runs-dir", str(runs), f"model.params.n_estimators={trees}",
                    *(["--serializer", serializer] if serializer != "joblib" else [])],
                   env=env, check=True, capture_output=True)
    run_dir = next(runs.iterdir())
    name = f"bench{trees}{serializer}"
    done = subprocess.run([*runner, "registry", "register", str(run_dir), "--name", name], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"registering {run_dir} failed:\n{done.stderr[-2000:]}")
    script = work / "post.lua"
    script.write_text(LUA % json.dumps({"dataframe_records": [ROW]}))
    servers = {
        "runner serve": [*runner, "serve", str(run_dir), "--no-access-log"],
        "runner serve --no-batching": [*runner, "serve", str(run_dir), "--no-access-log", "--no-batching"],
        "mlflow models serve": [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{name}/1",
                                "--env-manager", "local", "--host", "127.0.0.1"],
    }
    procs, ports = {}, {}
    results: dict[str, dict[str, list]] = {s: {"c1": [], "c64": []} for s in servers}
    try:
        for server, cmd in servers.items():
            ports[server] = free_port()
            procs[server] = start([*cmd, "--port", str(ports[server])], ports[server], env)
            wrk(ports[server], script, 4, 2, procs[server].pid)  # warm up
        for _ in range(rounds):  # interleaved: every server once per round and phase
            for phase, connections in (("c1", 1), ("c64", 64)):
                for server in servers:
                    results[server][phase].append(wrk(ports[server], script, connections, seconds,
                                                      procs[server].pid))
    finally:
        for proc in procs.values():
            stop(proc)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trees", default="100,20", help="forest sizes (n_estimators), comma-separated")
    parser.add_argument("--serializers", default="joblib,onnx", help="model formats, comma-separated")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="kampai-bench-"))
    os.chdir(work)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "KAMPAI_TRACKING__ENABLED": "true",
           "MLFLOW_TRACKING_URI": f"sqlite:///{work}/.kampai/mlflow.db",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    load_before = os.getloadavg()
    tables = {}
    for trees in (int(t) for t in args.trees.split(",")):
        for serializer in args.serializers.split(","):
            tables[trees, serializer] = bench(trees, serializer, work, env, args.seconds, args.rounds)
    load_after = os.getloadavg()
    print(f"wrk, {args.rounds} interleaved rounds of {args.seconds} s per phase, medians; {os.cpu_count()} CPUs; "
          f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    for (trees, serializer), results in tables.items():
        print(f"\nRandomForestClassifier(n_estimators={trees}) on iris, saved with {serializer}, "
              "single-row POST /invocations")
        print(f"{'server':28} {'c1 p50':>7} {'c1 p99':>7} {'c1 cpu':>7} {'c64 rps':>8} {'c64 p50':>8} "
              f"{'c64 p99':>8} {'c64 cpu':>8} {'errors':>6}")
        for server, r in results.items():
            errors = sum(x["errors"] for phase in r.values() for x in phase)
            print(f"{server:28} {median(r['c1'], 'p50_ms'):7.2f} {median(r['c1'], 'p99_ms'):7.2f} "
                  f"{median(r['c1'], 'cpu_ms_per_req'):7.2f} {median(r['c64'], 'rps'):8.1f} "
                  f"{median(r['c64'], 'p50_ms'):8.1f} {median(r['c64'], 'p99_ms'):8.1f} "
                  f"{median(r['c64'], 'cpu_ms_per_req'):8.2f} {errors:6d}")
        on = median(results["runner serve"]["c64"], "rps")
        off = median(results["runner serve --no-batching"]["c64"], "rps")
        mlflow = median(results["mlflow models serve"]["c64"], "rps")
        print(f"(ms; cpu = server CPU ms per request) micro-batching on/off throughput at c=64: {on / off:.2f}x; "
              f"runner serve / mlflow at c=64: {on / mlflow:.2f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
