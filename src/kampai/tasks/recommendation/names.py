"""The recommendation task's name and the bounds of ``k`` (the length of a ranking), shared
by its splits, metrics and task."""

from __future__ import annotations

NAME = "recommendation"


DEFAULT_K = 10


#: the longest list of recommendations a predict gives per user or item
MAX_K = 10_000

