"""Step 4 of ``runner tune``: run the workers, in this process or as ``--jobs`` spawned
processes whose finished trials are relayed to the main process (its observers see each one)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from kampai.core.errors import TuneError
from kampai.core.tuning.objective import Plan


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity, as taskset or a container sets it)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def worker_count(jobs: int, left: int) -> tuple[int, str]:
    """``--jobs`` capped at the CPUs and at the trials left (more workers only compete for
    the CPUs and the memory), and the line that says so ("" when not capped)."""
    cpus = cpu_count()
    count = max(1, min(jobs, cpus, left))
    if count >= jobs:
        return jobs, ""
    why = [f"{cpus} CPU{'s' if cpus > 1 else ''}" if cpus == count else "",  # the bound(s) that apply
           f"{max(left, 0)} trial{'s' if left != 1 else ''} left" if max(left, 1) == count else ""]
    return count, (f"--jobs {jobs}: starting {count} worker{'s' if count > 1 else ''} "
                   f"({', '.join(w for w in why if w)}).")


def run_in_process(plan: Plan, on_trial: Any) -> bool:
    from kampai.core.tuning.worker import Worker

    try:
        Worker(plan, on_trial).run()
    except KeyboardInterrupt:
        return True
    return False


def run_processes(plan: Plan, jobs: int, on_trial: Any) -> bool:
    """Spawn ``jobs`` worker processes; relay their trials; True if interrupted."""
    import multiprocessing as mp
    import os
    import queue as queue_mod
    import signal

    from kampai.core.tuning.processes import process_main

    context = mp.get_context("spawn")
    queue = context.Queue()
    procs = [context.Process(target=process_main, args=(plan, queue), name=f"kampai-tune-{i}")
             for i in range(jobs)]
    for p in procs:
        p.start()
    finished: set[int] = set()
    errors: list[tuple[bool, str]] = []
    interrupted = False

    signalled: set[int] = set()

    def stop_others() -> None:
        for p in procs:
            if p.is_alive() and p.pid not in finished and p.pid not in signalled:
                signalled.add(p.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)  # workers ignore SIGINT; SIGTERM stops them once

    deadline_kill: float | None = None
    while True:
        try:  # a Ctrl-C anywhere in here (also in a hook) stops the workers cleanly
            try:
                kind, a, b = queue.get(timeout=0.2)
            except queue_mod.Empty:
                if all(not p.is_alive() for p in procs):
                    try:  # the last messages may still be in the pipe
                        kind, a, b = queue.get(timeout=0.5)
                    except queue_mod.Empty:
                        break
                else:
                    if deadline_kill is not None and time.time() > deadline_kill:
                        for p in procs:
                            if p.is_alive():
                                p.terminate()
                    continue
            if kind == "trial":
                on_trial(a, b)
            elif kind in ("done", "interrupted"):
                finished.add(a)
                interrupted = interrupted or kind == "interrupted"
            elif kind == "error":
                finished.add(a)
                errors.append(b)
                stop_others()
                deadline_kill = time.time() + 30
        except KeyboardInterrupt:
            interrupted = True
            stop_others()
            deadline_kill = time.time() + 30
    for p in procs:
        p.join(timeout=10)
    if errors:
        is_kampai, message = errors[0]
        if is_kampai:
            raise TuneError(message)
        raise RuntimeError(f"A tuning worker failed: {message}")
    return interrupted
