"""Regression: predict a number per row."""

from __future__ import annotations

from typing import Any, ClassVar

from kampai.plugin import DataError, Metric, Prediction, TaskData
from kampai.tasks.base import TabularTask

#: the largest magnitude of a target value: its square (the squared error) must not overflow
MAX_TARGET = 1e150


class Regression(TabularTask):
    name = "regression"
    target_kind = "values"
    plots = ("predicted_vs_actual", "residuals")
    description = "predict a number per row"
    needs_target = True
    default_split: ClassVar[dict[str, Any]] = {"method": "random"}
    default_metrics = ("rmse", "mae", "r2")


    def example(self) -> tuple[Any, dict[str, Any]]:
        from kampai.plugin.io import read_frame

        return read_frame("sklearn:diabetes").head(150), {"target": "target"}

    def baseline(self, train: TaskData, test: TaskData, *, seed: int) -> list[tuple[str, Prediction]]:
        """Ridge regression on the table (one-hot, standardized; the reference) and the mean."""
        from kampai.tasks import reference

        return reference.regression(train, test, seed)

    def check(self, data: TaskData, *, training: bool) -> None:
        import pandas as pd

        if training and data.y is not None and not pd.api.types.is_numeric_dtype(data.y):
            raise DataError(
                f"Regression needs a numeric target; '{data.y.name}' is {data.y.dtype}. "
                "Use --task classification for labels."
            )
        if data.y is not None and pd.api.types.is_numeric_dtype(data.y):
            import numpy as np

            values = data.y.to_numpy(dtype=float, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                bad = int((np.abs(values) > MAX_TARGET).sum())
            if bad:  # inf (or a value whose square overflows) makes every metric inf or the fit fail
                raise DataError(f"The target '{data.y.name}' holds {bad} infinite or overflowing value"
                                f"{'s' if bad > 1 else ''} (beyond {MAX_TARGET:.0e}): fix or drop those rows.")


def _rmse(y: Any, p: Prediction, X: Any) -> float:
    from sklearn.metrics import mean_squared_error

    return float(mean_squared_error(y, p.y) ** 0.5)


def _mae(y: Any, p: Prediction, X: Any) -> float:
    from sklearn.metrics import mean_absolute_error

    return float(mean_absolute_error(y, p.y))


def _r2(y: Any, p: Prediction, X: Any) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y, p.y))


TASKS = ("regression",)
METRICS = [
    Metric("rmse", _rmse, TASKS, greater_is_better=False, description="root mean squared error"),
    Metric("mae", _mae, TASKS, greater_is_better=False, description="mean absolute error"),
    Metric("r2", _r2, TASKS, description="coefficient of determination"),
]
