"""Start-up of ``runner`` (issue 27, target 6): ``runner --help`` under 0.15 s on a quiet
machine, and the first line of every command within 0.3 s.

Two tables, each from fresh processes through the installed ``runner`` console script,
bytecode cached as after ``pip install`` (kept out of the source tree), a private
kampai cache, in a scratch project (a CSV, an experiment config, a trained run, a git
repository and, with MLflow installed, a registered model):

* ``runner --help``: wall and CPU medians, from the help cache (what every call after the
  first one gets) and rendered (``KAMPAI_NO_PLUGIN_CACHE=1``: typer, click and every
  plugin, as before the cache), beside ``python -c pass``;
* every command: the time from starting the process to its first output on stdout or
  stderr, and the CPU seconds it had used by then (read from /proc; the steadier number on
  a busy machine), with that first line; the process is then stopped (nothing waits for
  the command's work).

    .venv/bin/python benchmarks/startup.py [--runs 5] [--only train,predict]

Run it on a quiet machine: the load average is printed with the tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import CPU, wall  # benchmarks/ is on sys.path when a script runs

TARGET_HELP = 0.15
TARGET_FIRST_LINE = 0.3

#: every command (as tests/test_startup.py runs them); {run} is the trained run
COMMANDS = {
    "train": "train -c exp.yaml model.params.n_estimators=5",
    "evaluate": "evaluate {run} --data iris.csv",
    "predict": "predict {run} --data iris.csv",
    "tune": "tune -c exp.yaml -n 2",
    "init": "init proj",
    "doctor": "doctor",
    "serve": "serve {run} --port {port}",
    "app": "app {run} --port {port}",
    "inspect": "inspect {run} --data iris.csv",
    "learning-curve": "learning-curve -c exp.yaml --rows 50%",
    "report": "report {run}",
    "config show": "config show -c exp.yaml",
    "runs list": "runs list",
    "runs compare": "runs compare --no-plots",
    "runs export": "runs export",
    "runs sync": "runs sync",
    "runs trust": "runs trust {run} --yes",
    "plugins list": "plugins list",
    "tasks list": "tasks list",
    "frameworks list": "frameworks list",
    "estimators list": "estimators list",
    "estimators show": "estimators show RandomForestClassifier",
    "datasets list": "datasets list",
    "splits list": "splits list",
    "metrics list": "metrics list",
    "cache info": "cache info",
    "cache clear": "cache clear",
    "registry register": "registry register {run} --name iris",
    "registry list": "registry list",
    "registry show": "registry show iris",
    "registry promote": "registry promote iris@1 --stage production",
    "registry best": "registry best iris --metric accuracy",
    "dvc init": "dvc init -c exp.yaml --dry-run",
    "container build": "container build --framework sklearn --dockerfile-only -t probe:1",
    "container run": "container run --dry-run -- train -c exp.yaml",
    "container k8s train": "container k8s train --name x --image i -- train -c exp.yaml",
    "container k8s tune": "container k8s tune --name x --image i --storage postgresql://u@h/db -- -c exp.yaml",
    "container k8s serve": "container k8s serve --name x --image i",
}


def environment(folder: str) -> dict[str, str]:
    """As after ``pip install``: bytecode cached (kept out of the source tree); a private
    kampai cache; no tracking or report per run (each trained run would push to MLflow)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({"PYTHONPYCACHEPREFIX": os.path.join(folder, "pycache"),
                "KAMPAI_CACHE_DIR": os.path.join(folder, "cache"),
                "KAMPAI_TRACKING__ENABLED": "false", "KAMPAI_REPORT__AFTER_TRAIN": "off"})
    return env


