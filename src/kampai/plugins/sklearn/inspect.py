"""Step inspection of a fitted scikit-learn model (capability ``inspect``).

Runs the data through each fitted transformer of the model's preprocessing, in order, and
describes what comes out: shape, output column names (``get_feature_names_out``), dtypes,
missing values and a few rows.  A :class:`~sklearn.compose.ColumnTransformer` branch also
names the input columns it received.  Nothing is refitted: only ``transform`` is called.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import KampaiError

HEAD_ROWS = 5
MAX_COLUMNS = 50  # columns shown in dtypes/missing/head (shape and the name count stay exact)


def inspect_model(model: Any, X: Any) -> list[dict[str, Any]]:
    """One record per step of ``model``'s preprocessing (the final estimator excluded),
    plus the ``input`` the model received; ``[]`` when there are no preprocessing steps."""
    from sklearn.pipeline import Pipeline

    if hasattr(model, "predict_with_proba"):  # onnx_format.OnnxPipeline
        raise KampaiError("Step inspection needs the scikit-learn pipeline; this run was saved with "
                          "--serializer onnx (an ONNX graph). Retrain it with joblib or skops to inspect it.")
    steps: list[dict[str, Any]] = []
    if isinstance(model, Pipeline):
        transformers = model.steps[:-1]
        if not transformers:
            return []
        steps.append(describe("input", "DataFrame" if hasattr(X, "columns") else type(X).__name__, X))
        current, names = X, _column_names(X)
        for name, step in transformers:
            if step is None or step == "passthrough":
                continue
            current, names = _walk(step, current, names, name, steps)
        return steps
    return []


def _walk(step: Any, X: Any, names_in: list[str], path: str, out: list[dict[str, Any]]) -> tuple[Any, list[str]]:
    """Describe ``step`` (recursing into pipelines and column routers); return its output
    and the output's column names."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(step, Pipeline):
        current, names = X, names_in
        for name, sub in step.steps:
            if sub is None or sub == "passthrough":
                continue
            current, names = _walk(sub, current, names, f"{path}/{name}", out)
        return current, names
    if isinstance(step, ColumnTransformer):
        branches = []
        for name, trans, columns in step.transformers_:
            if trans == "drop" or (name == "remainder" and trans == "drop"):
                continue
            picked = _pick(X, columns)
            inputs = _column_names(picked)
            if not inputs:
                continue
            branches.append((name, trans, picked, inputs))
        index = len(out)
        output = step.transform(X)
        names = _names_out(step, names_in, output)
        record = describe(path, type(step).__name__, output, names)
        record["branches"] = {name: inputs for name, _, _, inputs in branches}
        out.append(record)
        for name, trans, picked, inputs in branches:
            before = len(out)
            if trans == "passthrough":
                branch = describe(f"{path}/{name}", "passthrough", picked, inputs)
                out.append(branch)
            else:
                _walk(trans, picked, inputs, f"{path}/{name}", out)
            for rec in out[before:before + 1]:
                rec["inputs"] = inputs
        # the router's own record comes after its branches: the order data flows
        out.append(out.pop(index))
        return output, names
    output = step.transform(X)  # a leaf transformer (or a FeatureUnion, described whole)
    names = _names_out(step, names_in, output)
    out.append(describe(path, type(step).__name__, output, names))
    return output, names


def _pick(X: Any, columns: Any) -> Any:
    """The columns a ColumnTransformer branch receives (names, positions, masks or a callable)."""
    import numpy as np

    if callable(columns):
        columns = columns(X)
    if hasattr(X, "iloc"):
        if isinstance(columns, str) or (isinstance(columns, list) and columns and isinstance(columns[0], str)):
            return X[columns]
        if isinstance(columns, slice):
            return X.iloc[:, columns]
        arr = np.asarray(columns)
        if arr.dtype == bool:
            return X.loc[:, arr]
        if arr.size == 0:
            return X.iloc[:, []]
        return X.iloc[:, arr]
    return X[:, columns]


def _column_names(X: Any) -> list[str]:
    if hasattr(X, "columns"):
        return [str(c) for c in X.columns]
    if hasattr(X, "name"):  # a Series: one text column for a vectorizer
        return [str(X.name)]
    shape = getattr(X, "shape", ())
    return [f"x{i}" for i in range(shape[1])] if len(shape) == 2 else []


def _names_out(step: Any, names_in: list[str], output: Any) -> list[str]:
    """The step's output names: ``get_feature_names_out`` given the names that came in
    (a step fitted on an array knows none itself), else x0, x1 ..."""
    width = output.shape[1] if len(getattr(output, "shape", ())) == 2 else 1
    if hasattr(step, "get_feature_names_out"):
        for args in ((names_in,), ()):
            try:
                names = [str(n) for n in step.get_feature_names_out(*args)]
            except Exception:
                continue
            if len(names) == width:
                return names
    return [f"x{i}" for i in range(width)]


def describe(name: str, kind: str, output: Any, names: list[str] | None = None) -> dict[str, Any]:
    """A JSON-able description of one step's output."""
    import numpy as np
    import pandas as pd
    from scipy import sparse

    record: dict[str, Any] = {"name": name, "kind": kind}
    if sparse.issparse(output):
        rows, cols = output.shape
        record.update(shape=[int(rows), int(cols)], sparse=True, nonzero=int(output.nnz),
                      density=round(float(output.nnz) / max(1, rows * cols), 6))
        names = names or [f"x{i}" for i in range(cols)]
        frame = pd.DataFrame(output[:HEAD_ROWS, :MAX_COLUMNS].toarray(), columns=names[:MAX_COLUMNS])
        record.update(columns=names, n_columns=cols, dtypes={c: str(output.dtype) for c in names[:MAX_COLUMNS]},
                      missing={}, missing_total=0, head=_records(frame))
        return record
    if isinstance(output, pd.Series):
        output = output.to_frame()
    if not isinstance(output, pd.DataFrame):
        array = np.asarray(output)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        cols = names if names and len(names) == array.shape[1] else [f"x{i}" for i in range(array.shape[1])]
        output = pd.DataFrame(array, columns=cols)
    elif names and len(names) == output.shape[1]:
        output = output.set_axis(names, axis=1)
    columns = [str(c) for c in output.columns]
    shown = output.iloc[:, :MAX_COLUMNS]
    missing = {str(c): int(v) for c, v in shown.isna().sum().items()}
    record.update(shape=[int(output.shape[0]), int(output.shape[1])], sparse=False, columns=columns,
                  n_columns=len(columns), dtypes={str(c): str(t) for c, t in shown.dtypes.items()},
                  missing={c: v for c, v in missing.items() if v},
                  missing_total=int(output.isna().sum().sum()), head=_records(shown.head(HEAD_ROWS)))
    return record


def _records(frame: Any) -> list[dict[str, Any]]:
    import json

    return json.loads(frame.to_json(orient="records", default_handler=str))
