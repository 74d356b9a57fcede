"""Each step of a run between its lifecycle hooks: build, fit, predict, evaluate and save a
model, with ``kampai_before_<step>`` / ``kampai_after_<step>`` / ``kampai_on_<step>_error``
called around it (none inside a tuning trial, see :func:`_relay`).  Training, a saved run's
actions and the tuning objective all go through these.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kampai.core import metrics as metrics_mod
from kampai.core.contract import BuildContext, Prediction, RunContext, TaskData
from kampai.core.devices import Device
from kampai.core.host import get_host
from kampai.core.hosted import model_store
from kampai.core.progress import every as progress_every
from kampai.core.progress import step_heartbeat
from kampai.core.runs import dir_size
from kampai.core.typed import Config


class _Silent:
    """A hook relay that calls nothing (tuning trials: search mode)."""

    def __getattr__(self, name: str) -> Any:
        return lambda **kwargs: []


def _relay(ctx: RunContext) -> Any:
    """The plugins' hooks, or none for a tuning trial (``ctx.quiet``): a trial reports once
    through ``kampai_after_trial`` instead of per fit/predict/evaluate."""
    return _Silent() if ctx.quiet else get_host().observers


@contextmanager
def _observed(ctx: RunContext, step: str, **before: Any) -> Iterator[None]:
    """Call ``kampai_before_<step>`` / ``kampai_on_<step>_error`` around a block."""
    hook = _relay(ctx)
    getattr(hook, f"kampai_before_{step}")(ctx=ctx, **before)
    try:
        yield
    except BaseException as exc:
        getattr(hook, f"kampai_on_{step}_error")(ctx=ctx, error=exc)
        raise


def build_context(ctx: RunContext) -> BuildContext:
    """What ``framework.build`` gets: seed, device, the estimator resolver, folders."""
    from kampai.core import distributed
    from kampai.core.diskcache import cache_dir

    group = distributed.current()  # a torchrun worker's process group (runner train --nproc-per-node)
    device = Device.parse(ctx.config.get("device"))
    return BuildContext(seed=Config.of(ctx.config).seed, device=group.device(device) if group else device,
                        resolve=get_host().estimators().resolve, cache_dir=cache_dir(),
                        run_dir=None if ctx.quiet else ctx.run_dir, config=ctx.config, distributed=group)


def build_model(ctx: RunContext, model_cfg: dict[str, Any], data: TaskData) -> Any:
    """``framework.build`` with the run's :class:`BuildContext`."""
    return ctx.framework.build(ctx.task, model_cfg, data, build_context(ctx))


def fit(ctx: RunContext, model_cfg: dict[str, Any], data: TaskData) -> tuple[Any, float]:
    framework, task = ctx.framework, ctx.task
    with _observed(ctx, "fit", data=data):
        model = build_model(ctx, model_cfg, data)
        start = time.perf_counter()
        built = model  # what the fit fills in, read by the progress line of a long fit
        with step_heartbeat(lambda: framework.fit_progress(built), progress_every(ctx.config)):
            model = framework.fit(model, data, task)
        seconds = time.perf_counter() - start
    _relay(ctx).kampai_after_fit(ctx=ctx, model=model, seconds=seconds)
    return model, seconds


def predict_data(ctx: RunContext, model: Any, data: TaskData) -> Prediction:
    with _observed(ctx, "predict", data=data):
        prediction = ctx.framework.predict(model, data, ctx.task)
    _relay(ctx).kampai_after_predict(ctx=ctx, prediction=prediction)
    return prediction


def evaluate_data(ctx: RunContext, metrics: list, data: TaskData, prediction: Prediction,
                  announce: bool = True, *, labels: list | None = None,
                  undefined: dict[str, str] | None = None) -> dict[str, float]:
    """The metrics on ``data``; ``labels`` is the training data's full label set (see
    :func:`kampai.core.metrics.compute`), ``undefined`` collects why a metric is NaN."""
    with _observed(ctx, "evaluate", data=data):
        scores = metrics_mod.compute(metrics, data.y, prediction, data.X, labels=labels,
                                     undefined=undefined)
    if announce:
        _relay(ctx).kampai_after_evaluate(ctx=ctx, metrics=scores)
    return scores


#: training rows a serializer that asks for an example gets (``Serializer.example``)
EXAMPLE_ROWS = 1000


def save_model(ctx: RunContext, model: Any, path: Path, example: TaskData | None = None) -> int:
    """The model into ``path`` through the framework or the chosen serializer; a serializer
    that asks for an example (``Serializer.example``) gets up to 1,000 of ``example``'s rows."""
    import numpy as np

    path.mkdir(parents=True, exist_ok=True)
    store = model_store(ctx.config)
    with _observed(ctx, "serialize", path=path):
        if getattr(store, "example", False):
            rows = None if example is None else example.take(np.arange(min(len(example), EXAMPLE_ROWS)))
            store.save(model, path, rows)
        else:
            store.save(model, path)
    size = dir_size(path)
    get_host().observers.kampai_after_serialize(ctx=ctx, path=path, size_bytes=size)
    return size

