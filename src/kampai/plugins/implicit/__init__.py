"""The implicit framework plugin (entry point ``implicit``): collaborative filtering with
Ben Frederickson's ``implicit`` (ALS, BPR, LMF, item-item nearest neighbours) for the
``recommendation`` task, plus a ``popular`` baseline.

Imports nothing heavy at module import: implicit, numpy and scipy are imported when a
model is built or loaded.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl


@hookimpl
def kampai_register_frameworks(registry: Any) -> None:
    from kampai.plugins.implicit.framework import ImplicitFramework  # here: --help stays light

    registry.add(ImplicitFramework())


@hookimpl
def kampai_register_estimators(registry: Any) -> None:
    from kampai.plugins.implicit.models import MODELS

    for name, (target, _, _) in MODELS.items():
        registry.add(name, target, kind="recommender", package="implicit")
