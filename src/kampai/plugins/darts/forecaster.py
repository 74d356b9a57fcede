"""The model the engine handles: a :class:`Forecaster`, the Darts model plus what predicting
needs later (the training series, the horizon, sampling and quantiles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kampai.plugin import Prediction
from kampai.plugins.darts import models
from kampai.plugins.darts.series import Scaling, to_darts

if TYPE_CHECKING:
    from kampai.plugin import SeriesSet

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)


@dataclass
class Forecaster:
    """A Darts model with its settings and, once fitted, the series it was fitted on."""

    model: Any
    estimator: str
    horizon: int
    num_samples: int = 1
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    series: SeriesSet | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    #: per-column (mean, std) of the training series, when ``model.scale``
    scaling: Scaling | None = None
    scale: bool = False

    def inputs(self, series: SeriesSet) -> tuple[list, list | None, list | None]:
        """Darts TimeSeries for ``series``, scaled like the training series; float32 for
        torch models (they train in the series' dtype: float64 is about twice as slow)."""
        return to_darts(self.scaling.apply(series) if self.scaling else series,
                        dtype="float32" if self.is_torch else None)

    def output(self, prediction: Prediction) -> Prediction:
        return self.scaling.invert(prediction) if self.scaling else prediction

    @property
    def is_global(self) -> bool:
        return models.is_global(type(self.model))

    @property
    def is_torch(self) -> bool:
        return models.is_torch(type(self.model))
