"""Darts model names: resolution by name (with aliases and did-you-mean) and the lazy
estimator-registry source.  ``darts.models`` imports its models lazily, so reading its
``__all__`` costs under a second; a model class imports its own backend (torch ...)."""

from __future__ import annotations

from typing import Any

from kampai.plugin import ConfigError, unknown
from kampai.plugin.io import import_object

#: darts.models names that are not forecasting models
NOT_FORECASTERS = {"GaussianProcessFilter", "KalmanFilter", "MovingAverageFilter"}
#: short names people use -> Darts class names
ALIASES = {"LightGBM": "LightGBMModel", "LinearRegression": "LinearRegressionModel",
           "RNN": "RNNModel", "LSTM": "RNNModel", "GRU": "RNNModel", "XGBoost": "XGBModel",
           "CatBoost": "CatBoostModel"}


def model_names() -> list[str]:
    import darts.models

    return sorted(n for n in darts.models.__all__ if n not in NOT_FORECASTERS)


def requirement(name: str) -> str | None:
    """The optional backend a Darts model needs (``LightGBM``, ``(Py)Torch`` ...), if any."""
    import darts.models

    return getattr(darts.models, "_LAZY_IMPORTS", {}).get(name, (None, None))[1]


def resolve(name: str) -> type:
    """A Darts forecasting model class from ``NBEATSModel``, ``NBEATS`` or an import path."""
    if "." in name or ":" in name:
        cls = import_object(name)
    else:
        import darts.models

        names = model_names()
        real = name if name in names else ALIASES.get(name) or (f"{name}Model" if f"{name}Model" in names else None)
        if real is None:
            short = [n.removesuffix("Model") for n in names if n.endswith("Model")]
            raise unknown("Darts model", name, [*names, *short], "List them with 'runner estimators list'.")
        cls = getattr(darts.models, real)
        name = real
    if not isinstance(cls, type):
        needs = requirement(name) or "an optional dependency"
        raise ConfigError(f"Darts model '{name}' needs {needs}, which is not installed "
                          f"(see https://unit8co.github.io/darts/#installation).")
    if not any(base.__name__ == "ForecastingModel" for base in cls.__mro__):
        raise ConfigError(f"'{name}' is not a Darts forecasting model.")
    return cls


def is_torch(cls: type) -> bool:
    return any(base.__name__ == "TorchForecastingModel" for base in cls.__mro__)


def is_global(cls: type) -> bool:
    return any(base.__name__ == "GlobalForecastingModel" for base in cls.__mro__)


def load_all(registry: Any) -> None:
    """Estimator-registry source: every Darts forecasting model, by name, kind forecaster."""
    for name in model_names():
        registry.add(name, f"darts.models:{name}", kind="forecaster", package="darts")
