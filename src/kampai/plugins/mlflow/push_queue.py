"""Handing a finished run (or study) folder to the project's warm pusher.

A finished folder is marked pending (its signed ``tracking-pending.json``), then queued:
one small signed entry in ``.kampai/push-queue/`` naming the folder (and, for a run, the
fitted model's own parameters, so that the pusher need not load the model to log them).
One pusher per project (:mod:`.pusher`, holding ``.kampai/mlflow-pusher.lock``) drains the
queue in one process: it imports MLflow and opens the store once, then lingers
``tracking.linger`` seconds for more.  A run starts a pusher only when none holds the lock,
so a burst of runs pays for one MLflow import, not one per run.  A live interpreter that
has MLflow imported already (a notebook) pushes in a thread of its own instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from kampai.plugins.mlflow.records import mark_pending, warn

#: the project's folder of queued pushes, its pusher's lock and log (under the working directory)
QUEUE_DIR = Path(".kampai") / "push-queue"
LOCK = Path(".kampai") / "mlflow-pusher.lock"
LOG = Path(".kampai") / "mlflow-push.log"


def background(cfg: dict[str, Any]) -> bool:
    """``tracking.background`` (default true; ``KAMPAI_TRACKING__BACKGROUND=false`` in the
    environment, ``--track-foreground`` on the command line)."""
    from kampai.plugin import Config

    value = Config.of(cfg).section("tracking").background  # declared with its default (true)
    return True if value is None else bool(value)


def linger(cfg: dict[str, Any]) -> float:
    """``tracking.linger``: seconds the pusher waits for more folders once the queue is empty."""
    from kampai.plugin import Config

    return float(Config.of(cfg).section("tracking").linger)  # declared with its default and minimum


def _entry_payload(entry: dict[str, Any]) -> bytes:
    signed = {"folder": entry.get("folder"), "params": entry.get("params")}
    return b"kampai-push-queue:" + json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


def write_entry(folder: Path, params: dict[str, str] | None = None, queue: Path = QUEUE_DIR) -> Path:
    """Queue ``folder`` for the pusher (signed with this machine's key, as the pending record
    is: a planted entry cannot make the pusher log parameters of its choosing)."""
    from kampai.plugin.runs import sign_bytes

    folder = Path(folder).resolve()
    entry: dict[str, Any] = {"folder": str(folder), "params": params}
    entry["signature"] = sign_bytes(_entry_payload(entry))
    queue.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(str(folder).encode()).hexdigest()[:24] + ".json"
    tmp = queue / f".{name}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(entry))
    tmp.replace(queue / name)  # a reader never sees half an entry
    return queue / name


def read_entry(file: Path) -> dict[str, Any] | None:
    """A queue entry: ``{"folder": Path, "params": dict | None}``; ``params`` is None unless
    the entry is signed with this key (the pusher then reads them from the model)."""
    from kampai.plugin.runs import sign_bytes, valid_signature

    try:
        entry = json.loads(Path(file).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("folder"), str):
        return None
    params = entry.get("params")
    trusted = isinstance(entry.get("signature"), str) and valid_signature(entry["signature"],
                                                                          sign_bytes(_entry_payload(entry)))
    return {"folder": Path(entry["folder"]), "params": params if trusted and isinstance(params, dict) else None}


def queued(queue: Path = QUEUE_DIR) -> list[Path]:
    """The queue's entries, oldest first."""
    try:
        files = [p for p in Path(queue).iterdir() if p.suffix == ".json" and not p.name.startswith(".")]
    except OSError:
        return []
    return sorted(files, key=lambda p: (_mtime(p), p.name))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def queue_push(folder: Path, uri: str, experiment: str, kind: str = "run", *, linger_s: float,
               params: dict[str, str] | None = None) -> None:
    """Keep the finished run (or study) folder pending, queue it, and start the project's
    pusher unless one is running, so the user does not wait for MLflow.  If the push fails
    the folder stays pending (with the reason) and ``runner runs sync`` pushes it;
    ``runner runs sync --wait`` waits for a push in progress."""
    mark_pending(folder, uri, experiment, RuntimeError("queued for the background push"), kind=kind)
    try:
        entry = write_entry(folder, params)
    except OSError as exc:
        warn(f"the background push could not be queued ({exc}); run 'runner runs sync' to push {folder}.")
        return
    if live() and "mlflow" in sys.modules:  # a notebook with MLflow imported already: no process to start
        push_in_thread(entry)
        return
    # the entry is in place before the lock is tested: a pusher that holds the lock now looks
    # at the queue again after it lets the lock go (pusher.serve), so no entry is missed
    if pusher_running():
        return
    start_pusher(linger_s)


_in_process = threading.Lock()


def live() -> bool:
    """A live interpreter the user keeps (a Jupyter kernel, the interactive prompt), not a
    command that exits when the run is done.  A kernel is asked for its shell: IPython or
    ipykernel merely imported (a test run, a library) is not one."""
    if hasattr(sys, "ps1"):
        return True
    ipython = sys.modules.get("IPython")
    try:
        return ipython is not None and ipython.get_ipython() is not None
    except Exception:  # an IPython too old or half-imported: not a kernel we can tell
        return False


def push_in_thread(entry: Path) -> None:
    """Push one queued folder from a thread of this process (MLflow is imported here already:
    a live interpreter, a notebook); one such push at a time.  The thread is not a daemon: an
    interpreter that exits waits for the push rather than abandoning it half-way."""

    def work() -> None:
        from kampai.plugins.mlflow.pusher import log_to_file, push_entry

        with _in_process:
            push_entry(entry, say=log_to_file)

    threading.Thread(target=work, name="kampai-mlflow-push").start()


def pusher_running(lock: Path = LOCK) -> bool:
    """Whether a pusher holds the project's lock right now."""
    import fcntl

    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def start_pusher(linger_s: float) -> None:
    """A detached ``python -m kampai.plugins.mlflow.pusher`` in its own session (Ctrl-C in the
    terminal does not stop it); its output goes to ``.kampai/mlflow-push.log``."""
    import subprocess
    import sys

    try:
        LOG.parent.mkdir(parents=True, exist_ok=True)
        with open(LOG, "ab") as out:
            subprocess.Popen([sys.executable, "-m", "kampai.plugins.mlflow.pusher", str(Path.cwd()),
                              f"{max(0.0, linger_s):g}"],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    except OSError as exc:
        warn(f"the background push could not start ({exc}); run 'runner runs sync' to push the pending runs.")


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
