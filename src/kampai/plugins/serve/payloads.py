"""MLflow's scoring payloads, parsed the way ``mlflow models serve`` parses them.

``POST /invocations`` takes, as MLflow 2/3 scoring servers do:

* ``application/json`` with exactly one of ``dataframe_split`` (``{"columns": [...],
  "data": [[...]], "index": [...]}``), ``dataframe_records`` (``[{col: value}]``),
  ``instances`` or ``inputs`` (a list of records, a dict of columns, or a list of values
  for a one-input model), and optionally ``params`` (here: ``horizon`` and the task's
  predict options);
* ``text/csv``: a CSV with a header row.

Every mistake is a :class:`RequestError` (400/415) naming the field.
"""

from __future__ import annotations

import io
import json
from typing import Any

from kampai.plugins.serve.model import RequestError, Rows

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise RequestError("The request body is empty: send a JSON object.", 400, "body")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"Malformed JSON: {exc}.", 400, "body") from None


def parse_invocation(body: bytes, content_type: str, input_names: list[str]) -> tuple[Rows | None, dict[str, Any]]:
    """``(rows or None, params)`` of one ``/invocations`` request."""
    kind = (content_type or "application/json").split(";")[0].strip().lower()
    if kind == "text/csv":
        return parse_csv(body), {}
    if kind not in ("application/json", ""):
        raise RequestError(f"Content type '{kind}' is not supported: use application/json or text/csv.", 415,
                           "content-type")
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise RequestError(f"The JSON body must be an object with one of the keys {', '.join(FORMATS)}; "
                           f"got a {type(payload).__name__}.", 400, "body")
    found = [k for k in FORMATS if k in payload]
    extra = sorted(set(payload) - set(FORMATS) - {"params"})
    if extra:
        raise RequestError(f"Unknown key(s) {', '.join(repr(e) for e in extra)}: the body takes one of "
                           f"{', '.join(FORMATS)} (and 'params').", 400, extra[0])
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
    return frame_of(key, payload[key], input_names), params


def frame_of(key: str, value: Any, input_names: list[str]) -> Rows:
    """The rows of one of MLflow's JSON formats, column-wise (no DataFrame yet)."""
    if key == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise RequestError("'dataframe_split' must be an object with 'columns' and 'data'.", 400, key)
        data, columns = value.get("data"), value.get("columns")
        if not isinstance(data, list) or (columns is not None and not isinstance(columns, list)):
            raise RequestError("'dataframe_split.data' must be a list of rows and 'columns' a list.", 400, key)
        columns = input_names if columns is None else columns
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != len(columns):
                raise RequestError(f"'dataframe_split.data' row {i} must be a list of {len(columns)} "
                                   "values (one per column).", 400, f"{key}.data.{i}")
        if len(set(map(str, columns))) != len(columns):
            raise RequestError("'dataframe_split.columns' names a column twice.", 400, key)
        return Rows({str(c): list(v) for c, v in zip(columns, zip(*data, strict=True), strict=True)} if data else
                    {str(c): [] for c in columns}, len(data))
    if key == "dataframe_records":
        return _records(value, key)
    # instances / inputs (MLflow's tensor formats): records, a dict of columns, or values of a
    # one-input model
    if isinstance(value, dict):
        lengths = {len(v) if isinstance(v, list) else 1 for v in value.values()}
        if len(lengths) > 1:
            raise RequestError(f"'{key}' columns have different lengths.", 400, key)
        return Rows({str(k): v if isinstance(v, list) else [v] for k, v in value.items()},
                    lengths.pop() if lengths else 0)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return _records(value, key)
    if isinstance(value, list) and len(input_names) == 1 and all(not isinstance(v, (dict, list)) for v in value):
        return Rows({input_names[0]: value}, len(value))
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        if any(len(v) != len(input_names) for v in value):
            raise RequestError(f"Each row of '{key}' must hold {len(input_names)} values "
                               f"({', '.join(input_names)}).", 400, key)
        return Rows({c: list(v) for c, v in zip(input_names, zip(*value, strict=True), strict=True)}, len(value))
    if isinstance(value, list) and not value:
        return Rows({c: [] for c in input_names}, 0)
    raise RequestError(f"'{key}' must be a list of records, a dict of columns or a list of rows.", 400, key)


def _records(value: Any, key: str) -> Rows:
    if not isinstance(value, list):
        raise RequestError(f"'{key}' must be a list of records (objects).", 400, key)
    for i, row in enumerate(value):
        if not isinstance(row, dict):
            raise RequestError(f"'{key}' item {i} must be an object (column: value).", 400, f"{key}.{i}")
    return Rows.of_records(value)


def parse_csv(body: bytes) -> Rows:
    import pandas as pd

    if not body.strip():
        raise RequestError("The CSV body is empty: send a header row and at least one row.", 400, "body")
    try:
        frame = pd.read_csv(io.BytesIO(body))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise RequestError(f"Malformed CSV: {exc}".strip().rstrip(".") + ".", 400, "body") from None
    return Rows.of_frame(frame)
