"""Image classification: predict a class label per image (entry point ``images``).

Data: a folder with one sub-folder per class (``--data photos/``), a CSV/Parquet table with
an image-path column (``data.image``, found on its own when it is called image/path/file/
filename) and a label column (paths relative to the table's folder), or the bundled
``sklearn:digits-images`` (scikit-learn's 1,797 real 8x8 digits, written as PNGs into the
cache on first use).  Frameworks get ``TaskData.X`` as a one-column DataFrame ``image`` of
absolute paths.  ``data.bad_images`` (skip|stop) says what unreadable files do.

Metrics and the stratified split are classification's.  Imports nothing heavy at import.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from kampai.plugin import DataError, TaskData, hookimpl
from kampai.plugin.io import check_columns
from kampai.tasks.classification import Classification

if TYPE_CHECKING:
    import pandas as pd

IMAGE = "image"
PATH_NAMES = ("image", "path", "file", "filename", "image_path", "filepath")


class ImageClassification(Classification):
    name = "image-classification"
    target_kind = "labels"
    plots = ("confusion", "roc")
    description = "predict a class label per image (folder per class, or a table of paths)"
    input_kind = "images"
    default_split: ClassVar[dict[str, Any]] = {"method": "stratified"}
    default_metrics = ("accuracy", "balanced_accuracy", "f1_macro", "log_loss")
    data_keys = ("image", "bad_images")

    def target_column(self, data_cfg: dict[str, Any]) -> str | None:
        return super().target_column(data_cfg) or "label"

    def example(self) -> tuple[Any, dict[str, Any]]:
        frame = _digits().groupby("label").head(15).reset_index(drop=True)
        return frame, {"target": "label"}

    def prepare(self, frame: pd.DataFrame, data_cfg: dict[str, Any], *, training: bool) -> TaskData:
        import pandas as pd

        from kampai.plugin import Images

        target = self.target_column(data_cfg)
        column = data_cfg.get("image")
        if column:
            check_columns(frame, [column], "image")
        else:
            found = [c for c in frame.columns if str(c).lower() in PATH_NAMES]
            if not found:
                raise DataError("No image-path column: name it with data.image=COLUMN (columns: "
                                f"{', '.join(map(str, frame.columns[:20]))}).")
            column = found[0]
        if training:
            check_columns(frame, [target], "target")
        base = _base(frame, data_cfg)
        paths = [str(p if Path(p).is_absolute() else base / p) for p in frame[column].astype(str)]
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise DataError(f"{len(missing)} image file(s) do not exist, e.g. '{missing[0]}'.")
        keep = set(Images.check_readable([Path(p) for p in paths], str(data_cfg.get("bad_images") or "stop"))) \
            if not frame.attrs.get("checked") else None
        rows = [i for i, p in enumerate(paths) if keep is None or str(Path(p).resolve()) in keep]
        index = frame.index[rows]
        X = pd.DataFrame({IMAGE: [str(Path(paths[i]).resolve()) for i in rows]}, index=index)
        y = frame.loc[index, target] if target in frame.columns else None
        if y is not None:
            if training and y.isna().any():
                raise DataError(f"Label column '{target}' has {int(y.isna().sum())} missing values.")
            y = y.astype(str)
        data = TaskData(X=X, y=y, info={"features": [IMAGE], "image": str(column)})
        self.check(data, training=training)
        return data

    def baseline_features(self) -> tuple[str, Any]:
        """Logistic regression on grey 8x8 pixels, standardized."""
        from kampai.tasks import reference

        return "pixel logistic regression", lambda X: reference.pixels()

    def signature(self, data: TaskData) -> dict[str, Any]:
        out = {"input_kind": self.input_kind, "inputs": [{"name": IMAGE, "dtype": "image path"}]}
        if data.y is not None:
            out["classes"] = sorted(map(str, data.y.unique()))
        return out

    def format_predictions(self, data: TaskData, prediction: Any) -> pd.DataFrame:
        out = super().format_predictions(data, prediction)
        out.insert(0, IMAGE, data.X[IMAGE].to_numpy())
        return out


def _base(frame: pd.DataFrame, data_cfg: dict[str, Any]) -> Path:
    """The folder relative image paths start from: the table's own folder."""
    source = frame.attrs.get("path") or data_cfg.get("path")
    if source and Path(str(source)).exists():
        source = Path(str(source))
        return source if source.is_dir() else source.parent
    return Path.cwd()


def _digits() -> pd.DataFrame:
    from kampai.plugin import Images
    from kampai.plugin.io import cache_dir

    frame = Images.digits(Path(cache_dir()) / "digits-images").frame()
    frame.attrs["checked"] = True  # written by us: no need to verify 1,797 files per load
    return frame


@hookimpl
def kampai_register_tasks(registry: Any) -> None:
    registry.add(ImageClassification())


@hookimpl
def kampai_register_metrics(registry: Any) -> None:
    """Classification's metrics, for images too."""
    from dataclasses import replace

    from kampai.tasks.classification import METRICS

    for metric in METRICS:
        registry.add(replace(metric, tasks=("image-classification",)))


@hookimpl
def kampai_register_datasets(registry: Any) -> None:
    registry.add("sklearn:digits-images", _digits, task="image-classification", target="label",
                 description="1,797 real 8x8 handwritten digits as PNG files (image, label), 10 classes")


@hookimpl
def kampai_read_data(path: str) -> Any:
    """A folder of images (one sub-folder per class, or images alone for predict)."""
    folder = Path(path)
    if not folder.is_dir():
        return None
    from kampai.plugin import Images

    return Images.from_folder(folder, bad=None).frame()  # prepare() checks them (data.bad_images)
