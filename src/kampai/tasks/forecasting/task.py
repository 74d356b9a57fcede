"""The ``forecasting`` task: its data contract (series from a table), default split, and
predictions (the long forecast table, the forecast plot).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from kampai.plugin import SERIES, ConfigError, DataError, Prediction, SeriesSet, Task, TaskData, did_you_mean
from kampai.tasks.forecasting.data import (
    FILL_POLICIES,
    _as_list,
    _check_columns,
    _parse_time,
    find_time_column,
    infer_freq,
    season_of,
)
from kampai.tasks.forecasting.metrics import _keys
from kampai.tasks.forecasting.splits import holdout

if TYPE_CHECKING:
    import pandas as pd


class Forecasting(Task):
    """Forecast the next steps of one or more time series."""

    name = "forecasting"
    description = "forecast the next steps of one or more time series"
    needs_target = True
    default_split: ClassVar[dict[str, Any]] = {"method": "holdout", "refit": True}
    default_metrics = ("mase", "mae", "rmse", "smape", "mape", "coverage", "quantile_loss")
    #: config keys this task adds to the ``data`` and ``split`` sections
    data_keys = ("series_id", "past_covariates", "future_covariates", "freq", "fill", "season")
    split_keys = ("horizon", "start", "stride", "window", "train_length", "retrain")
    input_kind = "series"
    target_kind = "series"
    #: ``predict`` forecasts ``horizon`` steps ahead (``--horizon``; new data optional);
    #: forecast.png in every run; ``runner evaluate`` scores the last horizon steps of new data
    predict_keys = ("horizon",)
    plot_files = ("forecast.png",)
    capabilities = frozenset({"predict_options", "artifacts", "evaluation_split"})

    # ---------------------------------------------------------------- data contract

    def example(self) -> tuple[Any, dict[str, Any]]:
        from kampai.plugin.io import read_frame

        return read_frame("statsmodels:co2").tail(96).reset_index(drop=True), {}

    def prepare(self, frame: pd.DataFrame, data_cfg: dict[str, Any], *, training: bool) -> TaskData:
        import pandas as pd

        time_col = find_time_column(frame, data_cfg.get("time"))
        series_id = data_cfg.get("series_id") or data_cfg.get("group")
        past, future = _as_list(data_cfg.get("past_covariates")), _as_list(data_cfg.get("future_covariates"))
        _check_columns(frame, [c for c in [series_id] if c], "series_id")
        _check_columns(frame, past, "past_covariates")
        _check_columns(frame, future, "future_covariates")
        drop = [c for c in _as_list(data_cfg.get("drop")) if c in frame.columns]
        targets = _as_list(data_cfg.get("target"))
        if targets:
            _check_columns(frame, targets, "target")
        else:
            used = {time_col, series_id, *past, *future, *drop}
            targets = [str(c) for c in frame.columns
                       if c not in used and pd.api.types.is_numeric_dtype(frame[c])]
            if not targets:
                raise DataError("No numeric target column found: set data.target.")
        for col in targets + past + future:
            if not pd.api.types.is_numeric_dtype(frame[col]):
                raise DataError(f"Column '{col}' must be numeric for forecasting; it is {frame[col].dtype}.")
        fill = data_cfg.get("fill") or "interpolate"
        if fill not in FILL_POLICIES:
            raise ConfigError(f"data.fill={fill!r} is not a fill policy.{did_you_mean(str(fill), FILL_POLICIES)}"
                              f" Choose one of: {', '.join(FILL_POLICIES)}.")
        frame = frame.assign(**{time_col: _parse_time(frame, time_col)})
        groups = frame.groupby(series_id, sort=True) if series_id else [(targets[0] if len(targets) == 1
                                                                         else "series", frame)]
        sets: dict[str, dict[Any, pd.DataFrame]] = {"target": {}, "past": {}, "future": {}}
        freq, gaps = None, []
        for key, part in groups:
            part = part.sort_values(time_col)
            if part[time_col].duplicated().any():
                dup = part[time_col][part[time_col].duplicated()].iloc[0]
                raise DataError(f"Time column '{time_col}' repeats {dup}"
                                + (f" in series '{key}'" if series_id else "")
                                + ("" if series_id else "; several series need data.series_id") + ".")
            indexed = part.set_index(time_col)
            indexed.index.name = time_col
            freq = freq or infer_freq(indexed.index, data_cfg.get("freq"))
            full = self._regular_index(indexed.index, freq)
            indexed = indexed.reindex(full)
            known = indexed[targets].notna().any(axis=1).to_numpy()
            if not known.any():
                raise DataError(f"Series '{key}' has no target values.")
            # rows after the last target value only carry future covariates (known ahead)
            last = int(known.nonzero()[0][-1]) + 1
            ahead = indexed.iloc[last:]
            indexed = indexed.iloc[:last]
            missing = indexed[targets + past + future].isna().any(axis=1)
            if missing.any():
                first = indexed.index[missing.to_numpy()][0]
                gaps.append((key, int(missing.sum()), first.date() if hasattr(first, "date") and
                             first == first.normalize() else first))
            for role, cols in (("target", targets), ("past", past), ("future", future)):
                if cols:
                    sets[role][key] = indexed[cols].astype(float)
            if future and len(ahead):
                sets["future"][key] = pd.concat([sets["future"][key], ahead[future].astype(float)])
        if gaps:
            self._fill(sets, gaps, fill)
        season = int(data_cfg.get("season") or season_of(freq))
        series = SeriesSet(target=sets["target"], past=sets["past"] or None, future=sets["future"] or None,
                           freq=freq, time=time_col, series_id=series_id, season=season)
        info = {"features": past + future or None, "targets": targets, "freq": str(freq),
                "series": len(series.target), "season": season,
                "gaps": sum(g[1] for g in gaps), "fill": fill, "forecasting": True}
        return TaskData(X=series, y=series.long(), info=info)

    def signature(self, data: TaskData) -> dict[str, Any]:
        """The history a server may take (time column, targets, series id, covariates) and
        the frequency; a request asks for ``horizon`` steps."""
        series = data.X

        def columns(frames: Any) -> list[str]:
            return [str(c) for c in next(iter(frames.values())).columns] if frames else []

        return {"input_kind": self.input_kind, "time": series.time, "targets": series.targets,
                "series_id": series.series_id, "series": [str(k) for k in series.ids][:1000],
                "past_covariates": columns(series.past), "future_covariates": columns(series.future),
                "freq": str(series.freq), "season": series.season}

    @staticmethod
    def _regular_index(index: pd.Index, freq: Any) -> pd.Index:
        import pandas as pd

        if isinstance(index, pd.DatetimeIndex):
            full = pd.date_range(index[0], index[-1], freq=freq, name=index.name)
            off_grid = index.difference(full)
            if len(off_grid):
                raise DataError(f"{len(off_grid)} time stamps are off the '{freq}' grid (first: {off_grid[0]}); "
                                "set data.freq to the data's real frequency.")
            return full
        return pd.RangeIndex(int(index[0]), int(index[-1]) + 1, int(freq), name=index.name)

    @staticmethod
    def _fill(sets: dict[str, dict], gaps: list, policy: str) -> None:
        total = sum(g[1] for g in gaps)
        where = ", ".join(f"{n} in '{k}' (first {t})" for k, n, t in gaps[:3])
        if policy == "error":
            raise DataError(f"The series have {total} missing time steps or values: {where}. Set data.fill "
                            f"to one of {', '.join(p for p in FILL_POLICIES if p != 'error')} to fill them.")
        from kampai.plugin.cli import console

        console().print(f"[yellow]![/yellow] {total} missing time steps/values ({where}) filled by "
                        f"data.fill={policy}")
        for frames in sets.values():
            for key, frame in frames.items():
                if policy == "interpolate":
                    frame = frame.interpolate(limit_direction="both")
                elif policy == "ffill":
                    frame = frame.ffill().bfill()
                else:
                    frame = frame.fillna(0.0)
                frames[key] = frame

    # ---------------------------------------------------------------- predictions
    def format_predictions(self, data: TaskData, prediction: Prediction) -> pd.DataFrame:
        table = prediction.y.copy()
        ahead = data.window is not None and data.window.mode == "ahead"
        if data.y is not None and not ahead and "actual" not in table.columns:
            table = table.merge(data.y, on=_keys(table, data.y), how="left")
            cols = [c for c in table.columns if c != "actual"]
            table = table[[*cols[:cols.index("forecast")], "actual", *cols[cols.index("forecast"):]]]
        series = data.X if isinstance(data.X, SeriesSet) else None
        names = prediction.y.attrs  # set by the framework when it forecast from its own series
        id_col = series.series_id if series is not None else names.get("series_id")
        table = table.rename(columns={SERIES: id_col}) if id_col else table.drop(columns=[SERIES])
        time_name = series.time if series is not None else names.get("time")
        if time_name and time_name not in table.columns:
            table = table.rename(columns={"time": time_name})
        return table.reset_index(drop=True)

    def predict_input(self, data: TaskData | None, options: dict[str, Any], config: dict[str, Any]) -> TaskData:
        """``predict.horizon`` steps after the end of the new history (``data``) or, without
        data, of the series the model was trained on; no horizon: the run's ``split.horizon``
        (the framework's own)."""
        from kampai.plugin import ForecastWindow

        for key in options:
            if key not in self.predict_keys:
                raise ConfigError(f"Unknown predict option '{key}' for forecasting."
                                  f"{did_you_mean(key, self.predict_keys)} Known: {', '.join(self.predict_keys)}.")
        given, horizon = options.get("horizon"), None
        if given is not None:  # a number from the API, a string from the command line
            try:
                horizon = 0 if isinstance(given, (bool, float)) else int(given)
            except (TypeError, ValueError):
                horizon = 0
            if horizon < 1:
                raise ConfigError(f"--horizon must be a positive integer, got {given!r}.")
        out = TaskData(X=None) if data is None else data
        out.window = ForecastWindow(mode="ahead", horizon=horizon)  # type: ignore[arg-type]
        return out

    def baseline(self, train: TaskData, test: TaskData, *, seed: int) -> tuple[str, Prediction] | None:
        """The seasonal naive forecast (the one MASE is scaled by)."""
        from kampai.tasks.forecasting.metrics import seasonal_naive

        if not isinstance(test.X, SeriesSet) or test.y is None:
            return None
        season = test.X.season
        return ("seasonal naive" if season > 1 else "naive"), seasonal_naive(test.X, test.y)

    def evaluation_split(self, data: TaskData, split_cfg: dict[str, Any]) -> TaskData:
        """``runner evaluate``: forecast the last ``horizon`` steps of the new data from the
        steps before them (the run's horizon)."""
        return holdout(data, {"horizon": split_cfg.get("horizon")})[0][1]

    def write_artifacts(self, run_dir: Path, data: TaskData, predictions: pd.DataFrame) -> list[Path]:
        """``forecast.png``: history, the test actuals and the forecasts (with intervals)."""
        from kampai.tasks.forecasting.plot import plot_forecasts

        return [plot_forecasts(run_dir / self.plot_files[0], data.X, predictions)]
