"""A ``--jobs`` worker process: its entry point, and how it dies with the main process."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from kampai.core.errors import KampaiError
from kampai.core.tuning.objective import Plan

#: seconds an orphaned worker has to mark its trial failed before it is killed outright
ORPHAN_GRACE = 1.0
#: how often a worker checks that its main process is alive
PARENT_POLL = 0.1


def _die_with_parent() -> None:
    """A worker stops when the main process dies, even by SIGKILL, within about a second,
    whatever it is doing.

    Linux's parent-death signal (SIGTERM) lets it mark its trial failed and leave.  A
    SIGTERM's Python handler runs only when the main thread is back in Python, though, and a
    fit can sit in one C call (libsvm, a BLAS routine) for minutes; so a watcher thread
    checks the parent pid (the parent-death signal also fires when the *thread* that
    spawned us exits, hence the pid, not only the signal) and, :data:`ORPHAN_GRACE` seconds
    after the parent is gone, kills the worker outright.  Its trial then stays RUNNING with
    a dead pid, which the next claim of any worker on this machine marks failed, so the
    study's total stays exact."""
    import multiprocessing
    import signal

    spawner = multiprocessing.parent_process()
    parent = spawner.pid if spawner is not None else os.getppid()
    armed = False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(1, signal.SIGTERM) == 0  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        if not armed:  # only where the kernel's signal is missing: a second SIGTERM is not due
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(ORPHAN_GRACE)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="kampai-parent-watch", daemon=True).start()
    if os.getppid() != parent and armed:  # the parent died before the signal was armed
        os.kill(os.getpid(), signal.SIGTERM)


def process_main(plan: Plan, queue: Any) -> None:
    """Entry point of a ``--jobs`` worker process: results go back to the main process."""
    import signal

    def stop(*_: Any) -> None:
        # the main process (or the parent-death signal) asks once: later SIGTERMs are ignored
        # while the worker marks its trial failed and leaves (SIGKILL still ends it at once)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    # Ctrl-C in a terminal reaches the whole process group: the main process relays it
    # (SIGTERM, once), so each worker stops exactly once, marking its running trial
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)
    _die_with_parent()
    try:
        if plan.blocked:
            from kampai.core import host as plugins

            plugins.block(set(plan.blocked))
        from kampai.core.tuning.worker import Worker

        worker = Worker(plan, lambda trial, metrics: queue.put(("trial", trial, metrics)))
        worker.run()
        queue.put(("done", os.getpid(), None))
    except KeyboardInterrupt:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        queue.put(("interrupted", os.getpid(), None))
    except KampaiError as exc:
        queue.put(("error", os.getpid(), (True, str(exc))))
    except BaseException as exc:
        import traceback

        queue.put(("error", os.getpid(), (False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")))
