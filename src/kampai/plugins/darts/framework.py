"""The Darts framework adapter: any Darts forecasting model, fitted on the forecasting
task's series, evaluated on a holdout or by Darts' historical forecasts, saved with Darts'
own ``save``/``load``.

The model the engine handles is a :class:`Forecaster`: the Darts model plus what
predicting needs later (the training series, the horizon, sampling and quantiles).
"""

from __future__ import annotations

import inspect
import json
import logging
import pickle
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.plugin import (
    BuildContext,
    ConfigError,
    DataError,
    Device,
    Framework,
    Prediction,
    RunError,
    TaskData,
    check_params,
    did_you_mean,
    file_sha256,
    import_object,
    open_checked,
)
from kampai.plugins.darts import models

if TYPE_CHECKING:
    from kampai.plugin import SeriesSet

DEFAULT_MODEL = "ExponentialSmoothing"
DEFAULT_QUANTILES = (0.1, 0.5, 0.9)
MODEL_FILE = "model.darts"
SERIES_FILE = "series.pkl"
INFO_FILE = "forecaster.json"
LIKELIHOODS = {"quantile": "QuantileRegression", "gaussian": "GaussianLikelihood",
               "poisson": "PoissonLikelihood", "laplace": "LaplaceLikelihood"}
#: trainer settings that keep Lightning quiet and writing nothing (no logs, no checkpoints)
QUIET_TRAINER = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False,
                 "enable_checkpointing": False}


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


def init_params(cls: type) -> dict[str, inspect.Parameter]:
    """Every keyword the model's constructor accepts, along its class hierarchy (torch
    models pass ``**kwargs`` on to ``TorchForecastingModel``)."""
    out: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for name, param in inspect.signature(init).parameters.items():
            if name != "self" and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                out.setdefault(name, param)
        if not any(p.kind == p.VAR_KEYWORD for p in inspect.signature(init).parameters.values()):
            break
    return out


#: the param that switches a model's multiplicative part to additive
MULTIPLICATIVE_PARAMS = {"Theta": "season_mode", "FourTheta": "season_mode", "ExponentialSmoothing": "seasonal"}


def _hint(model: Forecaster, exc: Exception) -> str:
    """What to change when Darts refuses the data (multiplicative parts need positive values)."""
    param = MULTIPLICATIVE_PARAMS.get(model.estimator)
    if "ultiplicative" in str(exc) and param:
        return (f". The series has zero or negative values: set model.params.{param}=additive"
                + (" (or model.params.trend=additive)" if param == "seasonal" else "") + ".")
    return ""


def _enum_of(param: inspect.Parameter) -> type | None:
    """The Enum a constructor parameter takes (its default's type, or in its annotation):
    ``season_mode`` -> SeasonalityMode, ``trend`` -> ModelMode, ``trend_mode`` -> TrendMode."""
    import typing
    from enum import Enum

    if isinstance(param.default, Enum):
        return type(param.default)
    annotation = param.annotation
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, Enum):
            return candidate
    return None


def _optional(param: inspect.Parameter) -> bool:
    import typing

    return param.default is None or type(None) in typing.get_args(param.annotation)


def _quiet_lightning() -> None:
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning", "darts"):
        logging.getLogger(name).setLevel(logging.WARNING)


