"""The model a server holds: a run opened through :func:`kampai.plugin.runs.load_run`, its
signature, request validation against it, and predictions as JSON-able records.

Nothing here knows a framework or a task beyond the signature's ``input_kind``:

* ``table`` / ``texts``: rows of the signature's input columns (typed; unknown categories accepted with a warning);
* ``series`` (forecasting): ``horizon`` and optionally new history rows (time, targets,
  series id, covariates);
* any task with predict options (recommendation: ``users``, ``k`` ...): the request's
  ``options`` (MLflow's ``params``) go to ``run.predict(frame, **options)`` unchanged and
  the task validates them; rows are optional.

A request's rows and the strict checks of their values are :mod:`.rows`'s.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kampai.plugin import DataError, KampaiError, RunError
from kampai.plugin.experiments import unknown_categories
from kampai.plugin.runs import RUNS_DIR
from kampai.plugins.serve.jsonio import columns_json, frame_json
from kampai.plugins.serve.rows import (
    Columns,
    RequestError,
    Rows,
    integer_column,
    json_type,
    number_column,
    other_column,
    shown_names,
)

ROW_KINDS = ("table", "texts")
#: the checked frame's ``attrs`` key for the request's warning lines (unknown categories)
WARNINGS = "kampai_warnings"


def resolve_ref(ref: str, runs_dir: str | Path = RUNS_DIR) -> str:
    """A run folder, a run id under ``runs_dir``, or ``NAME@stage`` / ``NAME@version``."""
    path = Path(ref)
    if not path.is_dir() and (Path(runs_dir) / ref).is_dir():
        return str(Path(runs_dir) / ref)
    return ref


def registry_parts(ref: str) -> tuple[str | None, str | None]:
    """``churn@production`` -> ("churn", "production"); a folder -> (None, None)."""
    match = re.match(r"^(?:models:/)?([A-Za-z0-9][\w.\-]*)@([\w.\-]+)$", str(ref))
    if not match or Path(ref).exists():
        return None, None
    return match.group(1), match.group(2)


@dataclass
class ServedModel:
    """One loaded run, ready to answer requests."""

    ref: str
    run: Any
    signature: dict[str, Any]
    loaded_at: float = field(default_factory=time.time)
    warm: bool = False
    #: the run's row path (:func:`kampai.plugin.runs.row_predictor`), set by :meth:`warm_up`;
    #: None: every request goes through ``run.predict``
    row_path: Any = None
    #: seconds one row takes on the row path (the median of a few calls at warm-up)
    row_seconds: float = math.inf

    @classmethod
    def load(cls, ref: str, runs_dir: str | Path = RUNS_DIR) -> ServedModel:
        from kampai.plugin.runs import load_run

        run = load_run(resolve_ref(ref, runs_dir))
        _ = run.model  # load now (verified): a broken model stops the server at start
        data = run.record("signature.json")  # the verified bytes, not the path read again
        if data is None:
            raise RunError(f"Run '{ref}' has no signature.json (trained before signatures): retrain it "
                           "to serve it.")
        try:
            signature = json.loads(data)
        except ValueError as exc:
            raise RunError(f"Run '{ref}': signature.json is corrupt ({exc}).") from None
        model = cls(ref=ref, run=run, signature=signature)
        return model

    # ------------------------------------------------------------------ facts

    @property
    def kind(self) -> str:
        return str(self.signature.get("input_kind") or "table")

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return list(self.signature.get("inputs") or [])

    @property
    def names(self) -> list[str]:
        """The input columns' names (made once: every request reads them)."""
        return self._schema[0]

    @property
    def ahead(self) -> bool:
        return self.kind == "series"

    @property
    def takes_options(self) -> bool:
        """The task has predict options (recommendation's users and k): rows are optional."""
        from kampai.plugin.experiments import registry_of

        try:
            task = registry_of("tasks").get(str(self.signature.get("task")))
        except KampaiError:
            return False
        return "predict_options" in task.capabilities

    @property
    def version(self) -> str | None:
        """The registry version when the folder is a resolved one (``.../NAME/v3``)."""
        name = Path(self.run.run_dir).name
        return name[1:] if re.fullmatch(r"v\d+", name) else None

    def metadata(self) -> dict[str, Any]:
        name, stage = registry_parts(self.ref)
        meta = self.run.meta
        return {"ref": self.ref, "run_id": self.run.run_id, "task": meta.get("task"),
                "framework": meta.get("framework"), "estimator": meta.get("estimator"),
                "created": meta.get("created"), "registry": {"name": name, "stage": stage,
                                                             "version": self.version},
                "signature": self.signature, "metrics": _finite(self.run.metrics),
                "loaded_at": self.loaded_at, "row_path": self.row_path is not None}

    def example_records(self) -> list[dict[str, Any]]:
        """One row of the training predictions' inputs is not kept; a typed placeholder row."""
        row: dict[str, Any] = {}
        for col in self.inputs:
            if col.get("categories"):
                row[col["name"]] = col["categories"][0]
            else:
                row[col["name"]] = {"integer": 0, "number": 0.0, "boolean": False}.get(
                    json_type(col.get("dtype", "object")), "text")
        return [row] if row else []

    # ------------------------------------------------------------------ validation

    @property
    def specs(self) -> list[tuple[str, str, str, bool, frozenset | None, tuple | None]]:
        """The input columns prepared once: ``(name, json kind, dtype, nullable, category
        set, categories)``; what every request is checked against."""
        specs = self.__dict__.get("_specs")
        if specs is None:
            specs = [(c["name"], json_type(c.get("dtype", "object")), str(c.get("dtype", "object")),
                      bool(c.get("nullable")), frozenset(c["categories"]) if c.get("categories") else None,
                      tuple(c["categories"]) if c.get("categories") else None) for c in self.inputs]
            self.__dict__["_specs"] = specs
        return specs

    def check_frame(self, frame: Any) -> Any:
        """The rows of a request (a DataFrame or :class:`Rows`) as the model's inputs: every
        signature column present, values of the right type; categories not seen in training
        are accepted and named in ``frame.attrs[WARNINGS]``.  Pure Python over the values,
        then one DataFrame of typed arrays."""
        if self.kind not in ROW_KINDS:
            return frame.to_frame() if isinstance(frame, Rows) else frame
        rows = frame if isinstance(frame, Rows) else Rows.of_frame(frame)
        return self.check_rows(rows)

    def check_rows(self, rows: Rows, status: int = 400) -> Any:
        """:meth:`check_columns` as one DataFrame (what ``run.predict`` takes)."""
        import pandas as pd

        columns = self.check_columns(rows, status)
        frame = pd.DataFrame(columns.arrays, columns=list(columns.arrays), copy=False)
        frame.attrs[WARNINGS] = columns.warnings
        return frame

    def check_columns(self, rows: Rows, status: int = 400) -> Columns:
        """The rows of a request as :class:`Columns` of the model's inputs; a mistake is a
        :class:`RequestError` with ``status`` (400 on ``/invocations``, 422 on
        ``/predict``: one rule, two protocols).

        Strict types: a number column takes JSON numbers only (no ``"5.1"``, no ``true``);
        an integer column takes integers (or integral floats such as ``5.0``) converted
        exactly into the column's training dtype, never through float64, and a value
        outside that dtype's range is refused naming the column."""
        if rows.n == 0:
            raise RequestError("The request holds no rows: send at least one record.", status, "records")
        specs = self.specs
        names, known, floats = self._schema
        if len(rows.columns) == len(names) and known.issuperset(rows.columns):  # all there: out in one go
            out = _float_block(floats, rows)
            for name, kind, dtype, nullable, _seen, _choices in specs:
                if name in out:
                    continue
                values = rows.columns[name]
                if kind == "integer":
                    out[name] = integer_column(name, values, dtype, nullable, status)
                elif kind == "number":
                    out[name] = number_column(name, values, dtype, nullable, status)
                else:
                    out[name] = other_column(name, values, kind, nullable, status)
            if len(out) == len(names) and list(out) != names:
                out = {name: out[name] for name in names}
            # unknown categories are predicted, not refused (as `runner predict` does): the
            # lines go back to the client in the X-Kampai-Warning header
            warnings = unknown_categories(rows.columns, self.signature) if self._categorical else []
            return Columns(out, rows.n, warnings)
        missing = [n for n in names if n not in rows.columns]
        if missing:
            raise RequestError(f"Missing input column(s): {shown_names(missing)} "
                               f"(the model takes: {', '.join(names)}).", status, missing[0])
        if len(rows.columns) != len(names):
            known = set(names)
            unknown = [str(c) for c in rows.columns if c not in known]
            raise RequestError(f"Unknown input column(s): {shown_names(unknown)} "
                               f"(the model takes: {', '.join(names)}).", status, unknown[0][:100])
        raise AssertionError("unreachable: the columns are the inputs")  # pragma: no cover

    @property
    def _schema(self) -> tuple[list[str], frozenset[str], list[str]]:
        """``(input names, their set, the float64 number columns)``, made once per model."""
        schema = self.__dict__.get("_schema_cache")
        if schema is None:
            specs = self.specs
            schema = ([s[0] for s in specs], frozenset(s[0] for s in specs),
                      [s[0] for s in specs if s[1] == "number" and s[2] == "float64"])
            self.__dict__["_schema_cache"] = schema
        return schema

    @property
    def _categorical(self) -> bool:
        """Whether some input lists the categories seen in training (else no warning can be)."""
        found = self.__dict__.get("_categorical_cache")
        if found is None:
            found = self.__dict__["_categorical_cache"] = any(s[4] is not None for s in self.specs)
        return found


    def history_frame(self, records: list[dict[str, Any]] | None) -> Any:
        """Forecasting: new history rows (time column and targets at least), or None."""
        import pandas as pd

        if not records:
            return None
        frame = pd.DataFrame.from_records(records)
        sig = self.signature
        needed = [sig.get("time"), *(sig.get("targets") or [])]
        if sig.get("series_id"):
            needed.append(sig["series_id"])
        missing = [c for c in needed if c and c not in frame.columns]
        if missing:
            raise RequestError(f"Missing history column(s): {', '.join(repr(m) for m in missing)} "
                               f"(history needs: {', '.join(c for c in needed if c)}).", 400, missing[0])
        for col in sig.get("targets") or []:
            if not pd.api.types.is_numeric_dtype(frame[col]):
                raise RequestError(f"History column '{col}' must hold numbers.", 400, col)
        return frame

    # ------------------------------------------------------------------ predicting

    def predict(self, frame: Any = None, horizon: int | None = None,
                options: dict[str, Any] | None = None) -> Any:
        """``run.predict`` with a client's mistakes (the task's DataError/KampaiError) as 400."""
        if self.ahead and horizon is None:
            horizon = int((self.run.config.get("split") or {}).get("horizon") or 12)
        if horizon is not None and (not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1
                                    or horizon > 100_000):
            raise RequestError("'horizon' must be a positive integer.", 400, "horizon")
        if not self.ahead and horizon is not None:
            raise RequestError(f"Task '{self.signature.get('task')}' does not forecast: drop 'horizon'.",
                               400, "horizon")
        taken = sorted({"frame", "horizon"} & set(options or {}))
        if taken:  # run.predict's own arguments, not the task's options
            raise RequestError(f"'{taken[0]}' is not a predict option"
                               + (": give it at the top level." if taken[0] == "horizon" else "."), 400, taken[0])
        try:
            return self.run.predict(frame, horizon=horizon, **(options or {}))
        except (DataError, KampaiError) as exc:
            raise RequestError(str(exc), 400) from None
        except (ValueError, TypeError, KeyError) as exc:
            # bad values that passed the signature (a model's own input checks)
            raise RequestError(f"The model refused the input: {exc}", 400) from None

    def predict_json(self, frame: Any = None, horizon: int | None = None,
                     options: dict[str, Any] | None = None) -> str:
        """:meth:`predict` as a JSON array of records (what the server sends); checked
        :class:`Columns` go through the row path."""
        if isinstance(frame, Columns):
            return self.rows_json(frame)[0]
        return records_json(self.predict(frame, horizon, options))

    def predict_columns(self, columns: Columns) -> dict[str, Any]:
        """The row path's output columns for checked :class:`Columns`; a model's refusal of
        the values is a 400, as in :meth:`predict`."""
        try:
            return self.row_path(columns.arrays)
        except (DataError, KampaiError) as exc:
            raise RequestError(str(exc), 400) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise RequestError(f"The model refused the input: {exc}", 400) from None

    def rows_json(self, columns: Columns, sizes: list[int] | None = None) -> list[str]:
        """The predictions of ``columns`` (one model call), as one JSON array of records per
        part of ``sizes`` rows (a micro-batch's requests; one part by default)."""
        out = self.predict_columns(columns)
        texts, start = [], 0
        for size in sizes or [columns.n]:
            text = columns_json(out, start, start + size)
            if text is None:  # values JSON has no type for: as the full path writes them
                import pandas as pd

                text = records_json(pd.DataFrame({k: v[start:start + size] for k, v in out.items()}))
            texts.append(text)
            start += size
        return texts

    def warm_up(self) -> None:
        """One real prediction before ``/ready`` says yes, through the row path when the run
        has one (:func:`kampai.plugin.runs.row_predictor`)."""
        if self.kind in ROW_KINDS and self.inputs and not self.takes_options:
            from kampai.plugin.runs import row_predictor

            rows = Rows.of_records(self.example_records())
            self.predict(self.check_rows(rows))
            self.row_path = row_predictor(self.run) if self.kind == "table" else None
            if self.row_path is not None:
                columns = self.check_columns(rows)
                times = []
                for _ in range(7):
                    start = time.perf_counter()
                    self.predict_columns(columns)
                    times.append(time.perf_counter() - start)
                self.row_seconds = sorted(times)[3]
        elif self.ahead:
            self.predict(None, horizon=1)
        self.warm = True


