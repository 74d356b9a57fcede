"""Computing a task's metrics on a prediction, and averaging them over folds."""

from __future__ import annotations

import contextlib
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


def labels_of(y: Any) -> list[Any] | None:
    """The full label set of the training data (sorted when the labels sort); None for a
    target that is not one column of labels (forecasting's long table, a regression target)."""
    if y is None or getattr(y, "ndim", 1) != 1:
        return None
    import pandas as pd

    if pd.api.types.is_float_dtype(getattr(y, "dtype", None)):
        return None
    values = list(pd.unique(pd.Series(y).dropna()))
    try:
        return sorted(values)
    except TypeError:
        return values


def label_array(classes: Any) -> Any:
    """``classes`` as a NumPy array in the labels' own dtype (ints, bools and floats stay
    numbers, anything else is an object array): index it with the argmax of the
    probabilities, and an integer target's predictions stay integers (its metrics need that)."""
    import numpy as np

    array = np.asarray(list(classes))
    return array if array.dtype.kind in "iubf" else np.asarray(list(classes), dtype=object)


def align(prediction: Prediction, labels: list[Any] | None) -> Prediction:
    """``prediction`` with one probability column per label of the full training label set:
    a class the fold's training data lacked gets probability 0 (the model cannot predict it)."""
    if labels is None or prediction.proba is None or prediction.classes is None:
        return prediction
    classes = list(prediction.classes)
    missing = [c for c in labels if c not in classes]
    if not missing:
        return prediction
    import numpy as np

    full = classes + missing
    with contextlib.suppress(TypeError):
        full = sorted(full)
    proba = np.asarray(prediction.proba, dtype=float)
    out = np.zeros((proba.shape[0], len(full)))
    for j, c in enumerate(classes):
        out[:, full.index(c)] = proba[:, j]
    return Prediction(y=prediction.y, proba=out, classes=full, extra=prediction.extra)


def compute(metrics: list[Metric], y_true: Any, prediction: Prediction, X: Any, *,
            labels: list[Any] | None = None,
            undefined: dict[str, str] | None = None) -> dict[str, float]:
    """Every metric that the data allows (skips proba metrics without proba, label metrics
    without labels).  ``labels`` is the full label set of the training data: probabilities
    are aligned to it, so a fold whose training part lacks a class still scores.  A metric
    the fold cannot define (ROC AUC with one class present, ...) is NaN, and its reason goes
    into ``undefined``; it never fails the run."""
    import warnings

    prediction = align(prediction, labels)
    out: dict[str, float] = {}
    for metric in metrics:
        if metric.needs_target and y_true is None:
            continue
        if metric.needs_proba and prediction.proba is None:
            continue
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                value = float(metric.fn(y_true, prediction, X))
            out[metric.name] = value
            if value != value and undefined is not None:  # NaN: sklearn says why in a warning
                undefined[metric.name] = (str(caught[-1].message).splitlines()[0] if caught
                                          else "not defined on this data")
        except ValueError as exc:  # scikit-learn's way of saying "undefined here"; other errors are bugs
            out[metric.name] = float("nan")
            if undefined is not None:
                undefined[metric.name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return out


def aggregate(per_fold: list[dict[str, float]]) -> dict[str, float]:
    """``{name: value}`` per fold -> ``{name: mean, name_std: std}``."""
    import numpy as np

    out: dict[str, float] = {}
    for name in per_fold[0]:
        values = np.array([fold[name] for fold in per_fold if name in fold], dtype=float)
        values = values[~np.isnan(values)]  # folds where the metric is undefined do not count
        out[name] = float(np.mean(values)) if len(values) else float("nan")
        out[f"{name}_std"] = float(np.std(values)) if len(values) else float("nan")
    return out

