"""The scikit-learn framework plugin (registered through the ``kampai`` entry point ``sklearn``).

Imports nothing from scikit-learn at module import: the adapter imports it when a model
is built, and the estimator list is loaded only when an estimator is resolved or listed.
Like every plugin it imports only :mod:`kampai.plugin` and its own library.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl
from kampai.plugins.sklearn import datasets, estimators
from kampai.plugins.sklearn.framework import SklearnFramework


@hookimpl
def kampai_register_frameworks(registry: Any) -> None:
    from kampai.plugin.experiments import registry_of

    framework = SklearnFramework()
    known = registry_of("tasks")  # image-classification only where its plugin is on
    extra = tuple(t for t in framework.optional_tasks if t in known)
    if extra:
        framework.tasks = (*framework.tasks, *extra)
    registry.add(framework)


@hookimpl
def kampai_register_estimators(registry: Any) -> None:
    registry.add_kind_rule(estimators.estimator_kind)
    registry.add_source("sklearn", estimators.load_all,
                        "every estimator in sklearn.utils.discovery.all_estimators()")


@hookimpl
def kampai_register_datasets(registry: Any) -> None:
    datasets.register(registry)


@hookimpl
def kampai_resolve_metric(name: str, task: str) -> Any:
    from kampai.plugins.sklearn.scorers import scorer_metric

    return scorer_metric(name, task)


@hookimpl
def kampai_register_serializers(registry: Any) -> None:
    from kampai.plugins.sklearn import onnx_format, skops_format

    registry.add(skops_format.SERIALIZER)
    registry.add(onnx_format.SERIALIZER)
