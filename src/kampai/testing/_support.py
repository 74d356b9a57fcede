"""What every conformance check shares: the task by name, its example data and default
split, a build context, a framework registered for the engine, comparing predictions."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kampai.core.contract import BuildContext, Framework, Prediction, Task, TaskData
from kampai.core.markers import hookimpl


@contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kampai-check-") as tmp:
        yield Path(tmp)


@contextmanager
def register_plugin(plugin: Any, name: str) -> Iterator[Any]:
    """Register ``plugin`` (a module or an object with ``@hookimpl`` functions) with kampai
    for the duration of the block, and unregister it after; yields the plugin.

    What it contributes (frameworks, tasks, estimators, hooks) is there inside the block and
    gone after it, so a plugin's tests never touch kampai's internals::

        with register_plugin(my_plugin, "my-plugin"):
            kampai.train(task="classification", framework="myfw", data="sklearn:iris")
    """
    from kampai.core.host import get_host

    host = get_host()
    host.register(plugin, name)  # a PluginError (nothing registered) for a bad plugin
    try:
        yield plugin
    finally:
        if host.pm.get_plugin(name) is not None:
            host.unregister(name)


class _Provides:
    """An inline plugin that registers one framework object (the round-trip check's)."""

    def __init__(self, framework: Framework) -> None:
        self.framework = framework

    @hookimpl
    def kampai_register_frameworks(self, registry: Any) -> None:
        registry.add(self.framework)


@contextmanager
def _registered(framework: Framework, who: str) -> Iterator[None]:
    """``framework`` as the engine finds it by name: the installed one when it is of the same
    class, else registered inline for the block."""
    from kampai.core.host import get_host

    registry = get_host().frameworks()
    if framework.name in registry:
        installed = registry.get(framework.name)
        if type(installed) is not type(framework):
            raise _fail(who, f"the name '{framework.name}' belongs to another installed framework "
                             f"({type(installed).__module__}.{type(installed).__name__})")
        yield
        return
    with register_plugin(_Provides(framework), f"kampai-check-{framework.name}"):
        yield


def _fail(who: str, what: str) -> AssertionError:
    return AssertionError(f"{who}: {what}")


def _task(name: str) -> Task:
    from kampai.core.host import get_host

    return get_host().task(name)


def _example(task: Task, who: str) -> tuple[TaskData, dict[str, Any]]:
    example = task.example()
    if example is None:
        raise _fail(who, f"task '{task.name}' has no example() data to check with")
    frame, data_cfg = example
    return task.prepare(frame, dict(data_cfg), training=True), dict(data_cfg)


def _model_cfg(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None) -> dict[str, Any]:
    return {"estimator": estimator or framework.default_estimator(task), "params": dict(params), "search": {}}


def _context(seed: int = 0) -> BuildContext:
    from kampai.core.diskcache import cache_dir
    from kampai.core.host import get_host

    return BuildContext(seed=seed, device="cpu", resolve=get_host().estimators().resolve, cache_dir=cache_dir())


def _split(task: Task, data: TaskData, data_cfg: dict[str, Any]) -> tuple[TaskData, TaskData]:
    """The task's default split of its example: (train, test)."""
    from kampai.core.host import get_host

    split_cfg = {"test_size": 0.3, "folds": 3, "shuffle": True, "seed": 0, **task.default_split}
    splitter = get_host().splitters().get(split_cfg["method"])
    from kampai.core.engine import fold_part

    train, test = splitter.fn(data, split_cfg)[0]
    return fold_part(data, train), fold_part(data, test)


def _rows(prediction: Prediction) -> int:
    return len(prediction.y)


def _same(a: Prediction, b: Prediction) -> bool:
    import numpy as np
    import pandas as pd

    if isinstance(a.y, pd.DataFrame):
        num = a.y.select_dtypes("number").columns
        return a.y.shape == b.y.shape and np.allclose(a.y[num].to_numpy(float), b.y[num].to_numpy(float),
                                                      equal_nan=True, atol=1e-6)
    if a.proba is not None:
        return b.proba is not None and np.allclose(np.asarray(a.proba, float), np.asarray(b.proba, float),
                                                   atol=1e-5)
    try:
        return bool(np.allclose(np.asarray(a.y, float), np.asarray(b.y, float), atol=1e-6, equal_nan=True))
    except (TypeError, ValueError):
        return list(np.asarray(a.y)) == list(np.asarray(b.y))

