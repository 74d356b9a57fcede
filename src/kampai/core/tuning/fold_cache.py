"""Fitted preprocessing per fold, computed once and reused by every trial and worker.

A trial that changes only the model's params needs the same transformed fold as the
trial before it.  The key is the data fingerprint, the fold (its row indices) and the
unfitted preprocessing itself (``joblib.hash``: every param of every step), so a trial
that tunes a preprocessing param (``preprocess__num__imputer__strategy``) gets its own
entry.  Both the transformed training rows and the transformed test rows are kept: an
expensive ``transform`` (a KNN imputer) is saved as well as an expensive ``fit``.

Two levels: a small in-process LRU, and files under the cache folder (``tune.cache_dir``)
written atomically, with a per-key file lock so that two workers needing the same fold
compute it once.  The folder is safe to share between workers and studies of one user:
every entry carries an HMAC of the user's secret key (:mod:`kampai.core.signing`) and is
unpickled only when it verifies, so whoever can write the folder but not read the key
cannot make a later ``runner tune`` run code (a bad entry is recomputed, with a warning).
Workers on other machines share the key through ``$KAMPAI_SECRET_KEY``.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kampai.core.schema import default_of


def entries(root: Path) -> list[Path]:
    """The entry files of a cache folder (each with its ``.sig`` beside it); a sub-folder or
    an entry that is a symbolic link is no entry (never followed, never deleted through)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/*.joblib") if not p.parent.is_symlink() and not p.is_symlink())


def folder_size(root: Path) -> tuple[int, int]:
    """``(entries, bytes)`` of a cache folder (signatures and locks included in the bytes)."""
    from kampai.core.diskcache import usage

    return len(entries(root)), usage(root)[1]


def trim(root: Path, max_bytes: int) -> int:
    """Delete the least recently used entries until the folder holds at most ``max_bytes``;
    returns how many were deleted.  An entry's access time is refreshed on every hit, so
    what the current studies use stays.  Deletes go through each sub-folder's descriptor,
    opened without following a link: nothing outside the cache folder is removed."""
    found = []  # (mtime, size, sub-folder name, entry name)
    for sub in sorted(Path(root).glob("*")):
        fd = _open_folder(sub)
        if fd is None:
            continue
        try:
            with os.scandir(fd) as listing:
                for entry in listing:
                    if entry.name.endswith(".joblib") and entry.is_file(follow_symlinks=False):
                        info = entry.stat(follow_symlinks=False)
                        found.append((info.st_mtime, info.st_size, sub.name, entry.name))
        finally:
            os.close(fd)
    total = sum(size for _, size, _, _ in found)
    removed = 0
    for _, size, sub_name, name in sorted(found):  # oldest use first
        if total <= max_bytes:
            break
        fd = _open_folder(Path(root) / sub_name)
        if fd is None:
            continue
        try:
            stem = name[: -len(".joblib")]
            for part in (name, f"{stem}.sig", f"{stem}.lock"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(part, dir_fd=fd)
        finally:
            os.close(fd)
        total -= size
        removed += 1
    return removed


def _open_folder(folder: Path) -> int | None:
    """A descriptor of a cache sub-folder, None when it is a symbolic link (or missing)."""
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None


class PreprocessCache:
    def __init__(self, root: Path | None, max_items: int = 32,
                 max_mb: float | None = default_of("tune.cache_max_mb")) -> None:
        self.root = Path(root) if root else None
        self.max_items = max_items
        self.max_bytes = None if max_mb is None else int(float(max_mb) * 1024 * 1024)
        self._memory: OrderedDict[str, Any] = OrderedDict()
        self.stats = {"memory_hits": 0, "disk_hits": 0, "computed": 0}

    @staticmethod
    def key(fingerprint: str, fold: int, train_index: Any, test_index: Any, preprocessing: Any) -> str:
        import joblib
        import numpy as np

        return joblib.hash((fingerprint, fold, np.asarray(train_index), np.asarray(test_index),
                            preprocessing))

    def _remember(self, key: str, value: Any) -> Any:
        self._memory[key] = value
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_items:
            self._memory.popitem(last=False)
        return value

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        """The cached value for ``key``, computing (and storing) it on a miss."""
        if key in self._memory:
            self.stats["memory_hits"] += 1
            self._memory.move_to_end(key)
            return self._memory[key]
        if self.root is None:
            self.stats["computed"] += 1
            return self._remember(key, compute())
        import fcntl

        from kampai.core.diskcache import make_cache_dir

        with contextlib.suppress(OSError):
            make_cache_dir(self.root, "tune")  # the root carries kampai's marker
        folder = self.root / key[:2]
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
        # every read and write below goes through this descriptor: a sub-folder planted as
        # a link (to a folder of the user's) is neither read, nor written, nor trimmed
        dir_fd = _open_folder(folder)
        if dir_fd is None:
            self.stats["computed"] += 1
            return self._remember(key, compute())
        name = f"{key}.joblib"
        try:
            value = self._load(dir_fd, name, folder)
            if value is not None:
                self.stats["disk_hits"] += 1
                _touch(dir_fd, name)
                return self._remember(key, value)
            # a lock planted as a link is not opened (nor created) through; the entry is
            # then computed without it (its writes are atomic all the same)
            lock = _open_lock(dir_fd, f"{key}.lock")
            try:
                if lock is not None:
                    fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be computing it right now
                    value = self._load(dir_fd, name, folder)
                    if value is not None:
                        self.stats["disk_hits"] += 1
                        return self._remember(key, value)
                value = compute()
                self.stats["computed"] += 1
                with contextlib.suppress(OSError):  # a full or read-only disk only costs speed
                    _store(dir_fd, key, value)
                    if self.max_bytes is not None:
                        trim(self.root, self.max_bytes)
                return self._remember(key, value)
            finally:
                if lock is not None:
                    fcntl.flock(lock, fcntl.LOCK_UN)
                    os.close(lock)
        finally:
            os.close(dir_fd)

    @staticmethod
    def _load(dir_fd: int, name: str, folder: Path) -> Any:
        """The entry's value, from the very bytes whose HMAC was checked (read once, never
        reopened); None when it is missing, unsigned, tampered or truncated."""
        import joblib

        from kampai.core import signing
        from kampai.core.verified import open_regular

        try:
            with os.fdopen(open_regular(name, dir_fd), "rb") as handle:
                data = handle.read()
            sig = name[: -len(".joblib")] + ".sig"
            with os.fdopen(open_regular(sig, dir_fd), "rb") as handle:
                signature = handle.read(256).decode("ascii", "replace").strip()
        except FileNotFoundError:
            return None
        except OSError:  # a symlink or a FIFO planted for an entry: refused like a bad signature
            signature, data = "", b""
        if not signing.valid(signature, signing.sign(data)):  # never unpickle what this key did not sign
            from kampai.core.console import warn

            warn(f"Ignoring tuning cache entry '{folder / name}': its signature is missing or wrong (written "
                 "by another key, or tampered). It is recomputed.", once=True)
            return None
        try:
            return joblib.load(io.BytesIO(data))
        except Exception:  # a truncated file from a killed worker: recompute it
            return None


def _open_lock(dir_fd: int, name: str) -> int | None:
    """The entry's lock file, never through a symlink (None when it cannot be opened)."""
    try:
        return os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=dir_fd)
    except OSError:
        return None


def _store(dir_fd: int, key: str, value: Any) -> None:
    """Write the entry and its ``.sig`` without following a link: each is written to a new
    file (``O_EXCL|O_NOFOLLOW``) and renamed over its name, which replaces a planted
    symlink itself, never its target.  The signature appears first, then the entry."""
    import joblib

    from kampai.core import signing

    buffer = io.BytesIO()
    joblib.dump(value, buffer)
    data = buffer.getvalue()
    _replace(dir_fd, f"{key}.sig", signing.sign(data).encode())
    _replace(dir_fd, f"{key}.joblib", data)


def _replace(dir_fd: int, name: str, data: bytes) -> None:
    tmp = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


def _touch(dir_fd: int, name: str) -> None:
    """Mark an entry used now (the size cap removes the least recently used first)."""
    with contextlib.suppress(OSError, NotImplementedError):
        os.utime(name, dir_fd=dir_fd, follow_symlinks=False)
