"""Cold-start time of light ``runner`` commands (target: ``runner --help`` under 0.25 s).

Each command runs N times in a fresh process through the installed console script; the
median wall time is printed next to a bare ``python -c pass`` for scale.

    .venv/bin/python benchmarks/startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _timing import CPU, wall  # benchmarks/ is on sys.path when a script runs

TARGET_HELP = 0.25




def environment(pycache: str, bytecode: bool) -> dict[str, str]:
    """As after ``pip install``: bytecode cached (kept out of the source tree), unless
    ``--no-bytecode`` measures PYTHONDONTWRITEBYTECODE=1 (every import compiles)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-bytecode", action="store_true", help="measure with PYTHONDONTWRITEBYTECODE=1")
    args = parser.parse_args()
    runner = str(Path(sys.executable).with_name("runner"))
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "runner --help": [runner, "--help"],
        "runner plugins list": [runner, "plugins", "list"],
        "runner tasks list": [runner, "tasks", "list"],
    }
    with tempfile.TemporaryDirectory() as cwd:
        env = environment(os.path.join(cwd, "pycache"), bytecode=not args.no_bytecode)
        for cmd in commands.values():  # warm the OS file cache (and the bytecode cache) once
            wall(cmd, cwd, env)
        mode = "no bytecode cache" if args.no_bytecode else "bytecode cached, as after pip install"
        print(f"cold-start wall time, median of {args.runs} fresh processes ({os.cpu_count()} CPUs, {mode})\n")
        print(f"{'command':<24}{'median':>10}{'min':>10}{'max':>10}{'CPU median':>12}")
        results = {}
        for name, cmd in commands.items():
            times = [wall(cmd, cwd, env, name) for _ in range(args.runs)]
            results[name] = statistics.median(times)
            cpu = statistics.median(CPU[name])
            print(f"{name:<24}{results[name]:>9.3f}s{min(times):>9.3f}s{max(times):>9.3f}s{cpu:>11.3f}s")
    print(f"load average during the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    verdict = "OK" if results["runner --help"] < TARGET_HELP else "OVER TARGET"
    print(f"\nrunner --help: {results['runner --help']:.3f} s (target < {TARGET_HELP} s): {verdict}")


if __name__ == "__main__":
    main()