class DartsFramework(Framework):
    """Darts: statistical, regression and torch forecasting models behind one adapter."""

    name = "darts"
    description = "Darts forecasting models (statistical, regression, torch), by name"
    tasks = ("forecasting",)
    model_keys = ("epochs", "batch_size", "early_stopping", "num_samples", "quantiles", "scale")
    extra = "darts"
    requires = ("darts",)
    packages = ("darts", "torch", "statsmodels")
    capabilities = frozenset({"device", "search_space", "incremental"})

    def default_estimator(self, task: Any) -> str:
        return DEFAULT_MODEL

    # ------------------------------------------------------------------ build
    def build(self, task: Any, model_cfg: dict[str, Any], data: TaskData, ctx: BuildContext) -> Forecaster:
        seed, device = ctx.seed, ctx.device
        name = str(model_cfg["estimator"])
        cls = models.resolve(name)
        valid = init_params(cls)
        params = dict(model_cfg.get("params") or {})
        check_params(params, valid, f"Darts model '{cls.__name__}'")
        series: SeriesSet = data.X
        horizon = int(data.window.horizon if data.window is not None and data.window.horizon else 1)
        shortest = min(len(f) for f in series.target.values())
        lowest = min(float(f.min().min()) for f in series.target.values())
        self._auto_params(cls, valid, params, series.season, horizon, shortest, lowest)
        if cls.__name__ == "TFTModel" and not series.future and "add_relative_index" not in params:
            params["add_relative_index"] = True  # TFT needs future inputs: a relative time index will do
        if series.past and "output_chunk_length" in valid and "output_chunk_length" not in params:
            # past covariates are unknown ahead: forecast the whole horizon at once
            params["output_chunk_length"] = horizon
        quantiles = tuple(float(q) for q in (model_cfg.get("quantiles") or DEFAULT_QUANTILES))
        likelihood = params.get("likelihood")
        if isinstance(likelihood, str) and models.is_torch(cls):
            params["likelihood"] = self._likelihood(likelihood, quantiles)
        elif likelihood == "quantile" and "quantiles" in valid and "quantiles" not in params:
            params["quantiles"] = list(quantiles)
        settings: dict[str, Any] = {}
        if models.is_torch(cls):
            settings = self._torch_settings(model_cfg, params, device)
        elif any(model_cfg.get(k) is not None for k in ("epochs", "batch_size", "early_stopping")):
            raise ConfigError(f"model.epochs/batch_size/early_stopping are for torch models; "
                              f"'{cls.__name__}' is not one.")
        if "random_state" in valid and "random_state" not in params:
            params["random_state"] = seed
        try:
            model = cls(**params)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Cannot create Darts model '{cls.__name__}' with {params}: {exc}") from None
        num_samples = model_cfg.get("num_samples")
        if num_samples is None:
            num_samples = 100 if likelihood else 1
        if int(num_samples) > 1 and not model.supports_probabilistic_prediction:
            raise ConfigError(f"model.num_samples={num_samples}: '{cls.__name__}' as configured gives point "
                              "forecasts only (torch/regression models need model.params.likelihood).")
        scale = model_cfg.get("scale")
        scale = models.is_global(cls) if scale is None else bool(scale)
        return Forecaster(model=model, estimator=cls.__name__, horizon=horizon, num_samples=int(num_samples),
                          quantiles=quantiles, settings=settings, scale=scale)

    @staticmethod
    def _auto_params(cls: type, valid: dict, params: dict, season: int, horizon: int, shortest: int,
                     lowest: float = 1.0) -> None:
        """Fill required or season-dependent params the config left out."""
        train_room = max(2, shortest - horizon)
        if "input_chunk_length" in valid and "input_chunk_length" not in params:
            params["input_chunk_length"] = max(2, min(max(2 * season, 2 * horizon), train_room // 3))
        if "output_chunk_length" in valid and "output_chunk_length" not in params and \
                valid["output_chunk_length"].default is inspect.Parameter.empty:
            longest_input = params.get("input_chunk_length", train_room // 3)
            params["output_chunk_length"] = max(1, min(horizon, longest_input - 1))
        if "lags" in valid and not {"lags", "lags_past_covariates", "lags_future_covariates"} & set(params):
            params["lags"] = max(2, min(2 * season if season > 1 else 12, train_room // 3))
        if cls.__name__ == "ExponentialSmoothing" and "seasonal_periods" not in params:
            if season > 1:
                params["seasonal_periods"] = season
            else:  # yearly or unknown seasonality: no seasonal component unless periods are given
                params["seasonal"] = None
        if cls.__name__ == "NaiveSeasonal" and "K" not in params:
            params["K"] = season
        if cls.__name__ in ("Theta", "FourTheta") and "season_mode" not in params and lowest <= 0:
            # Darts' default (multiplicative) refuses zero or negative values (sunspots)
            from darts.utils.utils import SeasonalityMode

            params["season_mode"] = SeasonalityMode.ADDITIVE
        for key, value in list(params.items()):  # "additive" -> SeasonalityMode.ADDITIVE ...
            enum = _enum_of(valid[key]) if isinstance(value, str) and key in valid else None
            if enum is not None:
                try:
                    params[key] = enum(value.lower())
                except ValueError:
                    options = ", ".join(str(m.value) for m in enum if m.value is not None)
                    null = _optional(valid[key]) or any(m.value is None for m in enum)
                    raise ConfigError(f"model.params.{key}={value!r}: use one of {options}"
                                      + (" or null." if null else ".")) from None

    @staticmethod
    def _likelihood(name: str, quantiles: tuple[float, ...]) -> Any:
        import darts.utils.likelihood_models as lm

        if name not in LIKELIHOODS:
            raise ConfigError(f"model.params.likelihood={name!r}.{did_you_mean(name, LIKELIHOODS)} "
                              f"Known: {', '.join(LIKELIHOODS)}.")
        if name == "quantile":
            return lm.QuantileRegression(quantiles=sorted({*quantiles, 0.5}))
        return getattr(lm, LIKELIHOODS[name])()

    @staticmethod
    def _torch_settings(model_cfg: dict[str, Any], params: dict[str, Any], device: str) -> dict[str, Any]:
        """Map epochs, batch size, early stopping and ``--device`` onto Darts/Lightning."""
        _quiet_lightning()
        # model.epochs / model.batch_size are defaults: model.params (and tuned values) win
        if model_cfg.get("epochs") is not None:
            params.setdefault("n_epochs", int(model_cfg["epochs"]))
        if model_cfg.get("batch_size") is not None:
            params.setdefault("batch_size", int(model_cfg["batch_size"]))
        trainer = {**QUIET_TRAINER, **dict(params.get("pl_trainer_kwargs") or {})}
        device = Device.parse(device)
        device = "auto" if device == "auto" else device.torch()  # the core's one reading of --device
        if device.startswith("cuda"):
            trainer.setdefault("accelerator", "gpu")
        else:
            trainer.setdefault("accelerator", device if device in ("cpu", "mps") else "auto")
        settings: dict[str, Any] = {"device": device, "accelerator": trainer["accelerator"]}
        stopping = model_cfg.get("early_stopping")
        if stopping:
            from pytorch_lightning.callbacks import EarlyStopping

            stopping = {"patience": int(stopping)} if not isinstance(stopping, dict) else dict(stopping)
            unknown_keys = set(stopping) - {"patience", "monitor", "min_delta", "val_size"}
            if unknown_keys:
                raise ConfigError(f"model.early_stopping: unknown keys {sorted(unknown_keys)} (use patience, "
                                  "monitor, min_delta, val_size).")
            val_size = int(stopping.pop("val_size", 0) or 0)
            stopping.setdefault("monitor", "val_loss" if val_size else "train_loss")
            stopping.setdefault("patience", 5)
            trainer["callbacks"] = [*trainer.get("callbacks", []), EarlyStopping(**stopping)]
            settings["val_size"] = val_size
        params["pl_trainer_kwargs"] = trainer
        params.setdefault("work_dir", tempfile.mkdtemp(prefix="kampai-darts-"))
        params.setdefault("save_checkpoints", False)
        return settings

    # ------------------------------------------------------------------ fit
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

    # ------------------------------------------------------------------ predict
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

    # ------------------------------------------------------------------ tuning (runner tune)
    def default_search_space(self, estimator: str, task: Any) -> dict[str, Any]:
        """A small ``model.search`` per model family (see kampai.core.tuning.space)."""
        try:
            cls = models.resolve(estimator)
        except Exception:
            return {}
        return dict(SEARCH_SPACES.get(cls.__name__) or (TORCH_SPACE if models.is_torch(cls) else {}))

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

    # ------------------------------------------------------------------ save / load
    def save(self, model: Forecaster, path: Path) -> None:
        import darts

        model.model.save(str(path / MODEL_FILE))
        with open(path / SERIES_FILE, "wb") as fh:
            pickle.dump({"series": model.series, "scaling": model.scaling}, fh)
        files = sorted(p.name for p in path.iterdir())
        info = {"format": "darts", "darts": darts.__version__, "estimator": model.estimator,
                "class": f"{type(model.model).__module__}:{type(model.model).__name__}",
                "horizon": model.horizon, "num_samples": model.num_samples, "quantiles": list(model.quantiles),
                "torch": model.is_torch, "settings": {k: v for k, v in model.settings.items()},
                "sha256": {name: file_sha256(path / name) for name in files}}
        (path / INFO_FILE).write_text(json.dumps(info, indent=2, default=str))

    def load(self, path: Path) -> Forecaster:
        try:
            info = json.loads((path / INFO_FILE).read_text())
        except (OSError, ValueError):
            raise RunError(f"Model metadata '{path / INFO_FILE}' is missing or corrupt.") from None
        digests = info.get("sha256") or {}
        for name, digest in digests.items():
            if name != SERIES_FILE:  # Darts reopens its own files: a run gives it a verified private copy
                open_checked(path / name, digest).close()
        with open_checked(path / SERIES_FILE, digests.get(SERIES_FILE)) as fh:
            try:
                stored = pickle.load(fh)  # the bytes just hashed, not the path opened again
            except Exception as exc:
                raise RunError(f"Cannot load the Darts model in '{path}': {exc}") from None
        cls = import_object(info["class"])
        try:
            if info.get("torch"):
                _quiet_lightning()
                import torch

                accelerator = "gpu" if torch.cuda.is_available() and info["settings"].get("device") != "cpu" \
                    else "cpu"
                darts_model = cls.load(str(path / MODEL_FILE), pl_trainer_kwargs={**QUIET_TRAINER,
                                       "accelerator": accelerator}, trusted=True,
                                       map_location=None if accelerator == "gpu" else "cpu")
            else:
                darts_model = cls.load(str(path / MODEL_FILE), trusted=True)
        except Exception as exc:
            raise RunError(f"Cannot load the Darts model in '{path}': {exc}") from None
        return Forecaster(model=darts_model, estimator=info["estimator"], horizon=int(info["horizon"]),
                          num_samples=int(info["num_samples"]), quantiles=tuple(info["quantiles"]),
                          series=stored["series"], scaling=stored["scaling"], scale=stored["scaling"] is not None,
                          settings=info.get("settings") or {})


# ---------------------------------------------------------------------- search spaces
SEARCH_SPACES: dict[str, dict[str, Any]] = {
    "ExponentialSmoothing": {"trend": ["additive", None],
                             "damped": {"choices": [False, True], "when": {"trend": "additive"}},
                             "seasonal": ["additive", "multiplicative"]},
    "Theta": {"theta": {"type": "float", "low": 0.5, "high": 4.0}},
    "FourTheta": {"theta": {"type": "float", "low": 0.5, "high": 4.0}},
    "ARIMA": {"p": {"type": "int", "low": 0, "high": 12}, "d": {"type": "int", "low": 0, "high": 2},
              "q": {"type": "int", "low": 0, "high": 3}},
    "LinearRegressionModel": {"lags": {"type": "int", "low": 2, "high": 48}},
    "LightGBMModel": {"lags": {"type": "int", "low": 2, "high": 48},
                      "n_estimators": {"type": "int", "low": 50, "high": 500, "log": True}},
    "NaiveSeasonal": {},
}
TORCH_SPACE: dict[str, Any] = {"dropout": {"type": "float", "low": 0.0, "high": 0.3},
                               "batch_size": [16, 32, 64]}


# ---------------------------------------------------------------------- conversions
@contextmanager
def _epoch_lines(model: Forecaster, epochs: int = 0) -> Iterator[None]:
    """Torch models: a per-epoch line (epoch, train loss, validation loss, ETA) while
    ``runner train`` shows its steps (kampai.plugin.epoch_progress), through a Lightning
    callback added for this fit only (never saved with the model)."""
    callbacks = model.model.trainer_params.get("callbacks") if model.is_torch else None
    if callbacks is None:
        yield
        return
    import pytorch_lightning as pl

    from kampai.plugin import epoch_progress

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
    from kampai.plugin import warn

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
