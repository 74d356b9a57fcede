"""scikit-learn's scorers as metrics: any name in ``sklearn.metrics.get_scorer_names()``
works in ``metrics:`` and ``--metric`` (answered through ``kampai_resolve_metric``)."""

from __future__ import annotations

import inspect
from typing import Any

from kampai.plugin import Metric, Prediction


def scorer_metric(name: str, task: str) -> Metric | None:
    """``sklearn.metrics.get_scorer(name)`` as a metric on predictions; None for other names."""
    from sklearn.metrics import get_scorer, get_scorer_names

    if name not in get_scorer_names():
        return None
    scorer = get_scorer(name)
    response = getattr(scorer, "_response_method", "predict")
    needs_proba = response != "predict"
    sign = getattr(scorer, "_sign", 1)
    accepted = set(inspect.signature(scorer._score_func).parameters)

    def score(y: Any, p: Prediction, X: Any) -> float:
        import numpy as np

        values = (p.proba[:, 1] if p.proba.shape[1] == 2 else p.proba) if needs_proba else p.y
        kwargs = dict(scorer._kwargs)
        classes = p.classes
        if classes is None and task == "classification":
            classes = sorted(set(np.asarray(y).tolist()) | set(np.asarray(p.y).tolist()))
        # scikit-learn's scorers assume labels 0/1 (pos_label=1); name the real classes so
        # string labels ('yes'/'no', 'benign'/'malignant') work as they do in a real scorer
        if classes is not None and len(classes) == 2 and "pos_label" in accepted and "pos_label" not in kwargs:
            kwargs["pos_label"] = classes[1]
        if needs_proba and p.classes is not None and "labels" in accepted and "labels" not in kwargs:
            kwargs["labels"] = p.classes
        return float(sign * scorer._score_func(y, values, **kwargs))

    return Metric(name, score, (task,), greater_is_better=True, needs_proba=needs_proba,
                  description=f"scikit-learn scorer '{name}'")
