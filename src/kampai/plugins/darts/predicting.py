"""Forecasting with a fitted Darts model: ahead of the history, or a backtest over the
split's cut-offs (Darts' historical forecasts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampai.plugin import ConfigError, DataError, Prediction, TaskData
from kampai.plugins.darts.forecaster import Forecaster
from kampai.plugins.darts.series import _ts, to_prediction
from kampai.plugins.darts.training import _quiet

if TYPE_CHECKING:
    from kampai.plugin import SeriesSet


class Predicting:
    """The Darts adapter's ``predict`` (``self._covariates`` is :class:`~.training.Training`'s)."""

    def predict(self, model: Forecaster, data: TaskData, task: Any) -> Prediction:
        window = data.window
        if window is not None and window.mode == "backtest":
            return self._backtest(model, data)
        history = data.X if data.X is not None else model.series
        horizon = int(window.horizon if window is not None and window.horizon else model.horizon)
        return self._forecast(model, history, horizon, same=history is model.series)

    def _forecast(self, model: Forecaster, history: SeriesSet, horizon: int, same: bool) -> Prediction:
        target, past, future = model.inputs(history)
        darts_model = model.model
        if not same and not model.is_global:
            # a local model forecasts only from the end of its own training series:
            # refit the same configuration on the newer history
            darts_model = darts_model.untrained_model()
            kwargs = {k: v[0] for k, v in self._covariates(model, past, future).items()}
            with _quiet():
                darts_model.fit(target[0], **kwargs)
        kwargs = self._covariates(model, past, future)
        if model.is_global:
            kwargs["series"] = target
        else:
            kwargs = {k: v[0] for k, v in kwargs.items() if k == "future_covariates"}
        if model.is_torch:
            kwargs["verbose"] = False
        try:
            with _quiet():
                forecasts = darts_model.predict(horizon, num_samples=model.num_samples, **kwargs)
        except ValueError as exc:
            raise DataError(f"Cannot forecast {horizon} steps: {exc}") from None
        if not isinstance(forecasts, list):
            forecasts = [forecasts]
        prediction = model.output(to_prediction(history.ids, [[f] for f in forecasts], model.quantiles,
                                                cutoffs=False))
        prediction.y.attrs.update(time=history.time, series_id=history.series_id)
        return prediction

    def _backtest(self, model: Forecaster, data: TaskData) -> Prediction:
        window, series = data.window, data.X
        target, past, future = model.inputs(series)
        retrain = window.retrain
        if retrain is None:
            retrain = not model.is_global
        if not retrain and not model.is_global:
            raise ConfigError(f"split.retrain=false needs a global model; '{model.estimator}' is local "
                              "(it must be refitted at every cut-off).")
        starts = [series.target[k].index.get_loc(series.target[k].index[series.target[k].index >= _ts(v)][0])
                  for k, v in zip(series.ids, window.start.values(), strict=True)]
        kwargs = self._covariates(model, past, future)
        if model.is_torch:
            kwargs["fit_kwargs"] = {"verbose": False}
            kwargs["predict_kwargs"] = {"verbose": False}
        common = dict(forecast_horizon=int(window.horizon), stride=int(window.stride), retrain=bool(retrain),
                      train_length=window.train_length if retrain else None, last_points_only=False,
                      overlap_end=False, num_samples=model.num_samples, verbose=False, show_warnings=False)
        results = []
        try:
            for i, start in enumerate(starts):  # one call per series: each has its own start
                one = {k: v[i] for k, v in kwargs.items() if k.endswith("covariates")}
                one.update({k: v for k, v in kwargs.items() if not k.endswith("covariates")})
                with _quiet():
                    forecasts = model.model.historical_forecasts(target[i], start=start, start_format="position",
                                                                 **common, **one)
                results.append(forecasts)
        except ValueError as exc:
            raise DataError(f"Darts cannot backtest '{model.estimator}' with this split: {exc}") from None
        return model.output(to_prediction(series.ids, results, model.quantiles, cutoffs=True))
