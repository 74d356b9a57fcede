"""The smallest useful kampai plugin: a framework with one NumPy model.

``runner train --task classification --framework hello --data sklearn:iris``
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kampai.plugin import (
    BuildContext,
    DataError,
    Framework,
    FrameworkRegistry,
    Prediction,
    RunError,
    Task,
    TaskData,
    check_params,
    hookimpl,
)


class NearestCentroid:
    """Predicts the class whose mean feature vector is closest.

    It uses the numeric columns only (text and categorical ones are left out, and named in
    ``ignored_``); a missing value does not count towards a centroid.
    """

    def __init__(self, metric: str = "euclidean") -> None:
        self.metric = metric

    def fit(self, X: Any, y: Any) -> NearestCentroid:
        import numpy as np

        numeric = X.select_dtypes("number")
        if numeric.shape[1] == 0:
            raise DataError(f"NearestCentroid needs numeric columns; these are all text or categories: "
                            f"{', '.join(map(str, X.columns))}.")
        self.columns_ = [str(c) for c in numeric.columns]
        self.ignored_ = [str(c) for c in X.columns if str(c) not in self.columns_]
        values = numeric.to_numpy(dtype=float)
        labels = np.asarray(y)
        self.classes_ = sorted(set(labels.tolist()))
        self.centroids_ = np.stack([np.nanmean(values[labels == c], axis=0) for c in self.classes_])
        return self

    def predict(self, X: Any) -> Any:
        import numpy as np

        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise DataError(f"The data lacks the column(s) the model was trained on: {', '.join(missing)}.")
        values = X[self.columns_].to_numpy(dtype=float)
        values = np.where(np.isnan(values), self.centroids_.mean(axis=0), values)  # a gap: the mean
        if self.metric == "manhattan":
            dist = np.abs(values[:, None, :] - self.centroids_[None]).sum(-1)
        else:
            dist = ((values[:, None, :] - self.centroids_[None]) ** 2).sum(-1)
        return np.asarray(self.classes_)[dist.argmin(axis=1)]


class HelloFramework(Framework):
    name = "hello"
    description = "NumPy nearest-centroid classifier (example third-party plugin)"
    tasks = ("classification",)
    packages = ("kampai-hello", "numpy")

    def default_estimator(self, task: Task) -> str:
        return "NearestCentroid"

    def build(self, task: Task, model_cfg: dict, data: TaskData, ctx: BuildContext) -> NearestCentroid:
        params = dict(model_cfg.get("params") or {})
        check_params(params, {"metric"}, "NearestCentroid")  # the did-you-mean every framework raises
        return NearestCentroid(**params)

    def fit(self, model: NearestCentroid, data: TaskData, task: Task) -> NearestCentroid:
        return model.fit(data.X, data.y)

    def predict(self, model: NearestCentroid, data: TaskData, task: Task) -> Prediction:
        return Prediction(y=model.predict(data.X))

    def save(self, model: NearestCentroid, path: Path) -> None:
        payload = {"metric": model.metric, "classes": model.classes_, "columns": model.columns_,
                   "ignored": model.ignored_, "centroids": model.centroids_.tolist()}
        (path / "centroids.json").write_text(json.dumps(payload, default=str))

    def load(self, path: Path) -> NearestCentroid:
        import numpy as np

        try:
            payload = json.loads((path / "centroids.json").read_text())
        except (OSError, ValueError) as exc:
            raise RunError(f"No nearest-centroid model in '{path}': {exc}") from None
        model = NearestCentroid(payload["metric"])
        model.classes_ = payload["classes"]
        model.columns_ = payload.get("columns") or []
        model.ignored_ = payload.get("ignored") or []
        model.centroids_ = np.asarray(payload["centroids"])
        return model


@hookimpl
def kampai_register_frameworks(registry: FrameworkRegistry) -> None:
    registry.add(HelloFramework())
