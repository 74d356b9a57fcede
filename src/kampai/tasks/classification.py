"""Classification: predict a class label per row (binary or multi-class)."""

from __future__ import annotations

from typing import Any, ClassVar

from kampai.plugin import DataError, Metric, Prediction, TaskData
from kampai.tasks.base import TabularTask


class Classification(TabularTask):
    name = "classification"
    target_kind = "labels"
    plots = ("confusion", "roc")
    description = "predict a class label per row (binary or multi-class)"
    needs_target = True
    default_split: ClassVar[dict[str, Any]] = {"method": "stratified"}
    default_metrics = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")


    def example(self) -> tuple[Any, dict[str, Any]]:
        from kampai.plugin.io import read_frame

        return read_frame("sklearn:iris").sample(frac=1.0, random_state=0), {"target": "target"}

    def baseline(self, train: TaskData, test: TaskData, *, seed: int) -> list[tuple[str, Prediction]]:
        """Logistic regression on the table (one-hot, standardized; the reference) and the
        majority class."""
        from kampai.tasks import reference

        return reference.classification(train, test, seed, self.baseline_features())

    def baseline_features(self) -> tuple[str, Any]:
        """The linear baseline's name and a function from the training features to an
        unfitted transformer (text and images override it)."""
        from kampai.tasks import reference

        return "logistic regression", reference.table_features

    def format_predictions(self, data: TaskData, prediction: Prediction) -> Any:
        warn_single_class(data, prediction)
        return super().format_predictions(data, prediction)

    def check(self, data: TaskData, *, training: bool) -> None:
        if not training or data.y is None:
            return
        n_classes = data.y.nunique()
        if n_classes < 2:
            raise DataError(f"Classification needs at least 2 classes; the target has {n_classes}.")
        import pandas as pd

        fractional = pd.api.types.is_float_dtype(data.y) and bool((data.y != data.y.round()).any())
        # diabetes' target (214 values in 442 rows) is a regression target, not 214 classes
        if fractional or n_classes > max(50, len(data.y) // 10):
            raise DataError(
                f"The target has {n_classes} distinct values in {len(data.y)} rows: "
                "this looks like a regression target. Use --task regression."
            )


#: fewer labelled rows than this predicted as one class is no sign of a broken model
MIN_ROWS_SINGLE_CLASS = 10


def warn_single_class(data: TaskData, prediction: Prediction) -> str | None:
    """Warn when the model predicts one class for every labelled evaluation row although the
    labels hold several (an undertrained network, a degenerate fit); returns the warning."""
    import numpy as np
    import pandas as pd

    if data.y is None or getattr(data.y, "ndim", 1) != 1 or len(data.y) < MIN_ROWS_SINGLE_CLASS:
        return None
    predicted = pd.unique(np.asarray(prediction.y, dtype=object))
    actual = pd.Series(data.y).nunique()
    if len(predicted) != 1 or actual < 2:
        return None
    from kampai.plugin.cli import warn

    message = (f"the model predicts one class ({predicted[0]!r}) for all {len(data.y)} evaluation rows, "
               f"which hold {actual} classes: it learned nothing beyond the majority (train longer, "
               "e.g. more epochs, or check the features).")
    warn(message)
    return message


def _labels(y: Any) -> Any:
    """Text labels as the object array scikit-learn makes of them anyway: converted here
    once per metric instead of at each of its internal checks (pandas' string columns go
    through several conversions per call; the values, and so the scores, are the same)."""
    import pandas as pd

    if isinstance(y, pd.Series) and (y.dtype == object or pd.api.types.is_string_dtype(y.dtype)):
        return y.to_numpy(dtype=object)
    return y


def _accuracy(y: Any, p: Prediction, X: Any) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(_labels(y), p.y))


def _balanced_accuracy(y: Any, p: Prediction, X: Any) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(_labels(y), p.y))


def _f1_macro(y: Any, p: Prediction, X: Any) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(_labels(y), p.y, average="macro"))


def _roc_auc(y: Any, p: Prediction, X: Any) -> float:
    from sklearn.metrics import roc_auc_score

    if len(p.classes) == 2:
        return float(roc_auc_score(_labels(y), p.proba[:, 1], labels=p.classes))
    return float(roc_auc_score(_labels(y), p.proba, multi_class="ovr", labels=p.classes))


def _log_loss(y: Any, p: Prediction, X: Any) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(_labels(y), p.proba, labels=p.classes))


TASKS = ("classification", "text-classification")  # text classification shares them
METRICS = [
    Metric("accuracy", _accuracy, TASKS, description="share of correct labels"),
    Metric("balanced_accuracy", _balanced_accuracy, TASKS, description="mean recall per class"),
    Metric("f1_macro", _f1_macro, TASKS, description="F1 averaged over classes"),
    Metric("roc_auc", _roc_auc, TASKS, needs_proba=True,
           description="area under the ROC curve (one-vs-rest for multi-class)"),
    Metric("log_loss", _log_loss, TASKS, greater_is_better=False, needs_proba=True,
           description="cross-entropy of the predicted probabilities"),
]
