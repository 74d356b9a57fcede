"""Timing of fresh processes, shared by the benchmark scripts."""

from __future__ import annotations

import resource
import subprocess
import time

#: CPU seconds (user + sys) of each timed process, by label
CPU: dict[str, list[float]] = {}


def wall(cmd: list[str], cwd: str, env: dict[str, str], label: str = "") -> float:
    """Wall seconds of one fresh process; its CPU seconds (user + sys) go to CPU[label]:
    on a busy machine CPU time is the steadier number."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    CPU.setdefault(label, []).append(cpu)
    return seconds