def records_json(table: Any) -> str:
    """A prediction table as a JSON array of records (NaN -> null, dates ISO; numbers as the
    row path writes them: :func:`~.jsonio.frame_json`)."""
    import pandas as pd

    drop = [c for c in ("fold", "target") if c in table.columns]
    if drop:
        table = table.drop(columns=drop)
    if not isinstance(table.index, pd.RangeIndex) and table.index.name:
        table = table.reset_index()
    return frame_json(table)


def records(table: Any) -> list[dict[str, Any]]:
    """A prediction table as JSON records (NaN -> null, numpy scalars -> Python)."""
    return json.loads(records_json(table))


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}


def _float_block(names: list[str], rows: Rows) -> dict[str, Any]:
    """The float64 number columns of ``rows`` converted together (one array, one finiteness
    check: a one-row request would otherwise pay numpy's per-call cost per column), or ``{}``
    when a value needs :func:`number_column`'s rules (null, not a number, not finite): the
    per-column checks then convert them, and their messages name the value."""
    import numpy as np

    if not names:
        return {}
    columns = rows.columns
    block = [columns[name] for name in names]
    for values in block:
        for v in values:
            c = v.__class__
            if c is not float and c is not int:
                return {}
    try:
        array = np.array(block, dtype="float64")
    except OverflowError:
        return {}
    if not np.isfinite(array).all():
        return {}
    return dict(zip(names, array, strict=True))
