"""``python -m kampai.plugins.mlflow.pusher PROJECT_DIR LINGER``: the project's warm pusher.

Importing MLflow and opening its store costs about 3 s of CPU, the logging of a run about
0.2 s, so one process pushes every queued folder (:mod:`.push_queue`): it holds
``.kampai/mlflow-pusher.lock`` (one pusher per project), drains the queue, waits up to
``LINGER`` seconds for more (a burst of runs is pushed by this one process) and exits.
Nothing it does is half-done when it is killed: a folder stays pending (its marker is
removed only after MLflow has the whole run) and its queue entry stays for the next pusher;
a half-created MLflow run is deleted before the retry (:func:`.upload._drop_unfinished`).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kampai.plugins.mlflow.push_queue import LOCK, QUEUE_DIR, push_lock, queued, read_entry
from kampai.plugins.mlflow.records import PENDING, mark_pending, read_pending
from kampai.plugins.mlflow.store import DEFAULT_EXPERIMENT, tracking_uri

#: seconds between two looks at an empty queue while lingering
POLL = 0.25


def log(message: str) -> None:
    """A line of this pusher's log (its stdout is ``.kampai/mlflow-push.log``)."""
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    print(f"{stamp} pusher {os.getpid()}: {message}", flush=True)


def log_to_file(message: str) -> None:
    """The same line appended to ``.kampai/mlflow-push.log`` (an in-process push: a notebook)."""
    import contextlib

    from kampai.plugins.mlflow.push_queue import LOG

    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with contextlib.suppress(OSError), open(LOG, "a") as out:
        out.write(f"{stamp} in-process {os.getpid()}: {message}\n")


def push_entry(file: Path, say: Any = log) -> None:
    """Push the folder one queue entry names (when it is still pending), then drop the entry.
    A failure leaves the folder pending with the reason, for ``runner runs sync``."""
    from kampai.plugins.mlflow.push import push_one

    entry = read_entry(file)
    folder = entry["folder"] if entry else None
    if folder is not None and folder.is_dir():
        with push_lock(folder) as held:
            info = read_pending(folder) if held and (folder / PENDING).exists() else None
            if info is not None:  # else: pushed by runner runs sync meanwhile, or not ours
                try:
                    push_one(folder, info, estimator_params=entry["params"])
                    say(f"pushed {folder}")
                except Exception as exc:  # stays pending, with the reason
                    mark_pending(folder, info.get("uri") or tracking_uri(),
                                 info.get("experiment") or DEFAULT_EXPERIMENT, exc, kind=info.get("kind") or "run")
                    say(f"could not push {folder}: {exc}")
    file.unlink(missing_ok=True)


def drain(linger: float, queue: Path = QUEUE_DIR) -> int:
    """Push queued folders until the queue has been empty for ``linger`` seconds; the count."""
    count, idle_since = 0, time.monotonic()
    while True:
        entries = queued(queue)
        for file in entries:
            try:
                push_entry(file)
            except Exception as exc:  # a folder gone meanwhile, a lock that cannot be taken: next
                log(f"skipped {file.name}: {exc}")
                file.unlink(missing_ok=True)
            count += 1
        if entries:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= linger:
            return count
        else:
            time.sleep(POLL)


def serve(linger: float, lock: Path = LOCK, queue: Path = QUEUE_DIR) -> int:
    """Hold the project's lock and drain; after letting the lock go, look at the queue once
    more (a run that found the lock held just before did not start a pusher) and go on when
    something came in meanwhile.  Returns the number of folders handled."""
    import fcntl

    lock.parent.mkdir(parents=True, exist_ok=True)
    total = 0
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return total  # another pusher serves the project
            log(f"started (linger {linger:g} s)" if total == 0 else "picked up more")
            total += drain(linger, queue)
        finally:
            os.close(fd)  # lets the lock go
        if not queued(queue):
            log(f"done: {total} folder(s)")
            return total


def main(argv: list[str]) -> int:
    os.chdir(argv[0])
    serve(float(argv[1]) if len(argv) > 1 else 30.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
