"""A request's rows, column-wise as the JSON gave them (:class:`Rows`), and the strict
checks of their values against an input column's type (:func:`integer_column`,
:func:`number_column`, :func:`other_column`); a client's mistake is a
:class:`RequestError` naming the field.  :class:`~.model.ServedModel` applies them per
signature column.
"""

from __future__ import annotations

from typing import Any

NUMERIC = {"i": "integer", "u": "integer", "f": "number", "b": "boolean"}


class RequestError(Exception):
    """A client's mistake: answered with ``status`` and a message naming the field."""

    def __init__(self, message: str, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.field = status, field


def json_type(dtype: str) -> str:
    """The JSON type of a pandas dtype name (``int64`` -> integer, ``object`` -> string)."""
    import numpy as np

    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        kind = "O"
    if kind in "mM":
        return "string"
    return NUMERIC.get(kind, "string")


class Rows:
    """A request's rows column-wise, as the JSON gave them (Python lists), before checking."""

    __slots__ = ("columns", "n")

    def __init__(self, columns: dict[str, list[Any]], n: int) -> None:
        self.columns, self.n = columns, n

    def __len__(self) -> int:
        return self.n

    @classmethod
    def of_records(cls, records: list[dict[str, Any]], max_columns: int | None = None) -> Rows:
        """Records (a key absent from some of them is null there, as in pandas).  With
        ``max_columns``, more distinct keys than that is a 400 before any column is built
        (the columns cost names x records)."""
        names: dict[str, None] = {}
        for record in records:
            names.update(dict.fromkeys(record))
            if max_columns is not None and len(names) > max_columns:
                raise too_many_columns(len(names), max_columns, "records")
        return cls({name: [r.get(name) for r in records] for name in names}, len(records))

    @classmethod
    def of_frame(cls, frame: Any) -> Rows:
        data = frame.astype(object).where(frame.notna(), None) if len(frame.columns) else frame
        return cls({str(c): data[c].tolist() for c in data.columns}, len(frame))

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.columns) if self.columns else pd.DataFrame(index=range(self.n))

    def records(self) -> list[dict[str, Any]]:
        names = list(self.columns)
        return [dict(zip(names, values, strict=True)) for values in zip(*self.columns.values(), strict=True)]


class Columns:
    """A request's rows checked against the signature: the input columns as numpy arrays of
    the training dtypes (the signature's order), what the row path predicts without a
    DataFrame; ``warnings``: the request's lines on unknown categories."""

    __slots__ = ("arrays", "n", "warnings")

    def __init__(self, arrays: dict[str, Any], n: int, warnings: list[str] | None = None) -> None:
        self.arrays, self.n, self.warnings = arrays, n, warnings or []

    def __len__(self) -> int:
        return self.n

    @classmethod
    def concat(cls, parts: list[Columns]) -> Columns:
        """Several requests' columns as one (a micro-batch), in order."""
        import numpy as np

        if len(parts) == 1:
            return parts[0]
        names = list(parts[0].arrays)
        return cls({name: np.concatenate([p.arrays[name] for p in parts]) for name in names},
                   sum(p.n for p in parts))


def shown(value: Any, limit: int = 60, quote: bool = True) -> str:
    """A client's value in a message: ``repr`` (or ``str``), cut to ``limit`` characters."""
    try:
        text = repr(value) if quote else str(value)
    except (ValueError, RecursionError):  # an int past Python's digit limit, a deep list
        text = f"<a {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def shown_names(names: list[str]) -> str:
    """At most five quoted names, cut to 60 characters each: a message stays one short line."""
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return ", ".join(shown(n) for n in names[:5]) + more


def too_many_columns(n: int, limit: int, field: str) -> RequestError:
    """The 400 for a request naming more columns than the server takes."""
    return RequestError(f"The request names {n} columns; this server takes at most {limit} (--max-columns).",
                        400, field)


def _null(name: str, row: int, nullable: bool, status: int) -> bool:
    if not nullable:
        raise RequestError(f"Column '{name}' is null in row {row}: the model was trained without missing "
                           "values there.", status, name)
    return True


