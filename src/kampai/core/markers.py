"""The pluggy markers every kampai plugin uses: ``from kampai import hookimpl``."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "kampai"
ENTRY_POINT_GROUP = "kampai"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
