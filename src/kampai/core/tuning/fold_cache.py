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

#: the default cap of the cache folder (``tune.cache_max_mb``)
DEFAULT_MAX_MB = 2048


def entries(root: Path) -> list[Path]:
    """The entry files of a cache folder (each with its ``.sig`` beside it)."""
    return sorted(Path(root).glob("*/*.joblib")) if Path(root).is_dir() else []


def folder_size(root: Path) -> tuple[int, int]:
    """``(entries, bytes)`` of a cache folder (signatures and locks included in the bytes)."""
    from kampai.core.diskcache import usage

    return len(entries(root)), usage(root)[1]


def trim(root: Path, max_bytes: int) -> int:
    """Delete the least recently used entries until the folder holds at most ``max_bytes``;
    returns how many were deleted.  An entry's access time is refreshed on every hit, so
    what the current studies use stays."""
    files = entries(root)
    sizes = {f: f.stat().st_size for f in files}
    total = sum(sizes.values())
    removed = 0
    for file in sorted(files, key=lambda f: f.stat().st_mtime):  # oldest use first
        if total <= max_bytes:
            break
        for part in (file, file.with_suffix(".sig"), file.with_suffix(".lock")):
            part.unlink(missing_ok=True)
        total -= sizes[file]
        removed += 1
    return removed


class PreprocessCache:
    def __init__(self, root: Path | None, max_items: int = 32, max_mb: float | None = DEFAULT_MAX_MB) -> None:
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

        folder = self.root / key[:2]
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / f"{key}.joblib"
        value = self._load(file)
        if value is not None:
            self.stats["disk_hits"] += 1
            _touch(file)
            return self._remember(key, value)
        # O_NOFOLLOW: a lock planted as a symlink is not opened (nor created) through; the
        # entry is then computed without the lock (its writes are atomic all the same)
        fd = _open_lock(folder / f"{key}.lock")
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)  # another worker may be computing it right now
                value = self._load(file)
                if value is not None:
                    self.stats["disk_hits"] += 1
                    return self._remember(key, value)
            value = compute()
            self.stats["computed"] += 1
            with contextlib.suppress(OSError):  # a full or read-only disk only costs speed
                _store(file, value)
                if self.max_bytes is not None:
                    trim(self.root, self.max_bytes)
            return self._remember(key, value)
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    @staticmethod
    def _load(file: Path) -> Any:
        """The entry's value, from the very bytes whose HMAC was checked (read once, never
        reopened); None when it is missing, unsigned, tampered or truncated."""
        import joblib

        from kampai.core import signing
        from kampai.core.verified import open_regular

        try:
            with os.fdopen(open_regular(file), "rb") as handle:
                data = handle.read()
            with os.fdopen(open_regular(file.with_suffix(".sig")), "rb") as handle:
                signature = handle.read(256).decode("ascii", "replace").strip()
        except FileNotFoundError:
            return None
        except OSError:  # a symlink or a FIFO planted for an entry: refuse it like a bad signature
            signature, data = "", b""
        if not signing.valid(signature, signing.sign(data)):  # never unpickle what this key did not sign
            from kampai.core.console import warn

            warn(f"Ignoring tuning cache entry '{file}': its signature is missing or wrong (written by "
                 "another key, or tampered). It is recomputed.", once=True)
            return None
        try:
            return joblib.load(io.BytesIO(data))
        except Exception:  # a truncated file from a killed worker: recompute it
            return None


def _open_lock(path: Path) -> int | None:
    """The entry's lock file, never through a symlink (None when it cannot be opened)."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError:
        return None


def _store(file: Path, value: Any) -> None:
    """Write the entry and its ``.sig`` without following a link: each is written to a new
    file (``O_EXCL|O_NOFOLLOW``) and renamed over its name, which replaces a planted
    symlink itself, never its target.  The signature appears first, then the entry."""
    import joblib

    from kampai.core import signing

    buffer = io.BytesIO()
    joblib.dump(value, buffer)
    data = buffer.getvalue()
    _replace(file.with_suffix(".sig"), signing.sign(data).encode())
    _replace(file, data)


def _replace(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _touch(file: Path) -> None:
    """Mark an entry used now (the size cap removes the least recently used first)."""
    with contextlib.suppress(OSError):
        os.utime(file)
