"""Checks of tabular data the engine makes around a task's ``prepare``: at training time
(infinite values, numeric-looking columns with stray strings), and at predict/evaluate time
against the run's signature (the columns' kinds, the labels seen in training), so a user's
mistake is one line naming the column and the values, never a framework's traceback."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from kampai.core.console import warn
from kampai.core.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


def _examples(values: Any, n: int = 3) -> str:
    shown = [repr(v) for v in list(dict.fromkeys(values))[:n]]
    return ", ".join(shown) + (" ..." if len(set(values)) > n else "")


def _non_numeric(column: pd.Series) -> Any:
    import pandas as pd

    present = column.dropna()
    try:
        parsed = pd.to_numeric(present, errors="coerce")
    except OverflowError:  # a 400-digit integer: a number all the same, checked by its size later
        return present[[math.isnan(_as_float(v)) for v in present]]
    return present[parsed.isna()]


#: the largest magnitude a numeric input may have: arithmetic on more (a scaler's division,
#: a square) overflows float64 (1.8e308) into inf, which models refuse with a traceback
MAX_MAGNITUDE = 1e300


def check_finite(X: Any) -> None:
    """Numeric columns hold no inf and no value beyond :data:`MAX_MAGNITUDE` (a CSV's
    ``1e308`` or 400-digit number): one line naming the column and the value."""
    import numpy as np
    import pandas as pd

    if not isinstance(X, pd.DataFrame):
        return
    numeric = X.select_dtypes("number")
    # whole blocks of columns at once (about 2**24 values each: memory stays bounded)
    step = max(1, (1 << 24) // max(len(numeric), 1))
    for start in range(0, len(numeric.columns), step):
        block = numeric.iloc[:, start:start + step].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            huge = np.abs(block) > MAX_MAGNITUDE
        bad = huge.any(axis=0)
        if bad.any():
            at = int(np.argmax(bad))
            column = numeric.columns[start + at]
            value = block[np.argmax(huge[:, at]), at]
            if np.isinf(value):
                raise DataError(f"Column '{column}' holds infinite values (inf, or a number beyond float64's "
                                "1.8e308): replace them (e.g. by an empty cell, which the preprocessing imputes) "
                                "or drop the column with data.drop.")
            raise DataError(f"Column '{column}' holds {value:.3g}, too large to compute with (more than "
                            f"{MAX_MAGNITUDE:.0e} overflows): fix the value, or rescale the column.")


def check_training(X: Any) -> None:
    """Infinite and overflowing values are refused; an object column whose values are
    numbers but for a few strings gets a warning (it would otherwise be one-hot encoded as
    categories)."""
    import pandas as pd

    if not isinstance(X, pd.DataFrame):
        return
    check_finite(X)
    for name in X.select_dtypes(include=["object", "string"]).columns:
        column = X[name]
        present = len(column) - int(column.isna().sum())
        if present < 5:
            continue
        # each distinct value parsed once, not each row (10M rows of a 20-value column: 20
        # parses); unique() keeps the order of first appearance, as the examples show them
        try:
            values = pd.Series(column.dropna().unique(), dtype=object)
        except TypeError:  # unhashable cells (lists): each row as it is
            values = column.dropna()
        bad = _non_numeric(values)
        if len(bad) == len(values):  # a column of words: categories, nothing to say
            continue
        count = int(column.isin(list(bad)).sum()) if len(bad) else 0
        if 0 < count <= 0.1 * present:
            warn(f"Column '{name}' looks numeric but holds {count} non-numbers ({_examples(bad)}): it is "
                 "treated as categories. Clean those cells (or cast the column) to use it as a number.")


NUMERIC_DTYPES = ("int", "float", "uint", "Int", "Float", "UInt")


def numeric_inputs(signature: dict[str, Any] | None) -> dict[str, str]:
    """``{column: training dtype}`` of the signature's inputs that were numeric, in the
    signature's order (computed once per run: the engine caches it next to the signature)."""
    out: dict[str, str] = {}
    for spec in (signature or {}).get("inputs") or []:
        dtype = str(spec.get("dtype", ""))
        if dtype.startswith(NUMERIC_DTYPES):
            out[spec.get("name")] = dtype
    return out


