"""Labelling new rows with a clusterer that has no ``predict`` (DBSCAN, AgglomerativeClustering,
OPTICS, SpectralClustering, HDBSCAN).

Such a clusterer only labels the rows it was fitted on (``labels_``).  Re-clustering new
rows with the fitted params (what ``fit_predict`` on them would do) gives labels that mean
nothing next to the training ones, so kampai labels a new row by a fixed rule, computed in
the space of the preprocessing *fitted at training time* (it is never refitted):

* ``nearest_core_sample`` (DBSCAN): the label of the nearest core sample when it lies
  within ``eps`` (DBSCAN's own neighbourhood), else noise (``-1``) -- scikit-learn's
  recipe for DBSCAN on new data;
* ``nearest_training_sample`` (every other one): the label of the nearest training row
  (1-nearest neighbour on the fitted labels; noise stays noise).

A training row predicted again gets its own label back (a DBSCAN border point reachable
from two clusters takes the nearest core sample's).  The rule, with its parameters, is
stored on the fitted estimator (:data:`RULE_ATTR`) and written to the run's
``model/model.json`` as ``predict_rule``.  A clusterer fitted on a precomputed distance
matrix cannot label new rows: predicting says so.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import RunError

RULE_ATTR = "kampai_predict_rule_"
#: metrics NearestNeighbors accepts that a clusterer's ``metric`` may name
_METRICS = {"euclidean", "l1", "l2", "manhattan", "cosine", "cityblock", "minkowski", "chebyshev"}


def is_transductive(estimator: Any) -> bool:
    """A clusterer that labels only its training rows (``fit_predict``, no ``predict``)."""
    return not hasattr(estimator, "predict") and hasattr(estimator, "fit_predict")


def _metric(estimator: Any) -> tuple[str | None, dict[str, Any]]:
    """The distance the clusterer used, for NearestNeighbors; ``(None, {})`` when none fits."""
    params = estimator.get_params(deep=False)
    metric = params.get("metric") or params.get("affinity") or "euclidean"
    if metric == "precomputed":
        return None, {}
    if not isinstance(metric, str) or metric not in _METRICS:
        metric = "euclidean"  # affinities such as rbf / nearest_neighbors (SpectralClustering)
    extra = {"p": params["p"]} if metric == "minkowski" and params.get("p") else {}
    return metric, extra


def attach_rule(estimator: Any, Xt: Any) -> None:
    """After ``fit``: store on ``estimator`` how :func:`label_new` labels new rows;
    ``Xt`` is the training data as the estimator saw it (after preprocessing)."""
    import numpy as np
    from sklearn.neighbors import NearestNeighbors

    labels = np.asarray(estimator.labels_)
    metric, extra = _metric(estimator)
    name = type(estimator).__name__
    if metric is None:
        setattr(estimator, RULE_ATTR, {"rule": None, "estimator": name,
                                       "reason": "it was fitted on a precomputed distance matrix"})
        return
    core = getattr(estimator, "core_sample_indices_", None)
    if core is not None and hasattr(estimator, "components_") and "eps" in estimator.get_params():
        points, point_labels = np.asarray(estimator.components_), labels[np.asarray(core, dtype=int)]
        rule = {"rule": "nearest_core_sample", "estimator": name, "radius": float(estimator.eps),
                "description": f"label of the nearest core sample within eps={estimator.eps:g} "
                               f"({metric}), else noise (-1)"}
    else:
        points, point_labels = np.asarray(Xt), labels
        rule = {"rule": "nearest_training_sample", "estimator": name, "radius": None,
                "description": f"label of the nearest training row ({metric} distance)"}
    rule.update(metric=metric, points=len(points), labels=point_labels,
                index=NearestNeighbors(n_neighbors=1, metric=metric, **extra).fit(points) if len(points) else None)
    setattr(estimator, RULE_ATTR, rule)


def describe_rule(estimator: Any) -> dict[str, Any] | None:
    """The stored rule without its arrays (for model.json); None for an inductive estimator."""
    rule = getattr(estimator, RULE_ATTR, None)
    if rule is None:
        return None
    return {k: v for k, v in rule.items() if k not in ("labels", "index")}


def label_new(estimator: Any, Xt: Any) -> Any:
    """Labels of the (preprocessed) rows ``Xt`` by the rule stored at fit time."""
    import numpy as np

    name = type(estimator).__name__
    rule = getattr(estimator, RULE_ATTR, None)
    if rule is None:
        raise RunError(f"{name} cannot label new rows and this model stores no labelling rule "
                       "(it was trained by an older kampai): train it again.")
    if rule["rule"] is None:
        raise RunError(f"{name} cannot label new rows: {rule['reason']}.")
    n = Xt.shape[0]
    if rule["index"] is None:  # DBSCAN found no core sample: everything is noise
        return np.full(n, -1, dtype=int)
    distance, nearest = rule["index"].kneighbors(Xt, n_neighbors=1)
    labels = np.asarray(rule["labels"])[nearest[:, 0]].copy()
    if rule["radius"] is not None:
        labels[distance[:, 0] > rule["radius"]] = -1
    return labels
