"""The task's series as Darts sees them: pandas frames <-> Darts ``TimeSeries``, the scaling
fitted on the training series, and Darts forecasts as the task's long prediction table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kampai.plugin import Prediction

if TYPE_CHECKING:
    from kampai.plugin import SeriesSet


@dataclass
class Scaling:
    """Standardize every column with the training series' mean and std (all series
    together), so neural and regression models see unit-scale inputs."""

    stats: dict[str, dict[str, tuple[float, float]]]

    @classmethod
    def fit(cls, series: SeriesSet) -> Scaling:
        import pandas as pd

        stats: dict[str, dict[str, tuple[float, float]]] = {}
        for role in ("target", "past", "future"):
            frames = getattr(series, role)
            if not frames:
                continue
            whole = pd.concat(list(frames.values()))
            std = whole.std(ddof=0).replace(0, 1.0).fillna(1.0)
            stats[role] = {str(c): (float(whole[c].mean()), float(std[c])) for c in whole.columns}
        return cls(stats)

    def apply(self, series: SeriesSet) -> SeriesSet:
        from dataclasses import replace

        def scale(frames: dict | None, role: str) -> dict | None:
            if frames is None or role not in self.stats:
                return frames
            st = self.stats[role]
            return {k: f.apply(lambda col: (col - st[str(col.name)][0]) / st[str(col.name)][1])
                    for k, f in frames.items()}

        return replace(series, target=scale(series.target, "target"), past=scale(series.past, "past"),
                       future=scale(series.future, "future"))

    def invert(self, prediction: Prediction) -> Prediction:
        import numpy as np

        table = prediction.y
        st = self.stats["target"]
        mean = table["target"].map(lambda t: st[str(t)][0]).to_numpy(float)
        std = table["target"].map(lambda t: st[str(t)][1]).to_numpy(float)
        for col in ["forecast", *[c for c in table.columns if c.startswith("q")]]:
            table[col] = table[col].to_numpy(float) * std + mean
        if prediction.proba is not None:
            qcols = [c for c in table.columns if c.startswith("q")]
            prediction.proba = np.asarray(table[qcols])
        return prediction


def _ts(value: str) -> Any:
    import pandas as pd

    try:
        return pd.Timestamp(value)
    except ValueError:
        return int(value)


def darts_freq(freq: Any) -> Any:
    """The frequency Darts gets: with pandas 3 a calendar ``Day`` offset breaks Darts'
    step arithmetic (``Timedelta // Day``), so ``D`` / ``3D`` become ``24h`` / ``72h``."""
    import re

    if isinstance(freq, int) or freq is None:
        return None
    match = re.fullmatch(r"(\d*)D", str(freq))
    return f"{24 * int(match.group(1) or 1)}h" if match else freq


def to_darts(series: SeriesSet, dtype: str | None = None) -> tuple[list, list | None, list | None]:
    """The task's pandas series as Darts TimeSeries lists (target, past, future)."""
    from darts import TimeSeries

    def convert(frames: dict | None) -> list | None:
        if frames is None:
            return None
        out = []
        freq = darts_freq(series.freq)
        for frame in frames.values():
            if freq is not None and freq != series.freq:
                frame = frame.copy()
                frame.index.freq = None
            if dtype is not None:
                frame = frame.astype(dtype)
            out.append(TimeSeries.from_dataframe(frame, freq=freq, fill_missing_dates=False))
        return out

    return convert(series.target), convert(series.past), convert(series.future)


def to_prediction(ids: list[Any], forecasts: list[list[Any]], quantiles: tuple[float, ...],
                  cutoffs: bool) -> Prediction:
    """Darts forecasts (per series, a list of forecasts) as the task's long table:
    ``series, [cutoff,] time, target, forecast, q<level>...``; ``proba`` holds the
    quantile columns when the forecasts are probabilistic."""
    import numpy as np
    import pandas as pd

    parts = []
    probabilistic = False
    for key, per_series in zip(ids, forecasts, strict=True):
        for fc in per_series:
            values = fc.all_values(copy=False)  # (time, component, sample)
            n_time, n_comp, n_samples = values.shape
            times = np.repeat(fc.time_index.to_numpy(), n_comp)
            part = {"series": [key] * (n_time * n_comp), "time": times,
                    "target": np.tile(np.asarray(fc.components, dtype=object), n_time)}
            if cutoffs:
                part = {"series": part["series"], "cutoff": [fc.time_index[0] - fc.freq] * len(times),
                        "time": times, "target": part["target"]}
            flat = values.reshape(n_time * n_comp, n_samples)
            if n_samples > 1:
                probabilistic = True
                part["forecast"] = np.median(flat, axis=1)
                for q in quantiles:
                    part[f"q{q:g}"] = np.quantile(flat, q, axis=1)
            else:
                part["forecast"] = flat[:, 0]
            parts.append(pd.DataFrame(part))
    table = pd.concat(parts, ignore_index=True)
    qcols = [c for c in table.columns if c.startswith("q")]
    proba = table[qcols].to_numpy() if probabilistic else None
    return Prediction(y=table, proba=proba, classes=[float(c[1:]) for c in qcols] if probabilistic else None)
