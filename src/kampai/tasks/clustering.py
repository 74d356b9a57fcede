"""Clustering: group rows without labels; a label column, if given, scores the clusters."""

from __future__ import annotations

from typing import Any, ClassVar

from kampai.plugin import Metric, Prediction, TaskData
from kampai.tasks.base import TabularTask


class Clustering(TabularTask):
    name = "clustering"
    target_kind = "clusters"
    plots = ("cluster_sizes",)
    description = "group rows into clusters (a label column, if given, only scores them)"
    needs_target = False
    default_split: ClassVar[dict[str, Any]] = {"method": "none"}
    default_metrics = ("silhouette", "calinski_harabasz", "davies_bouldin", "ari", "nmi")

    def example(self) -> tuple[Any, dict[str, Any]]:
        from kampai.plugin.io import read_frame

        return read_frame("sklearn:iris").drop(columns="target"), {}

    def baseline(self, train: TaskData, test: TaskData, *, seed: int) -> tuple[str, Prediction] | None:
        """k-means with the model's number of clusters (noise, -1, not counted), on the
        standardized, one-hot encoded table; None when the model found fewer than 2."""
        import numpy as np

        from kampai.tasks import reference

        model = test.info.get("prediction")
        if model is None:
            return None
        labels = set(np.asarray(model.y).tolist()) - {-1}
        if len(labels) < 2 or len(labels) >= len(reference.sample(train, seed)):
            return None
        return f"k-means (k={len(labels)})", reference.kmeans(train, test, seed, len(labels))


def _numeric(X: Any) -> Any:
    """Internal cluster metrics need numbers: one-hot encode and fill like the pipeline."""
    import pandas as pd

    frame = pd.get_dummies(X, dummy_na=False).astype(float)
    return frame.fillna(frame.mean()).fillna(0.0).to_numpy()


def _n_clusters_ok(p: Prediction) -> bool:
    import numpy as np

    return len(set(np.asarray(p.y).tolist())) > 1


def _internal(fn_name: str):

    def score(y: Any, p: Prediction, X: Any) -> float:
        import sklearn.metrics as m
        from sklearn.preprocessing import StandardScaler

        if not _n_clusters_ok(p):
            return float("nan")
        return float(getattr(m, fn_name)(StandardScaler().fit_transform(_numeric(X)), p.y))

    return score


def _ari(y: Any, p: Prediction, X: Any) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(y, p.y))


def _nmi(y: Any, p: Prediction, X: Any) -> float:
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(y, p.y))


TASKS = ("clustering",)
METRICS = [
    Metric("silhouette", _internal("silhouette_score"), TASKS, needs_target=False,
           description="cohesion vs separation, on standardized features"),
    Metric("calinski_harabasz", _internal("calinski_harabasz_score"), TASKS, needs_target=False,
           description="between/within dispersion ratio, on standardized features"),
    Metric("davies_bouldin", _internal("davies_bouldin_score"), TASKS, greater_is_better=False,
           needs_target=False, description="average similarity of each cluster to its closest"),
    Metric("ari", _ari, TASKS, description="adjusted Rand index against the label column"),
    Metric("nmi", _nmi, TASKS, description="normalized mutual information against the labels"),
]
