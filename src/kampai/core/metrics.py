"""Computing a task's metrics on a prediction, and averaging them over folds."""

from __future__ import annotations

from typing import Any

from kampai.core.contract import Metric, Prediction, Task
from kampai.core.errors import unknown
from kampai.core.host import get_host


def resolve(task: Task, names: list[str] | None) -> list[Metric]:
    """The metrics to compute: the config's names, else the task's defaults.

    A name that no plugin registered for the task may still be one a plugin resolves
    (``kampai_resolve_metric``: the scikit-learn plugin knows every scikit-learn scorer).
    """
    host = get_host()
    known = {m.name: m for m in host.metrics().for_task(task.name)}
    out = []
    for name in names or task.default_metrics:
        metric = known.get(name) or host.hook.kampai_resolve_metric(name=name, task=task.name)
        if metric is None:
            raise unknown(f"metric for task '{task.name}'", name, list(known),
                          "Any scikit-learn scorer name works too (sklearn.metrics.get_scorer_names()).")
        out.append(metric)
    return out


def compute(metrics: list[Metric], y_true: Any, prediction: Prediction, X: Any) -> dict[str, float]:
    """Every metric that the data allows (skips proba metrics without proba, label metrics
    without labels)."""
    out: dict[str, float] = {}
    for metric in metrics:
        if metric.needs_target and y_true is None:
            continue
        if metric.needs_proba and prediction.proba is None:
            continue
        out[metric.name] = metric.fn(y_true, prediction, X)
    return out


def aggregate(per_fold: list[dict[str, float]]) -> dict[str, float]:
    """``{name: value}`` per fold -> ``{name: mean, name_std: std}``."""
    import numpy as np

    out: dict[str, float] = {}
    for name in per_fold[0]:
        values = np.array([fold[name] for fold in per_fold if name in fold], dtype=float)
        out[name] = float(np.mean(values))
        out[f"{name}_std"] = float(np.std(values))
    return out
