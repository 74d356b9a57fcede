"""The forecasting data contract's helpers: the time column found or parsed (calendar labels
such as ``2020-Q1`` and ``2020-W05`` included), the frequency inferred and its seasonal period.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampai.plugin import ConfigError, DataError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

FILL_POLICIES = ("interpolate", "ffill", "zero", "error")
#: seasonal period per pandas frequency prefix (MASE's seasonal naive forecast)
SEASONS = {"MS": 12, "ME": 12, "M": 12, "QS": 4, "QE": 4, "Q": 4, "W": 52, "D": 7, "B": 5,
           "h": 24, "H": 24, "min": 60, "T": 60, "YS": 1, "YE": 1, "Y": 1, "A": 1, "AS": 1}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def _check_columns(frame: pd.DataFrame, names: list[str], role: str) -> None:
    for name in names:
        if name not in frame.columns:
            columns = [str(c) for c in frame.columns]
            raise DataError(f"Column '{name}' ({role}) is not in the data.{did_you_mean(name, columns)} "
                            f"Columns: {', '.join(columns[:30])}.")


def find_time_column(frame: pd.DataFrame, named: str | None) -> str:
    """The named time column, else the one column that holds dates."""
    import pandas as pd

    if named:
        _check_columns(frame, [named], "time")
        return named
    found = [str(c) for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    if not found:
        for c in frame.columns:
            col = frame[c]
            if col.dtype != object and not pd.api.types.is_string_dtype(col):
                continue
            sample = col.dropna().astype(str).head(50)
            if sample.empty:
                continue
            if _calendar_periods(sample) is not None:
                found.append(str(c))
                continue
            parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
            if parsed.notna().all():
                found.append(str(c))
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataError("Forecasting needs a time column, and no column holds dates. Name one with "
                        f"data.time (columns: {', '.join(map(str, frame.columns[:30]))}).")
    raise DataError(f"Several columns hold dates ({', '.join(found)}): name the time column with data.time.")


def _parse_time(frame: pd.DataFrame, column: str) -> pd.Series:
    import pandas as pd

    col = frame[column]
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_integer_dtype(col):
        return col
    periods = _calendar_periods(col.astype(str).where(col.notna()))
    if periods is not None:
        return periods
    try:
        return pd.to_datetime(col, format="mixed")
    except (ValueError, TypeError) as exc:
        raise DataError(f"Time column '{column}' does not parse as dates: {exc}") from None


#: "1981 Q1", "1981-Q1", "Q1 1981" (tsibble's yearquarter) and "2020 W05" (ISO weeks)
_QUARTER = (r"^\s*(?P<year>\d{4})\s*-?\s*Q(?P<n>[1-4])\s*$", r"^\s*Q(?P<n>[1-4])\s*-?\s*(?P<year>\d{4})\s*$")
_WEEK = r"^\s*(?P<year>\d{4})\s*-?\s*W(?P<n>\d{1,2})\s*$"


def _calendar_periods(values: pd.Series) -> pd.Series | None:
    """Quarter or ISO-week labels as the timestamps their periods start at (pandas parses
    neither "1981 Q1" nor "2020 W05"); None when the values are not all such labels."""
    import pandas as pd

    text = values.dropna().astype(str)
    if text.empty:
        return None
    head = text.head(20)  # most time columns are dates: a look at a few values rules them out
    if not any(head.str.match(p, flags=2).all() for p in (*_QUARTER, _WEEK)):
        return None
    for pattern in _QUARTER:
        parts = text.str.extract(pattern, flags=2)  # re.IGNORECASE
        if parts.notna().all().all():
            periods = pd.PeriodIndex.from_fields(year=parts["year"].astype(int).to_numpy(),
                                                 quarter=parts["n"].astype(int).to_numpy(), freq="Q")
            return pd.Series(periods.to_timestamp(), index=text.index).reindex(values.index)
    parts = text.str.extract(_WEEK, flags=2)
    if parts.notna().all().all():
        labels = parts["year"] + "-W" + parts["n"].str.zfill(2) + "-1"
        return pd.to_datetime(labels, format="%G-W%V-%u").reindex(values.index)
    return None


def infer_freq(index: pd.Index, given: Any = None) -> Any:
    """The series' frequency: ``given``, else pandas' guess on a gap-free stretch."""
    import pandas as pd

    if given:
        if isinstance(index, pd.DatetimeIndex):
            try:
                return pd.tseries.frequencies.to_offset(given).freqstr
            except ValueError as exc:
                raise ConfigError(f"data.freq={given!r} is not a pandas frequency: {exc}") from None
        return int(given)
    if not isinstance(index, pd.DatetimeIndex):  # integer time steps
        steps = pd.Series(index).diff().dropna()
        return int(steps.mode().iloc[0]) if len(steps) else 1
    if len(index) < 3:
        raise DataError("A series needs at least 3 time steps to infer its frequency; set data.freq.")
    guess = _pandas_freq(index)
    if guess:
        return guess
    votes: dict[str, int] = {}
    for start in range(0, max(1, len(index) - 6), max(1, len(index) // 50)):
        f = _pandas_freq(index[start:start + 7]) if len(index[start:start + 7]) >= 3 else None
        if f:
            votes[f] = votes.get(f, 0) + 1
    if not votes:
        raise DataError("Cannot infer the frequency of the time column (irregular steps); set data.freq "
                        "(e.g. D, W-SUN, MS, h).")
    return max(votes, key=votes.get)


def _pandas_freq(index: Any) -> str | None:
    """``pd.infer_freq`` as a string (pandas 3 warns that it will return an offset)."""
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guess = pd.infer_freq(index)
    return None if guess is None else getattr(guess, "freqstr", guess)


def season_of(freq: Any) -> int:
    import re

    if isinstance(freq, int):
        return 1
    match = re.match(r"^(\d*)([A-Za-z]+)", str(freq))
    if not match:
        return 1
    mult, name = int(match.group(1) or 1), match.group(2)
    season = SEASONS.get(name, SEASONS.get(name.split("-")[0], 1))
    return max(1, season // mult) if season > 1 else 1