def project(runner: str, folder: Path, env: dict[str, str]) -> str:
    """The scratch project; returns the trained run's folder."""
    import pandas as pd
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    pd.DataFrame(frame).to_csv(folder / "iris.csv", index=False)
    (folder / "exp.yaml").write_text("task: classification\ndata:\n  path: iris.csv\n  target: target\n")
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    done = subprocess.run([runner, "train", "-c", "exp.yaml", "--json", "model.params.n_estimators=5"],
                          cwd=folder, env=env, capture_output=True, text=True, check=True)
    run = json.loads(done.stdout)["run_dir"]
    subprocess.run([runner, "registry", "register", run, "--name", "iris"], cwd=folder, env=env,
                   capture_output=True, check=False)  # without MLflow the registry commands say so
    return run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu(pid: int) -> float:
    """CPU seconds (user + sys) a process used so far (Linux /proc; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def first_line(cmd: list[str], cwd: Path, env: dict[str, str], limit: float = 120.0) -> tuple[float, float, str]:
    """Seconds from starting ``cmd`` to its first output on stdout or stderr, the CPU seconds
    it had used by then (the steadier number on a busy machine), and that output's first
    line.  The process (its own session) is stopped then."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    seconds, cpu, text = float("nan"), float("nan"), ""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        sel.register(proc.stderr, selectors.EVENT_READ)
        while sel.get_map():
            ready = sel.select(timeout=max(0.0, limit - (time.perf_counter() - start)))
            if not ready:
                break
            chunks = [os.read(key.fileobj.fileno(), 4096) for key, _ in ready]
            if any(chunks):
                seconds = time.perf_counter() - start
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGSTOP)  # its CPU time stops here
                cpu = _cpu(proc.pid)
                text = b"".join(chunks).decode("utf-8", "replace").strip().splitlines()[0][:60]
                break
            for key, _ in ready:  # end of file: that stream closed without a byte
                sel.unregister(key.fileobj)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # this process's own session: the command and its children
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    return seconds, cpu, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated commands (default: all)")
    args = parser.parse_args()
    runner = str(Path(sys.executable).with_name("runner"))
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "project"
        folder.mkdir()
        env = environment(tmp)
        help_cmds = {
            "python -c pass": ([sys.executable, "-c", "pass"], env),
            "runner --help (cached)": ([runner, "--help"], env),
            "runner --help (rendered)": ([runner, "--help"], {**env, "KAMPAI_NO_PLUGIN_CACHE": "1"}),
        }
        for cmd, cmd_env in help_cmds.values():  # bytecode, the help cache, the OS file cache
            wall(cmd, str(folder), cmd_env)
        print(f"runner --help: median of {args.runs * 2} fresh processes ({os.cpu_count()} CPUs)\n")
        print(f"{'command':<28}{'wall median':>12}{'min':>8}{'CPU median':>12}")
        results = {}
        for name, (cmd, cmd_env) in help_cmds.items():
            times = [wall(cmd, str(folder), cmd_env, name) for _ in range(args.runs * 2)]
            results[name] = statistics.median(times)
            print(f"{name:<28}{results[name]:>11.3f}s{min(times):>7.3f}s{statistics.median(CPU[name]):>11.3f}s")
        loads.append(os.getloadavg()[0])

        run = project(runner, folder, env)
        only = [c.strip() for c in args.only.split(",") if c.strip()] or list(COMMANDS)
        print(f"\ntime to the first line of output, median of {args.runs} fresh processes\n")
        print(f"{'command':<22}{'wall':>8}{'max':>8}{'CPU':>8}  first line")
        over = []
        for name in only:
            found = []
            for _ in range(args.runs):
                argv = COMMANDS[name].format(run=run, port=_free_port()).split()
                found.append(first_line([runner, *argv], folder, env))
            median = statistics.median(f[0] for f in found)
            if not median <= TARGET_FIRST_LINE:
                over.append(name)
            print(f"{name:<22}{median:>7.3f}s{max(f[0] for f in found):>7.3f}s"
                  f"{statistics.median(f[1] for f in found):>7.3f}s  {found[-1][2]}")
        loads.append(os.getloadavg()[0])
    print(f"\nload average (1 min) at start, after --help, at the end: {', '.join(f'{x:.1f}' for x in loads)}")
    cached = results["runner --help (cached)"]
    print(f"runner --help (cached): {cached:.3f} s (target < {TARGET_HELP} s): "
          f"{'OK' if cached < TARGET_HELP else 'OVER TARGET'}")
    print(f"first line within {TARGET_FIRST_LINE} s: {len(only) - len(over)} of {len(only)} commands"
          + (f"; over: {', '.join(over)}" if over else ""))


if __name__ == "__main__":
    main()
