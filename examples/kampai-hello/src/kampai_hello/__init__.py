"""The smallest useful kampai plugin: a framework with one NumPy model.

``runner train --task classification --framework hello --data sklearn:iris``
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kampai.plugin import BuildContext, ConfigError, Framework, Prediction, RunError, hookimpl


class NearestCentroid:
    """Predicts the class whose mean feature vector is closest (numeric columns only)."""

    def __init__(self, metric: str = "euclidean") -> None:
        self.metric = metric

    def fit(self, X: Any, y: Any) -> NearestCentroid:
        import numpy as np

        values = np.asarray(X, dtype=float)
        labels = np.asarray(y)
        self.classes_ = sorted(set(labels.tolist()))
        self.centroids_ = np.stack([values[labels == c].mean(axis=0) for c in self.classes_])
        return self

    def predict(self, X: Any) -> Any:
        import numpy as np

        values = np.asarray(X, dtype=float)
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

    def default_estimator(self, task: Any) -> str:
        return "NearestCentroid"

    def build(self, task: Any, model_cfg: dict, data: Any, ctx: BuildContext) -> NearestCentroid:
        params = dict(model_cfg.get("params") or {})
        unknown = set(params) - {"metric"}
        if unknown:
            raise ConfigError(f"Unknown parameter(s) for NearestCentroid: {sorted(unknown)}; "
                              "valid: metric.")
        return NearestCentroid(**params)

    def fit(self, model: NearestCentroid, data: Any, task: Any) -> NearestCentroid:
        return model.fit(data.X, data.y)

    def predict(self, model: NearestCentroid, data: Any, task: Any) -> Prediction:
        return Prediction(y=model.predict(data.X))

    def save(self, model: NearestCentroid, path: Path) -> None:
        payload = {"metric": model.metric, "classes": model.classes_,
                   "centroids": model.centroids_.tolist()}
        (path / "centroids.json").write_text(json.dumps(payload, default=str))

    def load(self, path: Path) -> NearestCentroid:
        import numpy as np

        try:
            payload = json.loads((path / "centroids.json").read_text())
        except (OSError, ValueError) as exc:
            raise RunError(f"No nearest-centroid model in '{path}': {exc}") from None
        model = NearestCentroid(payload["metric"])
        model.classes_ = payload["classes"]
        model.centroids_ = np.asarray(payload["centroids"])
        return model


@hookimpl
def kampai_register_frameworks(registry: Any) -> None:
    registry.add(HelloFramework())
