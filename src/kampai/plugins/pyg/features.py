"""Node/graph feature preprocessing that saves as JSON (no pickle): numeric columns are
median-imputed and standardised, categorical ones one-hot encoded (unknown categories
give zeros), like the tabular default."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_CATEGORIES = 50


class Encoder:
    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self.spec = spec or {"numeric": {}, "categorical": {}}

    @property
    def width(self) -> int:
        return len(self.spec["numeric"]) + sum(len(v) for v in self.spec["categorical"].values())

    def fit(self, frame: pd.DataFrame) -> Encoder:
        import pandas as pd

        numeric, categorical = {}, {}
        for column in frame.columns:
            values = frame[column]
            if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
                top = values.dropna().astype(str).value_counts().index[:MAX_CATEGORIES]
                categorical[str(column)] = sorted(top)
            else:
                v = values.astype(float)
                median = float(v.median()) if v.notna().any() else 0.0
                std = float(v.std(ddof=0)) if v.notna().sum() > 1 else 1.0
                numeric[str(column)] = [median, float(v.fillna(median).mean()), std if std > 0 else 1.0]
        self.spec = {"numeric": numeric, "categorical": categorical}
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        from kampai.plugin import DataError

        n = len(frame)
        parts = []
        missing = [c for c in [*self.spec["numeric"], *self.spec["categorical"]] if c not in frame.columns]
        if missing:
            raise DataError(f"The node features lack the training columns {', '.join(missing[:10])}.")
        for column, (median, mean, std) in self.spec["numeric"].items():
            v = frame[column].astype(float).fillna(median).to_numpy()
            parts.append(((v - mean) / std)[:, None])
        for column, categories in self.spec["categorical"].items():
            v = frame[column].astype(str).to_numpy()
            parts.append((v[:, None] == np.asarray(categories, dtype=str)[None, :]).astype(float))
        if not parts:
            return np.zeros((n, 0), dtype=np.float32)
        return np.hstack(parts).astype(np.float32)
