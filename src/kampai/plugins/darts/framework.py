"""The Darts framework adapter: any Darts forecasting model, fitted on the forecasting
task's series, evaluated on a holdout or by Darts' historical forecasts, saved with Darts'
own ``save``/``load``.

The model the engine handles is a :class:`Forecaster`: the Darts model plus what
predicting needs later (the training series, the horizon, sampling and quantiles).

Each job lives in its own module; :class:`DartsFramework` is assembled from them.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import Framework
from kampai.plugins.darts import models
from kampai.plugins.darts.building import AUTO, DEFAULT_MODEL, Building
from kampai.plugins.darts.model_file import ModelFile
from kampai.plugins.darts.predicting import Predicting
from kampai.plugins.darts.search_spaces import SEARCH_SPACES, TORCH_SPACE
from kampai.plugins.darts.series import Scaling  # noqa: F401 (run folders saved before the split pickled it from here)
from kampai.plugins.darts.training import Training


class DartsFramework(Building, Training, Predicting, ModelFile, Framework):
    """Darts: statistical, regression and torch forecasting models behind one adapter."""

    name = "darts"
    description = "Darts forecasting models (statistical, regression, torch), by name"
    tasks = ("forecasting",)
    model_keys = ("epochs", "batch_size", "early_stopping", "num_samples", "quantiles", "scale")
    extra = "darts"
    requires = ("darts",)
    packages = ("darts", "torch", "statsmodels")
    capabilities = frozenset({"device", "search_space", "incremental", "distributed"})

    def default_estimator(self, task: Any) -> str:
        """``auto``: ExponentialSmoothing for one series, LinearRegressionModel for several
        (the data's shape is known when the model is built; the run records the one taken)."""
        return AUTO

    # ------------------------------------------------------------------ tuning (runner tune)
    def default_search_space(self, estimator: str, task: Any) -> dict[str, Any]:
        """A small ``model.search`` per model family (see kampai.core.tuning.space)."""
        try:
            cls = models.resolve(DEFAULT_MODEL if estimator == AUTO else estimator)
        except Exception:
            return {}
        return dict(SEARCH_SPACES.get(cls.__name__) or (TORCH_SPACE if models.is_torch(cls) else {}))
