"""MLflow's scoring payloads and kampai's ``/predict`` body, parsed the way ``mlflow models
serve`` parses them, within the server's per-request limits.

``POST /invocations`` takes, as MLflow 2/3 scoring servers do:

* ``application/json`` with exactly one of ``dataframe_split`` (``{"columns": [...],
  "data": [[...]], "index": [...]}``), ``dataframe_records`` (``[{col: value}]``),
  ``instances`` or ``inputs`` (a list of records, a dict of columns, or a list of values
  for a one-input model), and optionally ``params`` (here: ``horizon`` and the task's
  predict options);
* ``text/csv``: a CSV with a header row.

``POST /predict`` takes ``{"records": [...], "horizon": N, "options": {...}}``.

Every mistake is a :class:`RequestError` (400/413/415/422) naming the field.  Everything
here is CPU work on bytes the client chose: the server runs it in a bounded worker pool,
never on the event loop.  The cheap bounds (CSV header fields and lines, counted on the raw
bytes) come before any parser sees the body.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from kampai.plugins.serve.jsonio import loads
from kampai.plugins.serve.rows import RequestError, Rows, shown, too_many_columns

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PREDICT_KEYS = ("records", "horizon", "options")
MAX_HORIZON = 100_000


@dataclass(frozen=True)
class Limits:
    """What one request may hold: rows (413 beyond) and columns (400 beyond)."""

    max_rows: int = 100_000
    max_columns: int = 256

    def check(self, rows: Rows) -> Rows:
        """``rows`` if within the limits, else the 413/400 naming the limit."""
        self.check_columns(len(rows.columns), "body")
        self.check_rows(rows.n)
        return rows

    def check_rows(self, n: int) -> None:
        if n > self.max_rows:
            raise RequestError(f"The request holds {n} rows; this server takes at most {self.max_rows} per "
                               "request (--max-rows): split it.", 413, "body")

    def check_columns(self, n: int, field: str) -> None:
        if n > self.max_columns:
            raise too_many_columns(n, self.max_columns, field)


def parse_json(body: bytes) -> Any:
    """The JSON value of a body; a malformed, too deep or too long-numbered one is a 400."""
    if not body.strip():
        raise RequestError("The request body is empty: send a JSON object.", 400, "body")
    try:
        return loads(body)
    except RecursionError:  # raised cleanly by the C scanner at the recursion limit
        raise RequestError("Malformed JSON: nested too deeply.", 400, "body") from None
    except (ValueError, UnicodeDecodeError) as exc:
        if "digits" in str(exc):  # Python's int-string conversion limit (4300 digits)
            raise RequestError("Malformed JSON: a number with thousands of digits.", 400, "body") from None
        raise RequestError(f"Malformed JSON: {exc}.", 400, "body") from None


def parse_invocation(body: bytes, content_type: str, input_names: list[str],
                     limits: Limits = Limits()) -> tuple[Rows | None, dict[str, Any]]:
    """``(rows or None, params)`` of one ``/invocations`` request."""
    kind = (content_type or "application/json").split(";")[0].strip().lower()
    if kind == "text/csv":
        return parse_csv(body, limits), {}
    if kind not in ("application/json", ""):
        raise RequestError(f"Content type {shown(kind)} is not supported: use application/json or text/csv.",
                           415, "content-type")
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise RequestError(f"The JSON body must be an object with one of the keys {', '.join(FORMATS)}; "
                           f"got a {type(payload).__name__}.", 400, "body")
    found = [k for k in FORMATS if k in payload]
    extra = sorted(set(payload) - set(FORMATS) - {"params"})
    if extra:
        raise RequestError(f"Unknown key(s) {', '.join(shown(e) for e in extra[:5])}: the body takes one of "
                           f"{', '.join(FORMATS)} (and 'params').", 400, extra[0][:100])
    params = payload.get("params") or {}
    if not isinstance(params, dict):
        raise RequestError("'params' must be an object.", 400, "params")
    if len(found) > 1:
        raise RequestError(f"Give exactly one of {', '.join(FORMATS)}; got {', '.join(found)}.", 400, found[1])
    if not found:
        if params:
            return None, params  # forecasting ahead / recommendation by options: no rows
        raise RequestError(f"The body needs one of the keys {', '.join(FORMATS)}.", 400, "body")
    key = found[0]
    return limits.check(frame_of(key, payload[key], input_names, limits)), params


def parse_predict(body: bytes, records_required: bool, forecasts: bool,
                  limits: Limits = Limits()) -> tuple[Rows | None, int | None, dict[str, Any]]:
    """``(rows or None, horizon, options)`` of one ``/predict`` request: its envelope
    checked as the OpenAPI schema says (422 naming the field); the values of the rows are
    checked later by the same rule as ``/invocations`` (:meth:`ServedModel.check_rows`)."""
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise RequestError(f"body: Input should be an object (got a {type(payload).__name__})", 422, "body")
    allowed = PREDICT_KEYS if forecasts else ("records", "options")
    extra = [k for k in payload if k not in allowed]
    if extra:
        raise RequestError(f"{shown(extra[0], quote=False)}: Extra inputs are not permitted", 422,
                           extra[0][:100])
    records = payload.get("records")
    if records is None:
        if records_required:
            raise RequestError("records: Field required", 422, "records")
        rows = None
    elif not isinstance(records, list):
        raise RequestError(f"records: Input should be a valid list (got a {type(records).__name__})", 422,
                           "records")
    elif not records and records_required:
        raise RequestError("records: List should have at least 1 item", 422, "records")
    else:
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise RequestError(f"records.{i}: Input should be an object", 422, f"records.{i}")
        limits.check_rows(len(records))
        rows = limits.check(Rows.of_records(records, limits.max_columns)) if records else None
    horizon = payload.get("horizon")
    if horizon is not None and (horizon.__class__ is not int or not 1 <= horizon <= MAX_HORIZON):
        raise RequestError(f"horizon: Input should be an integer from 1 to {MAX_HORIZON} "
                           f"(got {shown(horizon)})", 422, "horizon")
    options = payload.get("options")
    if options is None:
        options = {}
    elif not isinstance(options, dict):
        raise RequestError("options: Input should be an object", 422, "options")
    return rows, horizon, options


def frame_of(key: str, value: Any, input_names: list[str], limits: Limits = Limits()) -> Rows:
    """The rows of one of MLflow's JSON formats, column-wise (no DataFrame yet)."""
    if key == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise RequestError("'dataframe_split' must be an object with 'columns' and 'data'.", 400, key)
        data, columns = value.get("data"), value.get("columns")
        if not isinstance(data, list) or (columns is not None and not isinstance(columns, list)):
            raise RequestError("'dataframe_split.data' must be a list of rows and 'columns' a list.", 400, key)
        columns = input_names if columns is None else columns
        limits.check_columns(len(columns), key)
        limits.check_rows(len(data))
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != len(columns):
                raise RequestError(f"'dataframe_split.data' row {i} must be a list of {len(columns)} "
                                   "values (one per column).", 400, f"{key}.data.{i}")
        if not all(isinstance(c, (str, int, float, bool)) or c is None for c in columns):
            raise RequestError("'dataframe_split.columns' must be a list of names.", 400, key)
        if len(set(map(str, columns))) != len(columns):
            raise RequestError("'dataframe_split.columns' names a column twice.", 400, key)
        return _columns([str(c) for c in columns], data)
    if key == "dataframe_records":
        return _records(value, key, limits)
    # instances / inputs (MLflow's tensor formats): records, a dict of columns, or values of a
    # one-input model
    if isinstance(value, dict):
        limits.check_columns(len(value), key)
        lengths = {len(v) if isinstance(v, list) else 1 for v in value.values()}
        if len(lengths) > 1:
            raise RequestError(f"'{key}' columns have different lengths.", 400, key)
        return Rows({str(k): v if isinstance(v, list) else [v] for k, v in value.items()},
                    lengths.pop() if lengths else 0)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return _records(value, key, limits)
    if isinstance(value, list) and len(input_names) == 1 and all(not isinstance(v, (dict, list)) for v in value):
        return Rows({input_names[0]: value}, len(value))
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        if any(len(v) != len(input_names) for v in value):
            raise RequestError(f"Each row of '{key}' must hold {len(input_names)} values "
                               f"({', '.join(input_names)}).", 400, key)
        return _columns(input_names, value)
    if isinstance(value, list) and not value:
        return Rows({c: [] for c in input_names}, 0)
    raise RequestError(f"'{key}' must be a list of records, a dict of columns or a list of rows.", 400, key)


