"""The built-in tasks, registered through the ``kampai`` entry point ``tasks``.

Each task module owns its data contract, default split and metrics.
"""

from __future__ import annotations

from typing import Any

from kampai.core.markers import hookimpl
from kampai.tasks import classification, clustering, regression

_MODULES = (classification, regression, clustering)


@hookimpl
def kampai_register_tasks(registry: Any) -> None:
    registry.add(classification.Classification())
    registry.add(regression.Regression())
    registry.add(clustering.Clustering())


@hookimpl
def kampai_register_metrics(registry: Any) -> None:
    for module in _MODULES:
        for metric in module.METRICS:
            registry.add(metric)
