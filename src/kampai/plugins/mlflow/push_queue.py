"""Handing a finished run (or study) folder to a detached pusher (``python -m
kampai.plugins.mlflow.push``), one pusher per folder at a time.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from kampai.plugins.mlflow.records import mark_pending, warn


def background(cfg: dict[str, Any]) -> bool:
    """``tracking.background`` (default true; ``KAMPAI_TRACKING__BACKGROUND=false`` in the
    environment, ``--track-foreground`` on the command line)."""
    from kampai.plugin import Config

    value = Config.of(cfg).section("tracking").background  # declared with its default (true)
    return True if value is None else bool(value)


def queue_push(folder: Path, uri: str, experiment: str, kind: str = "run") -> None:
    """Keep the finished run (or study) folder pending and hand it to a detached process
    that pushes it, so the user does not wait for MLflow.  If that process fails, the
    folder stays pending and ``runner runs sync`` pushes it; ``runner runs sync --wait``
    waits for it."""
    import subprocess
    import sys

    mark_pending(folder, uri, experiment, RuntimeError("queued for the background push"), kind=kind)
    log = Path(".kampai") / "mlflow-push.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            subprocess.Popen([sys.executable, "-m", "kampai.plugins.mlflow.push", str(Path(folder).resolve())],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    except OSError as exc:
        warn(f"the background push could not start ({exc}); run 'runner runs sync' to push {folder}.")


@contextlib.contextmanager
def push_lock(folder: Path, wait: bool = True) -> Any:
    """One pusher per run folder at a time (the background one, ``runner runs sync``);
    yields False when ``wait`` is off and another holds it.

    The lock is on the folder itself (``flock`` of a directory descriptor), so no lock
    file is left in it: a run folder holds what its signed manifest lists, nothing more."""
    import fcntl

    fd = os.open(Path(folder), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
