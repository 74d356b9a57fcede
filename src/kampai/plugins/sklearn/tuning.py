"""What the scikit-learn framework tells the tuner about itself (all optional parts of the
framework contract, its capabilities):

* default search spaces per estimator (``search_spaces.yaml``);
* the preprocessing/estimator split of its Pipeline, so the tuner can cache the fitted
  preprocessing per fold;
* incremental fits of warm-start ensembles (``n_estimators``) and histogram boosting
  (``max_iter``), reporting a score after each fifth of the model, for pruning.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from kampai.plugin import TaskData

INCREMENTS = 5


@cache
def _spaces() -> dict[str, Any]:
    import yaml

    text = resources.files("kampai.plugins.sklearn").joinpath("search_spaces.yaml").read_text()
    return yaml.safe_load(text) or {}


def default_search_space(estimator: str, task: Any) -> dict[str, Any]:
    """The default ``model.search`` for an estimator name or import path ({} if none)."""
    short = str(estimator).replace(":", ".").rsplit(".", 1)[-1]
    space = _spaces().get(short) or {}
    return {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in space.items()}


def split_preprocessing(model: Any) -> tuple[Any, Any]:
    """``(preprocessing, estimator)`` of a built Pipeline; ``(None, model)`` without one."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) > 1:
        pre = model[:-1]
        return (pre[0] if len(pre.steps) == 1 else pre), model.steps[-1][1]
    return None, model


def _growth_param(estimator: Any) -> str | None:
    params = estimator.get_params(deep=False)
    if "warm_start" not in params:
        return None
    for name in ("n_estimators", "max_iter"):
        if isinstance(params.get(name), int) and not type(estimator).__name__.startswith("MLP"):
            return name
    return None


def fit_incremental(model: Any, data: TaskData, task: Any, report: Callable[[int, Any], None],
                    fit: Callable[[Any, TaskData, Any], Any]) -> Any:
    """Grow a warm-start model in ``INCREMENTS`` steps, calling ``report(step, model)`` after
    each; other models are fitted in one go (no intermediate scores)."""
    from sklearn.pipeline import Pipeline

    estimator = model.steps[-1][1] if isinstance(model, Pipeline) else model
    name = _growth_param(estimator)
    if name is None:
        return fit(model, data, task)
    total = int(estimator.get_params()[name])
    sizes = sorted({max(1, round(total * (k + 1) / INCREMENTS)) for k in range(INCREMENTS)})
    for step, size in enumerate(sizes):
        estimator.set_params(warm_start=step > 0, **{name: size})
        model = fit(model, data, task)
        if size < total:
            report(step, model)
    estimator.set_params(warm_start=False)
    return model
