"""A small on-disk cache for slow-to-compute, version-keyed facts (estimator indexes).

Location: ``$KAMPAI_CACHE_DIR``, else ``$XDG_CACHE_HOME/kampai``, else ``~/.cache/kampai``.
Writes are atomic (write + rename) so parallel workers never read half a file.

A cache folder kampai creates carries a marker, ``.kampai-cache`` (JSON: which cache, the
kampai version that made it, when).  ``runner cache clear`` deletes only kampai's own
entries (:data:`ENTRY_NAMES`: the names kampai gives them) and only inside a marked folder,
or an unmarked one that holds nothing but such entries (a cache made before the marker
existed).  Anything else is refused, untouched: ``--tune-dir .`` or ``KAMPAI_CACHE_DIR=$HOME``
deletes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kampai.core.errors import KampaiError

#: the marker file of a cache folder kampai created
MARKER = ".kampai-cache"
#: what kampai names its entries, per cache: a name matching none of them is not kampai's
_TMP = r"\.?[\w.+-]+\.\d+\.tmp"  # a write in progress: <name>.<pid>.tmp
ENTRY_NAMES: dict[str, dict[str, re.Pattern[str]]] = {
    # the tuning fold cache: <2 hex>/<hex key>.joblib|.sig|.lock (and their temporary files)
    "tune": {"folder": re.compile(r"[0-9a-f]{2}"),
             "file": re.compile(rf"[0-9a-f]{{8,}}\.(joblib|sig|lock)|{_TMP}")},
    # the user cache: indexes, entry points, empty stores to copy, bundled image sets
    "user": {"folder": re.compile(r"digits-images"),
             "file": re.compile(r"entry-points-[0-9a-f]+\.json|help-[0-9a-f]+\.txt|[\w.+-]+-estimators-[\w.+-]+\.json"
                                rf"|optuna-[\w.+-]+-empty\.db|mlflow-[\w.+-]+-empty-store\.db|{_TMP}")},
}


def cache_dir() -> Path:
    root = os.environ.get("KAMPAI_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kampai")
    return Path(root)


def cached_json(key: str, compute: Callable[[], Any]) -> Any:
    """``compute()``'s JSON-able result, cached under ``key`` (include versions in it)."""
    file = cache_dir() / f"{key}.json"
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError):
        pass
    value = compute()
    try:
        make_cache_dir(file.parent, "user")
        tmp = file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(value, sort_keys=True))
        os.replace(tmp, file)
    except OSError:
        pass  # a read-only home only costs speed
    return value


def usage(folder: Path) -> tuple[int, int]:
    """``(files, bytes)`` under ``folder`` (``(0, 0)`` when it does not exist)."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0, 0
    files = [f for f in folder.rglob("*") if f.is_file()]
    return len(files), sum(f.stat().st_size for f in files)


def make_cache_dir(folder: str | Path, kind: str) -> Path:
    """Create the cache folder ``folder`` (``kind``: tune or user) with its marker; a folder
    that already exists is marked only when it is empty (kampai then made everything in it).
    Raises OSError as ``mkdir`` does."""
    folder = Path(folder)
    if str(folder) in _MADE and folder.is_dir():
        return folder
    if not (folder / MARKER).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        if not any(p.name != MARKER for p in folder.iterdir()):
            _mark(folder, kind)
        # else: the user's folder, or a cache from before the marker: not marked
    _MADE.add(str(folder))
    return folder


#: the folders :func:`make_cache_dir` saw in this process (a tuning worker asks per entry)
_MADE: set[str] = set()


def _mark(folder: Path, kind: str) -> None:
    from kampai import __version__

    tmp = folder / f"{MARKER}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"what": f"kampai {kind} cache", "kind": kind, "kampai": __version__,
                               "created": datetime.now(UTC).isoformat(timespec="seconds")}) + "\n")
    os.replace(tmp, folder / MARKER)


def _owned(entry: os.DirEntry[str], names: dict[str, re.Pattern[str]]) -> bool:
    """Whether a folder entry is one kampai names (a symbolic link never is)."""
    if entry.is_symlink():
        return False
    if entry.is_dir(follow_symlinks=False):
        return bool(names["folder"].fullmatch(entry.name))
    return entry.name == MARKER or bool(names["file"].fullmatch(entry.name))


def _foreign(folder: Path, kind: str) -> list[str]:
    """The entries of ``folder`` kampai did not name (the tune cache's folders: their files too)."""
    names = ENTRY_NAMES[kind]
    found = []
    with os.scandir(folder) as it:
        for entry in it:
            if not _owned(entry, names):
                found.append(entry.name)
            elif kind == "tune" and entry.is_dir(follow_symlinks=False):
                with os.scandir(entry.path) as inner:
                    found += [f"{entry.name}/{e.name}" for e in inner
                              if e.is_symlink() or e.is_dir(follow_symlinks=False)
                              or not names["file"].fullmatch(e.name)]
    return sorted(found)


def refuse_foreign(folder: Path, kind: str) -> None:
    """Raise KampaiError unless ``folder`` is a cache kampai may clear: not a symbolic link,
    and marked or holding nothing but kampai's entries."""
    option = "--tune-dir" if kind == "tune" else "$KAMPAI_CACHE_DIR"
    if folder.is_symlink():
        raise KampaiError(f"The {kind} cache '{folder}' is a symbolic link: kampai clears only a cache folder "
                          f"it created. Nothing was deleted (check {option}).")
    foreign = _foreign(folder, kind)
    marked = (folder / MARKER).is_file() and not (folder / MARKER).is_symlink()
    if foreign and not marked:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise KampaiError(f"'{folder}' is not a kampai {kind} cache (no {MARKER} marker, and it holds "
                          f"{shown}, which kampai did not write): nothing was deleted. Check {option}.")


def clear(folder: str | Path, kind: str) -> tuple[int, int, int]:
    """Delete kampai's own entries of the cache folder ``folder``; ``(files, bytes, kept)``,
    ``kept`` counting the entries left because kampai did not name them.

    Refused (KampaiError, nothing deleted) when the folder carries no marker and holds
    anything kampai did not name, or when it is a symbolic link."""
    folder = Path(folder)
    if not folder.is_dir() and not folder.is_symlink():
        return 0, 0, 0
    refuse_foreign(folder, kind)
    names = ENTRY_NAMES[kind]
    files = size = 0
    with os.scandir(folder) as it:
        entries = [e for e in it if e.name != MARKER and _owned(e, names)]
    for entry in entries:
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            if kind == "tune":  # only the entry files: anything else in it stays
                for inner in list(os.scandir(path)):
                    if not inner.is_symlink() and inner.is_file(follow_symlinks=False) \
                            and names["file"].fullmatch(inner.name):
                        size += inner.stat(follow_symlinks=False).st_size
                        files += 1
                        Path(inner.path).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    path.rmdir()
            else:  # a folder kampai fills whole (digits-images)
                count, used = usage(path)
                files, size = files + count, size + used
                shutil.rmtree(path, ignore_errors=True)
        else:
            size += entry.stat(follow_symlinks=False).st_size
            files += 1
            path.unlink(missing_ok=True)
    kept = len(_foreign(folder, kind))
    if not kept:  # nothing but the marker left: the folder goes, as kampai made it
        with contextlib.suppress(OSError):
            (folder / MARKER).unlink(missing_ok=True)
            folder.rmdir()
    return files, size, kept
