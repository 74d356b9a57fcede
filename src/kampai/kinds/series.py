"""Time series in pandas form: what the forecasting task gives its frameworks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SERIES = "series"  # the internal column naming a series in long tables


@dataclass(frozen=True)
class ForecastWindow:
    """What a forecasting :class:`kampai.plugin.TaskData` asks of the framework.

    ``mode`` is ``"fit"`` (training data: the model will forecast ``horizon`` steps),
    ``"holdout"`` (forecast the ``horizon`` steps after ``X``), ``"backtest"`` (historical
    forecasts from the cut-offs ``start`` every ``stride`` steps, ``window`` expanding or
    sliding over ``train_length`` steps, ``retrain`` as Darts means it) or ``"ahead"``
    (``runner predict --horizon``: forecast after the end of ``X``, or of the training
    series when ``X`` is None).
    """

    mode: str
    horizon: int
    stride: int | None = None
    window: str | None = None
    train_length: int | None = None
    retrain: Any = None
    start: dict[str, str] | None = None


@dataclass
class SeriesSet:
    """Time series in pandas form: ``target[id]`` is a frame indexed by time (one column
    per target); ``past``/``future`` hold covariate frames for the same ids."""

    target: dict[Any, pd.DataFrame]
    past: dict[Any, pd.DataFrame] | None = None
    future: dict[Any, pd.DataFrame] | None = None
    freq: Any = None
    time: str = "time"
    series_id: str | None = None
    season: int = 1

    def __len__(self) -> int:
        return sum(len(f) for f in self.target.values())

    @property
    def targets(self) -> list[str]:
        return [str(c) for c in next(iter(self.target.values())).columns]

    @property
    def ids(self) -> list[Any]:
        return list(self.target)

    def cut(self, ends: dict[Any, int], cut_future: bool = False) -> SeriesSet:
        """Every series up to position ``ends[id]`` (exclusive); future covariates stay
        whole unless ``cut_future`` (they are known ahead)."""
        def head(frames: dict | None, keep_all: bool) -> dict | None:
            if frames is None:
                return None
            return {k: (f if keep_all else f.iloc[:ends[k]]) for k, f in frames.items()}

        return replace(self, target=head(self.target, False), past=head(self.past, False),
                       future=head(self.future, not cut_future))

    def long(self, frames: dict[Any, pd.DataFrame] | None = None, value: str = "actual") -> pd.DataFrame:
        """``series, time, target, <value>`` rows for ``frames`` (default: the targets)."""
        import numpy as np
        import pandas as pd

        keys, times, targets, values = [], [], [], []
        for key, frame in (frames or self.target).items():
            n, cols = len(frame), [str(c) for c in frame.columns]
            keys.append(np.full(n * len(cols), key, dtype=object))
            times.append(np.tile(frame.index.to_numpy(), len(cols)))
            targets.append(np.repeat(np.asarray(cols, dtype=object), n))
            values.append(frame.to_numpy(float).T.reshape(-1))
        return pd.DataFrame({SERIES: np.concatenate(keys), "time": np.concatenate(times),
                             "target": np.concatenate(targets), value: np.concatenate(values)})


