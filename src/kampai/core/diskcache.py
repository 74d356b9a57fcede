"""A small on-disk cache for slow-to-compute, version-keyed facts (estimator indexes).

Location: ``$KAMPAI_CACHE_DIR``, else ``$XDG_CACHE_HOME/kampai``, else ``~/.cache/kampai``.
Writes are atomic (write + rename) so parallel workers never read half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


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
        file.parent.mkdir(parents=True, exist_ok=True)
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
