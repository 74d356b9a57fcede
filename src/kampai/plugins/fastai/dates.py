"""Date and time columns of a table, expanded the way fast.ai users do (``add_datepart``).

A column of timestamps embedded as a category has one level per distinct time (thousands on
a raw table): slow to train, and nothing it learns applies to a new date.  A column whose
dtype is a datetime, or whose text values nearly all parse as dates, becomes numbers
instead: year, month, week, day, day of week, day of year, the month/quarter/year start and
end flags, the hour when the column holds times of day, and the elapsed seconds.  The
columns and parts found in training are kept in the model's state, so prediction expands
new data the same way.
"""

from __future__ import annotations

from typing import Any

#: share of a sample of non-missing text values that must parse as dates
PARSED_SHARE = 0.9
SAMPLE = 200
PARTS = ("Year", "Month", "Week", "Day", "Dayofweek", "Dayofyear", "Is_month_end", "Is_month_start",
         "Is_quarter_end", "Is_quarter_start", "Is_year_end", "Is_year_start")


def _parse(values: Any) -> Any:
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
    return parsed.dt.tz_localize(None) if hasattr(parsed, "dt") else parsed.tz_localize(None)


def detect(X: Any, candidates: list[str]) -> list[str]:
    """The columns of ``candidates`` that hold dates: a datetime dtype, or text whose values
    nearly all parse as dates (numbers and short codes never do)."""
    import pandas as pd

    found = []
    for name in candidates:
        column = X[name]
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            found.append(name)
            continue
        if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
            continue
        sample = column.dropna()
        sample = sample.iloc[:SAMPLE]
        if sample.empty or not all(isinstance(v, str) for v in sample.tolist()):
            continue
        if sample.str.len().mean() < 6 or sample.str.fullmatch(r"\s*[-+]?\d+(\.\d*)?\s*").any():
            continue  # numbers as text, codes
        if _parse(sample).notna().mean() >= PARSED_SHARE:
            found.append(name)
    return found


def parts_of(X: Any, names: list[str]) -> dict[str, list[str]]:
    """The parts each date column gets (``Hour`` only where it holds times of day)."""
    out = {}
    for name in names:
        parsed = _parse(X[name])
        hours = parsed.dt.hour.fillna(0)
        out[name] = [*PARTS, *(["Hour"] if (hours != 0).any() else []), "Elapsed"]
    return out


def expand(X: Any, parts: dict[str, list[str]]) -> Any:
    """``X`` with each date column replaced by its parts (float32 numbers, NaN where a value
    is missing or is no date)."""
    import numpy as np

    if not parts:
        return X
    X = X.copy()
    for name, wanted in parts.items():
        when = _parse(X[name])
        missing = when.isna().to_numpy()
        for part in wanted:
            if part == "Elapsed":
                values = when.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9  # NaT: masked below
            elif part == "Week":
                values = when.dt.isocalendar().week.to_numpy(dtype="float64", na_value=np.nan)
            else:
                attr = {"Dayofweek": "day_of_week", "Dayofyear": "day_of_year"}.get(part, part.lower())
                values = getattr(when.dt, attr).to_numpy(dtype="float64", na_value=np.nan)
            values = np.where(missing, np.nan, values.astype("float64"))
            X[f"{name}_{part}"] = values.astype("float32")
        X = X.drop(columns=[name])
    return X
