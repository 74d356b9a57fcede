"""What the tabular tasks share: columns from the config, checked against the frame."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from kampai.plugin import DataError, Prediction, Task, TaskData
from kampai.plugin.io import check_columns, default_target

if TYPE_CHECKING:
    import pandas as pd


class TabularTask(Task):
    """A task on one table: rows are samples, one optional target column."""

    default_split: ClassVar[dict[str, Any]] = {"method": "random"}
    #: ``rows``: a table of exactly the signature's inputs is predicted as it is (a server's
    #: row path, no DataFrame); the engine takes it only for ``input_kind == "table"``
    capabilities: ClassVar[frozenset[str]] = frozenset({"rows"})

    def target_column(self, data_cfg: dict[str, Any]) -> str | None:
        return data_cfg.get("target") or default_target(data_cfg.get("path"))

    def prepare(self, frame: pd.DataFrame, data_cfg: dict[str, Any], *, training: bool) -> TaskData:
        target = self.target_column(data_cfg)
        if self.needs_target and training and not target:
            raise DataError(f"Task '{self.name}' needs a target column: set data.target or --target.")
        roles = {"group": data_cfg.get("group"), "time": data_cfg.get("time")}
        for role, column in roles.items():
            if column:
                check_columns(frame, [column], role)
        has_target = bool(target) and target in frame.columns
        if target and training and self.needs_target:
            check_columns(frame, [target], "target")
        drop = list(data_cfg.get("drop") or [])
        check_columns(frame, drop, "drop")
        features = data_cfg.get("features")
        columns = frame.columns.tolist()
        if features:
            features = list(features)
            same = columns == features  # new data with exactly the training columns (predict, serve)
            if not same:
                check_columns(frame, features, "features")
            if target and target in features:
                raise DataError(f"data.features includes the target column '{target}': the model would "
                                "see the answer. Remove it from data.features.")
            # pandas 3 copies on write: a shallow copy is a new frame that shares no writes;
            # pandas 2's frame[features] copies the data, as it did before
            X = frame.copy(deep=False) if same and _copy_on_write() else frame[features]
        else:
            used = {target, *roles.values(), *drop} - {None}
            X = frame[[c for c in columns if c not in used]]
        if X.shape[1] == 0:
            raise DataError("No feature columns are left after removing target/group/time/drop.")
        y = frame[target] if has_target else None
        if y is not None and training and y.isna().any():
            raise DataError(f"Target column '{target}' has {int(y.isna().sum())} missing values.")
        data = TaskData(
            X=X, y=y,
            groups=frame[roles["group"]] if roles["group"] else None,
            order=frame[roles["time"]] if roles["time"] else None,
            info={"features": [str(c) for c in X.columns.tolist()]},
        )
        self.check(data, training=training)
        return data

    def check(self, data: TaskData, *, training: bool) -> None:
        """Task-specific checks of the prepared data (override)."""

    def format_columns(self, prediction: Prediction) -> dict[str, Any]:
        """``prediction`` and one ``proba_<class>`` column per class (the table's columns)."""
        columns = {"prediction": prediction.y}
        if prediction.proba is not None and prediction.classes is not None:
            for i, label in enumerate(prediction.classes):
                columns[f"proba_{label}"] = prediction.proba[:, i]
        return columns

    def format_predictions(self, data: TaskData, prediction: Prediction) -> pd.DataFrame:
        import pandas as pd

        # one frame of the prediction's own arrays, not a column insert per class
        out = pd.DataFrame(self.format_columns(prediction), index=data.X.index, copy=False)
        if data.y is not None:
            out.insert(0, "target", data.y.to_numpy())
        return out


def _copy_on_write() -> bool:
    """Whether pandas copies on write (always from pandas 3, opt-in before)."""
    import pandas as pd

    return int(pd.__version__.split(".")[0]) >= 3 or pd.get_option("mode.copy_on_write") is True
