"""The ``kampai`` entry points, remembered between commands.

Scanning the installed distributions (``importlib.metadata.entry_points``) imports the
``email`` package and reads every ``dist-info`` folder: a good part of ``runner --help``'s
start-up.  The result is kept in the user cache under a key made of every ``sys.path``
folder and its modification time: installing, upgrading or removing a distribution adds or
removes a ``dist-info`` folder, which changes its folder's time, so the key changes and the
next command scans again.  ``KAMPAI_NO_PLUGIN_CACHE=1`` always scans.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Found:
    """One entry point: what :meth:`kampai.core.host.Host.load_entry_points` needs."""

    name: str
    value: str
    distribution: str | None
    version: str | None

    def load(self) -> Any:
        module, _, attr = self.value.partition(":")
        loaded = importlib.import_module(module.strip())
        for part in filter(None, attr.strip().split(".")):
            loaded = getattr(loaded, part)
        return loaded


def _key(group: str) -> str:
    parts = [group, sys.version]
    for entry in sys.path:
        try:
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}:-")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _scan(group: str) -> list[Found]:
    from importlib import metadata

    found = []
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        found.append(Found(ep.name, ep.value, dist.metadata["Name"] if dist else None,
                           dist.version if dist else None))
    return found


def entry_points(group: str) -> list[Found]:
    """The entry points of ``group`` (from the cache when nothing was installed since)."""
    from kampai.core.envflags import env_flag

    if env_flag("KAMPAI_NO_PLUGIN_CACHE"):
        return _scan(group)
    from kampai.core.diskcache import cache_dir

    file = cache_dir() / f"entry-points-{_key(group)}.json"
    try:
        return [Found(**item) for item in json.loads(file.read_text())]
    except (OSError, ValueError, TypeError):
        pass
    found = _scan(group)
    try:
        from kampai.core.diskcache import make_cache_dir

        make_cache_dir(file.parent, "user")
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps([f.__dict__ for f in found]))
        os.replace(tmp, file)
    except OSError:
        pass  # a read-only cache only costs speed
    return found
