"""Building a Darts model from ``model.*``: the constructor's keywords, parameters the
config left out (chunk lengths, lags, seasonality), likelihoods, and the torch models' trainer
settings (epochs, batch size, early stopping, ``--device``).
"""

from __future__ import annotations

import inspect
import logging
import tempfile
from typing import TYPE_CHECKING, Any

from kampai.plugin import BuildContext, ConfigError, Device, TaskData, check_params, did_you_mean
from kampai.plugins.darts import models
from kampai.plugins.darts.forecaster import DEFAULT_QUANTILES, Forecaster

if TYPE_CHECKING:
    from kampai.plugin import SeriesSet

#: the estimator a config without one gets: chosen by the data's shape when the model is built
AUTO = "auto"
DEFAULT_MODEL = "ExponentialSmoothing"
#: the default when the data holds several series (data.series_id): ExponentialSmoothing is
#: a local model (one series); a linear model on lags is a global one, fast and robust
MULTI_SERIES_DEFAULT = "LinearRegressionModel"
LIKELIHOODS = {"quantile": "QuantileRegression", "gaussian": "GaussianLikelihood",
               "poisson": "PoissonLikelihood", "laplace": "LaplaceLikelihood"}
#: trainer settings that keep Lightning quiet and writing nothing (no logs, no checkpoints)
QUIET_TRAINER = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False,
                 "enable_checkpointing": False}


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


def valid_params(cls: type, likelihood: Any = None) -> dict[str, inspect.Parameter]:
    """Every keyword Darts itself accepts for ``cls``: its constructor's along the class
    hierarchy (:func:`init_params`), plus what Darts passes on through ``**kwargs``:

    - torch models: the Lightning module's (``likelihood``, ``loss_fn``, ``optimizer_cls``,
      ``optimizer_kwargs``, ``lr_scheduler_*`` ...), the set Darts' own
      ``TorchForecastingModel._validate_model_params`` checks against;
    - scikit-learn style regression models (``LinearRegressionModel``, ``LightGBMModel`` ...):
      the wrapped estimator's (``alpha``, ``solver`` for a quantile regression,
      ``n_estimators`` ...), read from a probe built with the same ``likelihood``.
    """
    valid = init_params(cls)
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values())
    if models.is_torch(cls):
        from darts.models.forecasting.pl_forecasting_module import PLForecastingModule

        for name, param in inspect.signature(PLForecastingModule.__init__).parameters.items():
            if name not in ("self", "train_sample_shape") and param.kind not in (param.VAR_KEYWORD,
                                                                                    param.VAR_POSITIONAL):
                valid.setdefault(name, param)  # train_sample_shape is Darts' own, set at fit
    elif takes_kwargs and "lags" in valid:
        for name in _wrapped_params(cls, likelihood):
            valid.setdefault(name, inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY))
    return valid


def _wrapped_params(cls: type, likelihood: Any) -> list[str]:
    """The parameters of the scikit-learn style estimator a regression model wraps (what its
    ``**kwargs`` reach), or none if a probe cannot be built."""
    probe_args: dict[str, Any] = {"lags": 1}
    if isinstance(likelihood, str):
        probe_args["likelihood"] = likelihood
    try:
        probe = cls(**probe_args)
        return list(probe.model.get_params())
    except Exception:  # a probe that fails only means no extra keywords
        return []


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


def _ddp(params: dict[str, Any], settings: dict[str, Any], dist: Any, default_batch: Any) -> None:
    """Lightning's own DDP (``strategy="ddp"``) inside torchrun's process group: this node's
    ranks as ``devices``, the nodes as ``num_nodes``; Lightning shards the batches.  The batch
    size stays the global one (each rank takes its share, as the torch and PyG frameworks
    do): the same number of optimizer steps of the same size as one process, so the same
    settings give the same quality.  Training only: :func:`~.training.single_device` takes
    it out again once the model is fitted (and puts the global batch size back)."""
    import os

    trainer = params["pl_trainer_kwargs"]
    local = int(os.environ.get("LOCAL_WORLD_SIZE", dist.world_size))
    trainer.update(strategy="ddp", devices=local, num_nodes=max(1, dist.world_size // local))
    if dist.backend == "gloo":
        trainer["accelerator"] = "cpu"
    batch = int(params.get("batch_size") or default_batch or 32)
    params["batch_size"] = max(1, -(-batch // dist.world_size))
    settings["distributed"] = batch


class Building:
    """The Darts adapter's ``build``."""

    def build(self, task: Any, model_cfg: dict[str, Any], data: TaskData, ctx: BuildContext) -> Forecaster:
        seed, device = ctx.seed, ctx.device
        name = str(model_cfg["estimator"])
        series: SeriesSet = data.X
        params = dict(model_cfg.get("params") or {})
        if name == AUTO:
            name = self._default_model(model_cfg, len(series.target))
        cls = models.resolve(name)
        valid = valid_params(cls, params.get("likelihood"))
        check_params(params, valid, f"Darts model '{cls.__name__}'")
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
        if likelihood == "quantile" and cls.__name__ == "LinearRegressionModel":
            # scikit-learn's QuantileRegressor defaults to an L1 penalty (alpha=1) that zeroes
            # every lag's coefficient: a constant forecast, the same band for every series
            params.setdefault("alpha", 0.0)
        settings: dict[str, Any] = {}
        if models.is_torch(cls):
            settings = self._torch_settings(model_cfg, params, device)
            if ctx.distributed is not None:
                _ddp(params, settings, ctx.distributed, getattr(valid.get("batch_size"), "default", None))
        elif ctx.distributed is not None:
            raise ConfigError(f"'{cls.__name__}' is not a torch model: it cannot train with torch.distributed "
                              "(--nproc-per-node); use a torch model (NBEATSModel, TiDEModel, TFTModel ...).")
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
    def _default_model(model_cfg: dict[str, Any], count: int) -> str:
        """The default by the data's shape: ExponentialSmoothing for one series, a global
        model for several (saying so).  ``model_cfg`` is the run's model section: the run
        records the model that ran."""
        from kampai.plugin.cli import console

        name = DEFAULT_MODEL
        line = f"  model: {name}, the default for one series"
        if count > 1:
            name = MULTI_SERIES_DEFAULT
            line = (f"  model: {DEFAULT_MODEL} (the default) fits one series and the data holds {count} "
                    f"(data.series_id): using {name}, the default for several series")
        console().print(line, soft_wrap=True)
        model_cfg["estimator"] = name
        return name

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
