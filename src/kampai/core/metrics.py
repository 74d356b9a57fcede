"""Computing a task's metrics on a prediction, and averaging them over folds."""

from __future__ import annotations

from typing import Any

from kampai.core import registries
from kampai.core.errors import unknown
from kampai.core.spec import Metric, Prediction, Task


def resolve(task: Task, names: list[str] | None) -> list[Metric]:
    """The metrics to compute: the config's names, else the task's defaults.

    A name that no plugin registered for the task may still be a scikit-learn scorer
    (``neg_median_absolute_error``, ``precision_macro`` ...).
    """
    registry = registries.metrics()
    known = {m.name: m for m in registry.for_task(task.name)}
    out = []
    for name in names or task.default_metrics:
        if name in known:
            out.append(known[name])
        else:
            out.append(sklearn_scorer(name, task, list(known)))
    return out


def sklearn_scorer(name: str, task: Task, known: list[str]) -> Metric:
    """Wrap ``sklearn.metrics.get_scorer(name)`` as a metric on predictions."""
    from sklearn.metrics import get_scorer, get_scorer_names

    if name not in get_scorer_names():
        raise unknown(f"metric for task '{task.name}'", name, known,
                      "Any scikit-learn scorer name works too (sklearn.metrics.get_scorer_names()).")
    scorer = get_scorer(name)
    response = getattr(scorer, "_response_method", "predict")
    needs_proba = response != "predict"
    sign = getattr(scorer, "_sign", 1)
    import inspect

    accepted = set(inspect.signature(scorer._score_func).parameters)

    def score(y: Any, p: Prediction, X: Any) -> float:
        import numpy as np

        values = (p.proba[:, 1] if p.proba.shape[1] == 2 else p.proba) if needs_proba else p.y
        kwargs = dict(scorer._kwargs)
        classes = p.classes
        if classes is None and task.name == "classification":
            classes = sorted(set(np.asarray(y).tolist()) | set(np.asarray(p.y).tolist()))
        # scikit-learn's scorers assume labels 0/1 (pos_label=1); name the real classes so
        # string labels ('yes'/'no', 'benign'/'malignant') work as they do in a real scorer
        if classes is not None and len(classes) == 2 and "pos_label" in accepted and "pos_label" not in kwargs:
            kwargs["pos_label"] = classes[1]
        if needs_proba and p.classes is not None and "labels" in accepted and "labels" not in kwargs:
            kwargs["labels"] = p.classes
        return float(sign * scorer._score_func(y, values, **kwargs))

    return Metric(name, score, (task.name,), greater_is_better=True, needs_proba=needs_proba,
                  description=f"scikit-learn scorer '{name}'")


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