def _columns(names: list[str], data: list[list[Any]]) -> Rows:
    """Rows given as lists (of the right length), column-wise.  One comprehension per column
    rather than ``zip(*data)``: a call with 100,000 arguments holds the GIL (and so the
    event loop) for as long as it takes."""
    return Rows({name: [row[j] for row in data] for j, name in enumerate(names)}, len(data))


def _records(value: Any, key: str, limits: Limits) -> Rows:
    if not isinstance(value, list):
        raise RequestError(f"'{key}' must be a list of records (objects).", 400, key)
    limits.check_rows(len(value))
    for i, row in enumerate(value):
        if not isinstance(row, dict):
            raise RequestError(f"'{key}' item {i} must be an object (column: value).", 400, f"{key}.{i}")
    return Rows.of_records(value, limits.max_columns)


def parse_csv(body: bytes, limits: Limits = Limits()) -> Rows:
    """The rows of a CSV body.  The header's fields and the lines are counted on the bytes
    first (commas and newlines: an upper bound when quoted names hold commas), so a
    100,000-column header or a million lines is refused before pandas reads anything."""
    import pandas as pd

    if not body.strip():
        raise RequestError("The CSV body is empty: send a header row and at least one row.", 400, "body")
    end = body.find(b"\n")
    header = body if end < 0 else body[:end]
    limits.check_columns(header.count(b",") + 1, "body")
    lines = body.count(b"\n") + (not body.endswith(b"\n"))
    if lines - 1 > limits.max_rows:  # lines less the header: quoted newlines make it an upper bound
        raise RequestError(f"The CSV holds {lines - 1} lines of rows; this server takes at most "
                           f"{limits.max_rows} rows per request (--max-rows): split it.", 413, "body")
    try:
        frame = pd.read_csv(io.BytesIO(body))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise RequestError(f"Malformed CSV: {shown(str(exc), 200, quote=False)}".strip().rstrip(".") + ".",
                           400, "body") from None
    return limits.check(Rows.of_frame(frame))
