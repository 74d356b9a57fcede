"""``runner serve`` vs a plain FastAPI + scikit-learn app vs ``mlflow models serve``, on the
same RandomForest (breast cancer by default), with wrk.

    python benchmarks/serving.py [--seconds 5] [--rounds 3] [--trees 100] [--data sklearn:breast_cancer]

Trains one run saved with joblib (the default) and the same training saved with
``--serializer onnx``, registers the joblib one (the pyfunc flavour), and starts on loopback:

* ``plain FastAPI + sklearn``: a FastAPI app (pydantic body, ``pd.DataFrame(records)``, one
  ``predict_proba``, labels by argmax: the least a hand-written app does) on the run's own
  joblib file, under uvicorn with the same settings;
* ``mlflow models serve`` on ``models:/NAME/1`` (the same run folder through kampai's pyfunc);
* ``runner serve`` on the joblib run and on the ONNX run (access log off, as the others).

wrk (Debian package ``wrk``) sends single-row POST /invocations (MLflow's
``dataframe_records``) at concurrency 1 (p50/p99 latency) and 64 (throughput, p50/p99).  The
phases are interleaved over ``--rounds`` (round r runs every server once) and the medians are
printed, with the servers' CPU time per request (user+system of their process group, /proc),
the server-side time per request of ``runner serve`` (its own request-latency histogram:
from the ASGI call to the last byte handed to uvicorn) and the load average.  Asserts nothing.
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

PLAIN_APP = """import joblib, os, pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

model = joblib.load(os.environ["PLAIN_MODEL"])
app = FastAPI()


class Body(BaseModel):
    dataframe_records: list[dict[str, float]]


@app.get("/ping")
def ping():
    return {"status": "ok"}


@app.post("/invocations")
def invocations(body: Body):
    X = pd.DataFrame(body.dataframe_records)
    proba = model.predict_proba(X)
    labels = model.classes_.take(proba.argmax(axis=1))
    names = [f"proba_{c}" for c in model.classes_]
    return {"predictions": [{"prediction": label.item(), **dict(zip(names, p.tolist()))}
                            for label, p in zip(labels, proba)]}
"""
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


def server_seconds(port: int) -> tuple[float, float]:
    """``runner serve``'s own request-latency histogram for /invocations: (sum, count)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith('kampai_request_latency_seconds_sum{path="/invocations"}'):
            total = float(line.split()[-1])
        elif line.startswith('kampai_request_latency_seconds_count{path="/invocations"}'):
            count = float(line.split()[-1])
    return total, count


def train(runner: list[str], data: str, trees: int, runs: Path, env: dict, serializer: str | None) -> Path:
    subprocess.run([*runner, "train", "--task", "classification", "--data", data, "--model", "RandomForestClassifier",
                    "--runs-dir", str(runs), f"model.params.n_estimators={trees}", "--no-report",
                    *(["--serializer", serializer] if serializer else [])], env=env, check=True, capture_output=True)
    return next(runs.iterdir())


