"""Fitting a Darts model on the task's series (once, or an epoch at a time for the tuner's
pruning), with readable warnings and per-epoch lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kampai.plugin import ConfigError, DataError, TaskData
from kampai.plugins.darts.forecaster import Forecaster
from kampai.plugins.darts.series import Scaling

if TYPE_CHECKING:
    from kampai.plugin import SeriesSet


#: the param that switches a model's multiplicative part to additive
MULTIPLICATIVE_PARAMS = {"Theta": "season_mode", "FourTheta": "season_mode", "ExponentialSmoothing": "seasonal"}


def _hint(model: Forecaster, exc: Exception) -> str:
    """What to change when Darts refuses the data (multiplicative parts need positive values)."""
    param = MULTIPLICATIVE_PARAMS.get(model.estimator)
    if "ultiplicative" in str(exc) and param:
        return (f". The series has zero or negative values: set model.params.{param}=additive"
                + (" (or model.params.trend=additive)" if param == "seasonal" else "") + ".")
    return ""


class Training:
    """The Darts adapter's ``fit`` and ``fit_incremental``."""

    def fit(self, model: Forecaster, data: TaskData, task: Any) -> Forecaster:
        return self._fit_series(model, data)

    def _fit_series(self, model: Forecaster, data: TaskData, epochs: int = 0) -> Forecaster:
        series: SeriesSet = data.X
        if model.series is not series:
            model.scaling = Scaling.fit(series) if model.scale else None
        target, past, future = model.inputs(series)
        kwargs = self._covariates(model, past, future)
        if not model.is_global and len(target) > 1:
            raise ConfigError(f"'{model.estimator}' is a local model: it fits one series, and the data holds "
                              f"{len(target)} (data.series_id). Use a global model (LinearRegressionModel, "
                              "NBEATSModel, TiDEModel ...).")
        fit_series = target if model.is_global else target[0]
        if not model.is_global:
            kwargs = {k: v[0] for k, v in kwargs.items()}
        val_size = model.settings.get("val_size")
        if val_size:
            need = val_size + model.model.min_train_series_length
            kwargs["val_series"] = [t[-need:] for t in target]
            fit_series = [t[:-val_size] for t in target]
            for role in ("past_covariates", "future_covariates"):
                if role in kwargs:
                    kwargs[f"val_{role}"] = kwargs[role]
        try:
            if epochs:
                kwargs["epochs"] = epochs
            with _quiet(), _epoch_lines(model, epochs):
                model.model.fit(fit_series, **kwargs)
        except ValueError as exc:
            reason = str(exc).rstrip(".")
            raise DataError(f"Darts cannot fit '{model.estimator}' on this data: {reason}{_hint(model, exc)}") from None
        model.series = series
        batch = model.settings.pop("distributed", None)
        if batch:
            single_device(model.model, int(batch))
        return model

    @staticmethod
    def _covariates(model: Forecaster, past: list | None, future: list | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for role, values, able in (("past_covariates", past, model.model.supports_past_covariates),
                                   ("future_covariates", future, model.model.supports_future_covariates)):
            if values is None:
                continue
            if not able:
                raise ConfigError(f"'{model.estimator}' does not take {role.replace('_', ' ')}; drop "
                                  f"data.{role} or pick a model that does (TFTModel, TiDEModel, "
                                  "LinearRegressionModel ...).")
            kwargs[role] = values
        return kwargs

    def fit_incremental(self, model: Forecaster, data: TaskData, task: Any,
                        report: Callable[[int, Any], None]) -> Forecaster:
        """Torch models: one epoch at a time (Darts continues from the current weights),
        ``report(epoch, model)`` after each so the tuner can prune; others: a plain fit."""
        if not model.is_torch:
            return self.fit(model, data, task)
        epochs = int(model.model.n_epochs)
        for epoch in range(epochs):
            self._fit_series(model, data, epochs=1)
            report(epoch, model)
        return model


@contextmanager
def _epoch_lines(model: Forecaster, epochs: int = 0) -> Iterator[None]:
    """Torch models: a per-epoch line (epoch, train loss, validation loss, ETA) while
    ``runner train`` shows its steps (kampai.plugin.cli.epoch_progress), through a Lightning
    callback added for this fit only (never saved with the model)."""
    callbacks = model.model.trainer_params.get("callbacks") if model.is_torch else None
    if callbacks is None:
        yield
        return
    import pytorch_lightning as pl

    from kampai.plugin.cli import epoch_progress

    progress = epoch_progress(int(epochs or model.model.n_epochs))

    class EpochLines(pl.Callback):
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            metrics = trainer.callback_metrics
            progress.update(trainer.current_epoch + 1,
                            **{name: float(metrics[key]) for key, name in (("train_loss", "loss"),
                               ("val_loss", "val_loss")) if key in metrics})

    callback = EpochLines()
    callbacks.append(callback)
    try:
        yield
    finally:
        callbacks.remove(callback)


@contextmanager
def _quiet() -> Iterator[None]:
    """Lightning and torch warn about things a user cannot act on (pin_memory on CPU,
    deprecations inside Lightning): keep the run log readable.  statsmodels' warnings
    (ARIMA, ExponentialSmoothing: convergence, starting parameters, frequency) become one
    clear line each (:func:`_statsmodels_line`), once per process."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for module in ("pytorch_lightning", "lightning", "torch", "darts"):
            warnings.filterwarnings("ignore", module=module)
        warnings.filterwarnings("ignore", message=".*(pin_memory|LeafSpec|across ranks).*")
        yield
    from kampai.plugin.cli import warn

    lines: list[str] = []
    for record in caught:
        line = _statsmodels_line(record)
        if line is None:  # not ours to summarize: let it through as it came
            warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)
        elif line not in lines:
            lines.append(line)
    if lines:  # one line per fit, and the same line once per process (backtests refit often)
        warn("statsmodels: " + "; ".join(lines) + ".", once=True)


#: statsmodels warning text -> what it means for the forecast
STATSMODELS_WARNINGS = (
    ("Non-stationary starting autoregressive", "non-stationary starting AR parameters (reset to zeros)"),
    ("Non-invertible starting", "non-invertible starting MA parameters (reset to zeros)"),
    ("failed to converge", "the likelihood fit did not converge, the forecasts may be poor "
                           "(try other model.params, e.g. smaller p/q for ARIMA)"),
    ("frequency information", "no frequency on the series (harmless)"),
)


def _statsmodels_line(record: Any) -> str | None:
    """One readable line for a warning raised inside statsmodels, None for any other."""
    if "statsmodels" not in str(record.filename) and "statsmodels" not in type(record.message).__module__:
        return None
    text = str(record.message)
    for needle, line in STATSMODELS_WARNINGS:
        if needle in text:
            return line
    return text.splitlines()[0][:200].rstrip(".")


def single_device(darts_model: Any, batch_size: int) -> None:
    """A model fitted under DDP predicts (rank 0, alone) and is saved with one device's
    trainer settings (Lightning's ``ddp`` strategy would wait for the other ranks) and the
    run's global ``batch_size`` (each rank trained on its share of it)."""
    params = dict(darts_model.trainer_params)
    for key in ("strategy", "devices", "num_nodes"):
        params.pop(key, None)
    darts_model.trainer_params = params
    darts_model.batch_size = batch_size
    darts_model.model_params["batch_size"] = batch_size
    trainer = getattr(darts_model, "trainer", None)
    if trainer is not None:  # Darts saves the checkpoint through the fit's trainer: its barrier
        # would wait for ranks that are done (rank 0 alone saves; the other ranks have left)
        trainer.strategy.barrier = lambda *args, **kwargs: None
