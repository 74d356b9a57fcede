"""The default ``model.search`` per Darts model family (see kampai.core.tuning.space)."""

from __future__ import annotations

from typing import Any

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