def bench(trees: int, data: str, work: Path, env: dict, seconds: int, rounds: int) -> dict:
    runner = [sys.executable, "-m", "kampai"]
    joblib_run = train(runner, data, trees, work / f"runs-{trees}-joblib", env, None)
    onnx_run = train(runner, data, trees, work / f"runs-{trees}-onnx", {**env, "KAMPAI_TRACKING__ENABLED": "false"},
                     "onnx")
    name = f"bench{trees}"
    done = subprocess.run([*runner, "registry", "register", str(joblib_run), "--name", name], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"registering {joblib_run} failed:\n{done.stderr[-2000:]}")
    signature = json.loads((joblib_run / "signature.json").read_text())
    from kampai.plugin.io import read_frame

    first = read_frame(data).iloc[0]
    row = {c["name"]: float(first[c["name"]]) for c in signature["inputs"]}
    script = work / "post.lua"
    script.write_text(LUA % json.dumps({"dataframe_records": [row]}))
    (work / "plain_app.py").write_text(PLAIN_APP)
    servers = {
        "plain FastAPI + sklearn": [sys.executable, "-m", "uvicorn", "plain_app:app", "--no-access-log",
                                    "--log-level", "warning", "--host", "127.0.0.1"],
        "mlflow models serve": [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{name}/1",
                                "--env-manager", "local", "--host", "127.0.0.1"],
        "runner serve (joblib)": [*runner, "serve", str(joblib_run), "--no-access-log"],
        "runner serve (onnx)": [*runner, "serve", str(onnx_run), "--no-access-log"],
    }
    plain_env = {**env, "PLAIN_MODEL": str(joblib_run / "model" / "model.joblib"),
                 "PYTHONPATH": os.pathsep.join(filter(None, [str(work), env.get("PYTHONPATH")]))}
    procs, ports = {}, {}
    results: dict[str, dict[str, list]] = {s: {"c1": [], "c64": [], "server_ms": []} for s in servers}
    try:
        for server, cmd in servers.items():
            ports[server] = free_port()
            procs[server] = start([*cmd, "--port", str(ports[server])], ports[server],
                                  plain_env if server.startswith("plain") else env)
            wrk(ports[server], script, 4, 2, procs[server].pid)  # warm up
        for _ in range(rounds):  # interleaved: every server once per round and phase
            for phase, connections in (("c1", 1), ("c64", 64)):
                for server in servers:
                    kampai_server = server.startswith("runner")
                    before = server_seconds(ports[server]) if kampai_server and phase == "c1" else None
                    results[server][phase].append(wrk(ports[server], script, connections, seconds,
                                                      procs[server].pid))
                    if before is not None:
                        after = server_seconds(ports[server])
                        results[server]["server_ms"].append(1000 * (after[0] - before[0]) /
                                                            max(after[1] - before[1], 1))
    finally:
        for proc in procs.values():
            stop(proc)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trees", default="100", help="forest sizes (n_estimators), comma-separated")
    parser.add_argument("--data", default="sklearn:breast_cancer")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="kampai-bench-"))
    os.chdir(work)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "KAMPAI_TRACKING__ENABLED": "true",
           "MLFLOW_TRACKING_URI": f"sqlite:///{work}/.kampai/mlflow.db",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    load_before = os.getloadavg()
    tables = {trees: bench(trees, args.data, work, env, args.seconds, args.rounds)
              for trees in (int(t) for t in args.trees.split(","))}
    load_after = os.getloadavg()
    print(f"wrk, {args.rounds} interleaved rounds of {args.seconds} s per phase, medians; {os.cpu_count()} CPUs; "
          f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    for trees, results in tables.items():
        print(f"\nRandomForestClassifier(n_estimators={trees}) on {args.data}, single-row POST /invocations")
        print(f"{'server':26} {'server':>7} {'c1 p50':>7} {'c1 p99':>7} {'c1 cpu':>7} {'c64 rps':>8} {'c64 p50':>8} "
              f"{'c64 p99':>8} {'c64 cpu':>8} {'errors':>6}")
        for server, r in results.items():
            errors = sum(x["errors"] for phase in ("c1", "c64") for x in r[phase])
            inside = f"{statistics.median(r['server_ms']):7.2f}" if r["server_ms"] else f"{'-':>7}"
            print(f"{server:26} {inside} {median(r['c1'], 'p50_ms'):7.2f} {median(r['c1'], 'p99_ms'):7.2f} "
                  f"{median(r['c1'], 'cpu_ms_per_req'):7.2f} {median(r['c64'], 'rps'):8.1f} "
                  f"{median(r['c64'], 'p50_ms'):8.1f} {median(r['c64'], 'p99_ms'):8.1f} "
                  f"{median(r['c64'], 'cpu_ms_per_req'):8.2f} {errors:6d}")
        mlflow = median(results["mlflow models serve"]["c64"], "rps")
        plain = median(results["plain FastAPI + sklearn"]["c1"], "p50_ms")
        for server in ("runner serve (joblib)", "runner serve (onnx)"):
            print(f"{server}: c=64 throughput {median(results[server]['c64'], 'rps') / mlflow:.1f}x mlflow; "
                  f"c=1 p50 {median(results[server]['c1'], 'p50_ms') / plain:.2f}x plain FastAPI")
    print("(ms; server = runner serve's own time per request at c=1, from its latency histogram; "
          "cpu = server CPU ms per request)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