def integer_column(name: str, values: list[Any], dtype: str, nullable: bool, status: int) -> Any:
    """An integer column exactly: Python ints straight into ``dtype`` (numpy refuses an int
    out of its range), integral floats as the int they are, null as NaN only where the
    model saw missing values (then float64, and only for ints float64 holds exactly)."""
    import numpy as np

    floats = nulls = False
    for row, v in enumerate(values):
        c = v.__class__
        if c is int:
            continue
        if c is float:
            if v != v:
                nulls = _null(name, row, nullable, status)
            elif not v.is_integer():
                raise RequestError(f"Column '{name}' must be an integer; row {row} holds {shown(v)}.", status, name)
            floats = True
        elif v is None:
            nulls = _null(name, row, nullable, status)
        elif not isinstance(v, np.integer):  # bool, str ("5"), list ...
            raise RequestError(f"Column '{name}' must be an integer; row {row} holds {shown(v)}.", status, name)
    exact = [v if v is None or v != v else int(v) for v in values] if floats or nulls else values
    if nulls:
        big = next((i for i, v in enumerate(exact) if v is not None and v == v and abs(v) > 2**53), None)
        if big is not None:
            raise RequestError(f"Column '{name}' holds {shown(values[big])} in row {big}, too large to be exact "
                               "in a column with missing values (at most 2**53).", status, name)
        return np.array([np.nan if v is None else v for v in exact], dtype="float64")
    try:
        return np.array(exact, dtype=dtype)
    except OverflowError:
        info = np.iinfo(dtype)
        row = next(i for i, v in enumerate(exact) if not info.min <= v <= info.max)
        raise RequestError(f"Column '{name}' holds {shown(values[row])} in row {row}, outside the {dtype} range "
                           f"the model was trained on ({info.min} to {info.max}).", status, name) from None


def number_column(name: str, values: list[Any], dtype: str, nullable: bool, status: int) -> Any:
    """A number column: JSON numbers only, finite, within ``dtype`` (float32 ends sooner)."""
    import numpy as np

    nulls = False
    for row, v in enumerate(values):
        c = v.__class__
        if c is float or c is int:
            continue
        if v is None:
            nulls = _null(name, row, nullable, status)
        elif isinstance(v, np.bool_) or not isinstance(v, (np.integer, np.floating)):  # bool, str ...
            raise RequestError(f"Column '{name}' must be a number; row {row} holds {shown(v)}.", status, name)
    try:
        array = np.array([np.nan if v is None else v for v in values] if nulls else values, dtype="float64")
    except OverflowError:  # an int past float64 (a 400-digit one)
        row = next(i for i, v in enumerate(values) if v.__class__ is int and abs(v) > 2**1023)
        raise RequestError(f"Column '{name}' holds {shown(values[row])} in row {row}, outside the {dtype} "
                           "range.", status, name) from None
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(bad.argmax())
        if values[row] is None or array[row] != array[row]:  # JSON NaN is a null
            _null(name, row, nullable, status)
            bad &= ~np.isnan(array)
        if bad.any():
            raise RequestError(f"Column '{name}' holds a non-finite number in row {int(bad.argmax())}.", status,
                               name)
    if dtype != "float64" and np.dtype(dtype).kind == "f":
        top = float(np.finfo(dtype).max)
        over = np.abs(np.nan_to_num(array)) > top
        if over.any():
            row = int(over.argmax())
            raise RequestError(f"Column '{name}' holds {shown(values[row])} in row {row}, outside the {dtype} "
                               f"range the model was trained on (up to {top:g}).", status, name)
        array = array.astype(dtype)
    return array


def other_column(name: str, values: list[Any], kind: str, nullable: bool, status: int) -> Any:
    """A boolean or string column (an unknown category is accepted: :func:`unknown_categories`)."""
    import numpy as np

    nulls = False
    for row, v in enumerate(values):
        if v is None or (v.__class__ is float and v != v):
            nulls = _null(name, row, nullable, status)
        elif kind == "boolean":
            if not isinstance(v, (bool, np.bool_)):
                raise RequestError(f"Column '{name}' must be a boolean (true/false); row {row} holds {shown(v)}.",
                                   status, name)
        elif not isinstance(v, str):
            raise RequestError(f"Column '{name}' must be a string; row {row} holds {shown(v)}.", status, name)
    if kind == "boolean" and not nulls:
        return np.array(values, dtype=bool)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array