def check_against_signature(X: Any, signature: dict[str, Any] | None,
                            numeric: dict[str, str] | None = None) -> None:
    """New data must give numeric columns numbers, as in training: name the column and values.

    ``numeric`` is :func:`numeric_inputs` of ``signature`` when the caller keeps it.  The
    dtypes are looked at once per distinct dtype, not per column: a table of numbers (the
    usual case) costs the same at 10 or 1,000 columns."""
    import pandas as pd

    if not signature or not isinstance(X, pd.DataFrame):
        return
    check_finite(X)  # inf, 1e308 or a 400-digit number: one line, not the model's traceback
    numeric = numeric_inputs(signature) if numeric is None else numeric
    if not numeric:
        return
    dtypes = X.dtypes.tolist()
    kinds = {dtype: pd.api.types.is_numeric_dtype(dtype) for dtype in set(dtypes)}
    if all(kinds.values()):
        return
    now_not = {name for name, dtype in zip(X.columns.tolist(), dtypes, strict=True) if not kinds[dtype]}
    for name, dtype in numeric.items():  # the first in the signature's order, as before
        if name in now_not:
            bad = _non_numeric(X[name])
            if len(bad):
                raise DataError(f"Column '{name}' was numeric ({dtype}) in training but holds "
                                f"{_examples(bad)} here: fix those values or drop the rows.")
            # numbers pandas kept as text (a 400-digit integer): their value, as the model will see it
            over = pd.Series([abs(_as_float(v)) > MAX_MAGNITUDE for v in X[name]], index=X.index)
            if over.any():
                raw = str(X[name][over].iloc[0])
                shown = raw if len(raw) <= 24 else f"{raw[:12]}... ({len(raw)} characters)"
                raise DataError(f"Column '{name}' holds {shown}, too large to compute with (more than "
                                f"{MAX_MAGNITUDE:.0e} overflows): fix the value, or drop the row.")


def _as_float(value: Any) -> float:
    """A cell as the model's float64 will see it (a 400-digit integer: inf; text: nan)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf
    except (TypeError, ValueError):
        return math.nan


def check_labels(y: Any, signature: dict[str, Any] | None) -> None:
    """Evaluating a classifier on labels it never saw: name them."""
    if y is None or not signature or not signature.get("classes"):
        return
    known = {str(c) for c in signature["classes"]}
    unseen = sorted({str(v) for v in y.dropna().unique()} - known)
    if unseen:
        raise DataError(f"The target holds labels the model never saw in training: {', '.join(unseen[:5])}"
                        f"{' ...' if len(unseen) > 5 else ''} (it knows {', '.join(sorted(known)[:10])}).")


def check_header(path: Any) -> None:
    """A CSV whose header repeats a column name: pandas would rename it silently (``a.1``)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            header = next(csv.reader(handle, delimiter="\t" if str(path).endswith(".tsv") else ","), [])
    except OSError:
        return
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(f"'{path}' has two columns named '{name}': rename one (kampai would not know "
                            "which is which).")
        seen.add(name)


def unknown_categories(columns: Any, signature: dict[str, Any] | None) -> list[str]:
    """One warning line per input column holding values not among the categories seen in
    training (the signature lists them for text/bool columns with few values).

    The rule for ``runner predict``, the Python API and ``runner serve`` alike: such rows are
    predicted (the model's encoders map an unknown category to "none of the known ones"),
    never refused, and the caller shows these lines (a warning; the server's
    ``X-Kampai-Warning`` header).  ``columns`` maps a column name to its values: a DataFrame
    or the server's parsed rows (``{name: list}``); missing values are not unknown."""
    import pandas as pd

    lines: list[str] = []
    if not isinstance(columns, (dict, pd.DataFrame)):  # images, graphs, series: no categories
        return lines
    for spec in (signature or {}).get("inputs") or []:
        seen = spec.get("categories")
        name = spec.get("name")
        if not seen or name not in columns:
            continue
        known = set(seen) | {str(v) for v in seen}
        values = columns[name]
        if hasattr(values, "dropna"):  # a pandas column: one pass over the distinct values
            present = values.dropna()
            counts = present.value_counts(sort=False)
            new = [(v, int(n)) for v, n in counts.items() if v not in known and str(v) not in known]
        else:
            tally: dict[Any, int] = {}
            for v in values:
                if v is None or (v.__class__ is float and v != v) or v in known:
                    continue
                tally[v] = tally.get(v, 0) + 1
            new = list(tally.items())
        if new:
            rows = sum(n for _, n in new)
            shown = ", ".join(repr(v)[:40] for v, _ in new[:3]) + (" ..." if len(new) > 3 else "")
            lines.append(f"Column '{name}' holds {rows} value(s) in {len(new)} categor"
                         f"{'y' if len(new) == 1 else 'ies'} not seen in training ({shown}): predicted as "
                         "an unknown category.")
    return lines
