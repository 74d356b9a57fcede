"""The built-in tasks, registered through the ``kampai`` entry point ``tasks``.

Each task module owns its data contract, default split and metrics.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl
from kampai.tasks import classification, clustering, forecasting, regression, text_classification

_MODULES = (classification, regression, clustering, text_classification, forecasting)


@hookimpl
def kampai_register_tasks(registry: Any) -> None:
    registry.add(classification.Classification())
    registry.add(regression.Regression())
    registry.add(clustering.Clustering())
    registry.add(text_classification.TextClassification())
    registry.add(forecasting.Forecasting())


@hookimpl
def kampai_add_settings(settings: Any) -> None:
    from kampai.plugin import Setting

    settings.add(Setting("data.text", None, "text column for text tasks; null = the one free-text column",
                         type=str, option="--text"))


@hookimpl
def kampai_register_metrics(registry: Any) -> None:
    for module in _MODULES:
        for metric in module.METRICS:
            registry.add(metric)


@hookimpl
def kampai_register_datasets(registry: Any) -> None:
    text_classification.register_datasets(registry)


@hookimpl
def kampai_register_splitters(registry: Any) -> None:
    for name, (fn, description) in forecasting.SPLITS.items():
        registry.add(name, fn, cv=False, description=description)
