"""The built-in tasks, registered through the ``kampai`` entry point ``tasks``.

Each task module owns its data contract, default split and metrics.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl

# the task modules are imported by the hooks that need them, not when the plugin loads
# (runner --help registers no task)


def _modules() -> tuple[Any, ...]:
    from kampai.tasks import classification, clustering, forecasting, regression, text_classification

    return classification, regression, clustering, text_classification, forecasting


@hookimpl
def kampai_register_tasks(registry: Any) -> None:
    classification, regression, clustering, text_classification, forecasting = _modules()
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
    settings.add(Setting("predict.horizon", None, "forecasting: steps to forecast after the end of the series "
                         "(default: the run's split.horizon)", option="--horizon", commands=("predict",)))


@hookimpl
def kampai_register_metrics(registry: Any) -> None:
    for module in _modules():
        for metric in module.METRICS:
            registry.add(metric)


@hookimpl
def kampai_register_datasets(registry: Any) -> None:
    from kampai.tasks import text_classification

    text_classification.register_datasets(registry)


@hookimpl
def kampai_register_splitters(registry: Any) -> None:
    from kampai.tasks import forecasting

    for name, (fn, description) in forecasting.SPLITS.items():
        registry.add(name, fn, cv=False, description=description)
