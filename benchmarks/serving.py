"""``runner serve`` vs ``mlflow models serve`` on the same RandomForest (iris), with wrk.

    python benchmarks/serving.py [--seconds 10]

Trains one run, registers it (the pyfunc flavour), starts both servers on loopback and
drives each with ``wrk`` (Debian package ``wrk``): single-row POST /invocations at
concurrency 1 (p50/p99 latency) and 64 (throughput, p99), then ``runner serve`` with
micro-batching on vs off.  Prints one table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
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
  io.write(string.format("KAMPAI %%d %%d %%f %%f %%f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, latency:percentile(50), latency:percentile(99), summary.duration))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
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


def wrk(port: int, script: Path, connections: int, seconds: int) -> dict:
    out = subprocess.run(["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{seconds}s",
                          "-s", str(script), f"http://127.0.0.1:{port}/invocations"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    n, errors, p50, p99, duration = re.search(r"KAMPAI (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out).groups()
    return {"requests": int(n), "errors": int(errors), "p50_ms": float(p50) / 1000, "p99_ms": float(p99) / 1000,
            "rps": int(n) / (float(duration) / 1e6)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="kampai-bench-"))
    os.chdir(work)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "KAMPAI_NO_TRACK": "",
           "MLFLOW_TRACKING_URI": f"sqlite:///{work}/.kampai/mlflow.db",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    runner = [sys.executable, "-m", "kampai"]
    subprocess.run([*runner, "train", "--task", "classification", "--data", "sklearn:iris", "--model",
                    "RandomForestClassifier"],
                   env=env, check=True, capture_output=True)
    run_dir = next((work / "runs").iterdir())
    subprocess.run([*runner, "registry", "register", str(run_dir), "--name", "bench"], env=env, check=True,
                   capture_output=True)
    script = work / "post.lua"
    script.write_text(LUA % json.dumps({"dataframe_records": [ROW]}))
    results = {}
    servers = {
        "runner serve": [*runner, "serve", str(run_dir), "--no-access-log"],
        "runner serve --no-batching": [*runner, "serve", str(run_dir), "--no-access-log", "--no-batching"],
        "mlflow models serve": [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/bench/1",
                                "--env-manager", "local", "--host", "127.0.0.1"],
    }
    for name, cmd in servers.items():
        port = free_port()
        proc = start([*cmd, "--port", str(port)], port, env)
        try:
            wrk(port, script, 1, 2)  # warm up
            results[name] = {"c1": wrk(port, script, 1, args.seconds), "c64": wrk(port, script, 64, args.seconds)}
        finally:
            stop(proc)
    print(f"{'server':30} {'c=1 p50 ms':>10} {'c=1 p99 ms':>10} {'c=64 req/s':>11} {'c=64 p50':>9} "
          f"{'c=64 p99':>9} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:30} {r['c1']['p50_ms']:10.2f} {r['c1']['p99_ms']:10.2f} {r['c64']['rps']:11.1f} "
              f"{r['c64']['p50_ms']:9.1f} {r['c64']['p99_ms']:9.1f} {r['c1']['errors'] + r['c64']['errors']:7d}")
    on, off = results["runner serve"]["c64"]["rps"], results["runner serve --no-batching"]["c64"]["rps"]
    print(f"micro-batching on/off throughput at c=64: {on / off:.2f}x; "
          f"runner serve / mlflow: {on / results['mlflow models serve']['c64']['rps']:.2f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
