"""JSON in and out of ``runner serve``: orjson where it is installed (the ``serve`` extra
installs it), the standard library otherwise, with one result either way.

* :func:`loads`: orjson parses a body that is strict JSON; anything it refuses (``NaN``
  literals, broken bytes) is parsed again by :mod:`json`, so what the server accepts and the
  error a client reads do not depend on orjson.  A body holding a run of 19 or more digits
  goes to :mod:`json` at once: orjson reads an integer past 64 bits as a float, and an
  integer column must keep its value or be refused naming it.
* :func:`columns_json`: output columns (name -> array) as a JSON array of records, the one
  writer of the row path and of the full path's tables (:func:`frame_json`): the same
  numbers either way (shortest round-trip digits, NaN as null).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - the serve extra installs it
    orjson = None

#: value types the record writer takes as they are (anything else: pandas writes the table)
PLAIN = (str, int, float, bool, type(None))
#: an integer literal this long may not fit 64 bits (orjson would make it a float)
LONG_DIGITS = re.compile(rb"\d{19}")


def loads(body: bytes) -> Any:
    """The JSON value of ``body``; :mod:`json`'s exception when it is not JSON."""
    if orjson is not None and not LONG_DIGITS.search(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # json decides, with its own message (and its leniency: NaN, big integers)
    return json.loads(body)


def dumps(value: Any) -> str:
    """``value`` (plain Python: dicts, lists, str, int, float, bool, None) as JSON text;
    NaN and infinities as null."""
    if orjson is not None:
        return orjson.dumps(value).decode()
    return json.dumps(_finite(value), separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def plain_values(array: Any) -> list[Any] | None:
    """``array``'s values as Python scalars, or None when some are not JSON's own (dates,
    decimals ...): numpy numbers, booleans and strings, object arrays of those."""
    kind = getattr(getattr(array, "dtype", None), "kind", None)
    if kind is None:
        return None
    values = array.tolist()
    if kind in "biufU":
        return values
    if kind == "O" and all(v.__class__ in PLAIN for v in values):
        return values
    return None


def columns_json(columns: dict[str, Any], start: int = 0, stop: int | None = None) -> str | None:
    """Rows ``start:stop`` of ``columns`` (name -> 1-D array) as a JSON array of records;
    None when a column holds values JSON has no type for (the caller lets pandas write it)."""
    names, values = list(columns), []
    for name in names:
        column = plain_values(columns[name][start:stop])
        if column is None:
            return None
        values.append(column)
    return dumps([dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)])


def frame_json(table: Any) -> str:
    """A table as a JSON array of records: through :func:`columns_json` (the row path's
    writer) when its values are plain, else pandas (dates ISO, 15 digits, NaN as null)."""
    if table.columns.is_unique:
        text = columns_json({str(c): table[c].to_numpy() for c in table.columns})
        if text is not None:
            return text
    return table.to_json(orient="records", date_format="iso", double_precision=15)
