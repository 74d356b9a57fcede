"""Process-wide registries, each filled on first use by its registration hook."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from kampai.core import registry as r

if TYPE_CHECKING:
    from kampai.core.plugins import PluginHost


def _host() -> PluginHost:
    from kampai.core.plugins import get_host

    return get_host()


def _build(hook: str, registry: r.Registry) -> r.Registry:
    _host().call_each(hook, registry)
    return registry


@cache
def tasks() -> r.TaskRegistry:
    return _build("kampai_register_tasks", r.TaskRegistry())


@cache
def frameworks() -> r.FrameworkRegistry:
    return _build("kampai_register_frameworks", r.FrameworkRegistry())


@cache
def estimators() -> r.EstimatorRegistry:
    return _build("kampai_register_estimators", r.EstimatorRegistry())


@cache
def datasets() -> r.DatasetRegistry:
    return _build("kampai_register_datasets", r.DatasetRegistry())


@cache
def splitters() -> r.SplitterRegistry:
    return _build("kampai_register_splitters", r.SplitterRegistry())


@cache
def metrics() -> r.MetricRegistry:
    return _build("kampai_register_metrics", r.MetricRegistry())


@cache
def serializers() -> r.SerializerRegistry:
    return _build("kampai_register_serializers", r.SerializerRegistry())


ALL = {
    "tasks": tasks, "frameworks": frameworks, "estimators": estimators,
    "datasets": datasets, "splitters": splitters, "metrics": metrics,
    "serializers": serializers,
}


def reset() -> None:
    for build in ALL.values():
        build.cache_clear()
