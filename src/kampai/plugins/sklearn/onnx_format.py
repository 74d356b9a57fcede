"""``--serializer onnx``: a scikit-learn pipeline exported to ONNX, predicted with ONNX Runtime.

Why: an ONNX file is a graph of operators and arrays, not code, so loading it runs nothing
(a joblib pickle can; the run's signed manifest is what protects it), and ONNX Runtime
answers one row in tens of microseconds where scikit-learn's per-call machinery (input
validation, joblib dispatch per tree, pandas column selection) costs milliseconds: what a
server answering single rows wants (docs/serving.md).

Exactness.  skl2onnx's stock converters compute in float32.  Here numeric columns enter as
float64, the numeric imputer fills in float64 (``Where(IsNaN)``), and tree ensembles keep
float64 thresholds and compare ``float32(x)`` with them, which is what scikit-learn's own
trees do; probabilities come out as float32.  At save the exported graph is run on the
training rows it is given (up to 1,000) and must agree with the pipeline: the same labels
and probabilities (or regression values) within 1e-5; otherwise the save stops and names the
largest difference.  What skl2onnx cannot convert (a user's own transformer, a clusterer that
only labels its training rows) stops the save with skl2onnx's reason; the model then needs
joblib (the default) or skops.

The loaded model is an :class:`OnnxPipeline`: ``predict``, ``predict_proba`` and
``predict_with_proba`` (one ONNX Runtime call for both), ``classes_``.  Step inspection and
refitting need the scikit-learn pipeline itself.

Other frameworks' models (:data:`EXPORTING`): a model object with ``to_onnx(X) -> (graph
bytes, model.json dict)`` exports itself and checks its export on the rows ``X`` (the torch
framework's, through ``torch.onnx``); ``model.json`` then names its ``framework``, whose
``load_onnx(graph bytes, model.json dict)`` loads it.  This module only writes, hashes and
reads the files for them.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from kampai.plugin import KampaiError, RunError, Serializer, TaskData
from kampai.plugins.sklearn.model_file import INFO_FILE, checked

MODEL_FILE = "model.onnx"
#: the frameworks whose models export themselves (``to_onnx``/``load_onnx``), besides scikit-learn
EXPORTING = ("torch",)
TOLERANCE = 1e-5
#: a missing string enters the graph as this (ONNX string tensors hold no NaN)
MISSING = ""
#: scikit-learn's Cython trees compare float32(x) with float64 thresholds; HistGradientBoosting
#: compares float64 x (its bins are only for fitting)
FLOAT32_TREES = ("RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier",
                 "ExtraTreesRegressor", "DecisionTreeClassifier", "DecisionTreeRegressor",
                 "ExtraTreeClassifier", "ExtraTreeRegressor", "GradientBoostingClassifier",
                 "GradientBoostingRegressor")


def check() -> None:
    try:
        import onnxruntime  # noqa: F401
        import skl2onnx  # noqa: F401
    except ImportError:
        raise KampaiError("--serializer onnx needs skl2onnx and onnxruntime: pip install 'kampai[onnx]'") from None


# -------------------------------------------------------------------------- export


@contextmanager
def _double_converters() -> Iterator[None]:
    """skl2onnx's numeric imputer and tree converters swapped for float64 variants while the
    block runs, and restored after it (skl2onnx keeps converters in one process-wide table)."""
    import numpy as np
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra.onnx_ops import OnnxIsNaN, OnnxWhere
    from skl2onnx.common import _registration
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.impute import SimpleImputer

    stock_imputer = _registration.get_converter("SklearnSimpleImputer")

    def imputer(scope: Any, operator: Any, container: Any) -> None:
        op, inputs = operator.raw_operator, operator.inputs
        if isinstance(inputs[0].type, StringTensorType):
            if not isinstance(op.missing_values, str):  # NaN in training = MISSING in the graph
                op = copy.copy(op)
                op.missing_values = MISSING
                operator.raw_operator = op
            return stock_imputer(scope, operator, container)
        if len(inputs) != 1 or isinstance(op.fill_value, str):
            return stock_imputer(scope, operator, container)
        version = container.target_opset
        fill = op.statistics_.astype(np.float64).reshape(1, -1)
        OnnxWhere(OnnxIsNaN(inputs[0], op_version=version), fill, inputs[0], op_version=version,
                  output_names=operator.outputs[:1]).add_to(scope, container)

    saved = dict(_registration._converter_pool)
    try:
        update_registered_converter(SimpleImputer, "SklearnSimpleImputer",
                                    _registration.get_shape_calculator("SklearnSimpleImputer"), imputer,
                                    options=stock_imputer.get_allowed_options())
        for name in FLOAT32_TREES:
            alias = f"Sklearn{name}"
            stock = _registration.get_converter(alias)
            update_registered_converter(_estimator_class(name), alias, _registration.get_shape_calculator(alias),
                                        _opset3(stock._fct), options=stock.get_allowed_options())
        yield
    finally:
        _registration._converter_pool.clear()
        _registration._converter_pool.update(saved)


def _opset3(convert: Any) -> Any:
    def tree(scope: Any, operator: Any, container: Any) -> None:
        # ai.onnx.ml opset 3 keeps thresholds as float64 tensors (opset 1: float32 attributes)
        convert(scope, operator, container, op_version=3)

    return tree


def _estimator_class(name: str) -> type:
    import sklearn.ensemble
    import sklearn.tree

    return getattr(sklearn.ensemble, name, None) or getattr(sklearn.tree, name)


def input_kinds(X: Any) -> list[tuple[str, str]]:
    """``(column, "number" | "string")`` for each input column; other dtypes cannot enter."""
    kinds = []
    for column, dtype in X.dtypes.items():
        if dtype.kind in "iufb":
            kinds.append((str(column), "number"))
        elif dtype.kind in "OSU" or str(dtype) in ("category", "string"):
            kinds.append((str(column), "string"))
        else:
            raise KampaiError(f"--serializer onnx: column '{column}' has dtype {dtype}, which ONNX inputs "
                              "cannot take (numbers and strings only). Use joblib or skops.")
    return kinds


def _float32_tree_inputs(graph: Any) -> None:
    """``Cast(float32) -> Cast(float64)`` in front of every tree ensemble, as scikit-learn's
    trees cast their input.  A tree ensemble's scores are float32 (the ONNX operator's
    contract); where skl2onnx declares them float64 they are cast to it."""
    from onnx import TensorProto, helper

    declared = {v.name: v.type.tensor_type.elem_type for v in [*graph.output, *graph.value_info]}
    nodes = []
    for node in graph.node:
        if not node.op_type.startswith("TreeEnsemble"):
            nodes.append(node)
            continue
        source = node.input[0]
        narrow, wide = f"{source}_as_float32", f"{source}_as_float32_float64"
        nodes.append(helper.make_node("Cast", [source], [narrow], to=TensorProto.FLOAT))
        nodes.append(helper.make_node("Cast", [narrow], [wide], to=TensorProto.DOUBLE))
        node.input[0] = wide
        nodes.append(node)
        scores = len(node.output) - 1  # classifier: (label, scores); regressor: (values,)
        output = node.output[scores]
        if declared.get(output) == TensorProto.DOUBLE:
            node.output[scores] = f"{output}_float32"
            nodes.append(helper.make_node("Cast", [node.output[scores]], [output], to=TensorProto.DOUBLE))
    del graph.node[:]
    graph.node.extend(nodes)


#: the ways an export is tried, most exact first: float64 with kampai's converters,
#: float64 with skl2onnx's own, float32 (skl2onnx's default); the first the check accepts wins
PRECISIONS = ("float64", "float64-stock", "float32")


def export(model: Any, X: Any, precision: str = "float64") -> bytes:
    """The pipeline as a serialized ONNX model whose inputs are ``X``'s columns, one each."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    final = model[-1] if hasattr(model, "steps") else model
    number = FloatTensorType if precision == "float32" else DoubleTensorType
    types = [(name, number([None, 1]) if kind == "number" else StringTensorType([None, 1]))
             for name, kind in input_kinds(X)]
    options = {id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
    own = precision == "float64"
    with _double_converters() if own else nullcontext():
        onx = convert_sklearn(model, initial_types=types, options=options,
                              target_opset={"": 18, "ai.onnx.ml": 3 if own else 1})
    if own and type(final).__name__ in FLOAT32_TREES:
        _float32_tree_inputs(onx.graph)
    return onx.SerializeToString()


def first_exact(model: Any, X: Any) -> tuple[bytes, dict[str, Any]]:
    """The first export in :data:`PRECISIONS` that ONNX Runtime loads and that agrees with the
    pipeline on ``X``, with what ``model.json`` records of it; KampaiError when none does."""
    import sklearn

    final = model[-1] if hasattr(model, "steps") else model
    info: dict[str, Any] = {"format": "onnx", "sklearn": sklearn.__version__, "estimator": type(final).__name__,
                            "inputs": input_kinds(X)}
    if hasattr(final, "classes_") and hasattr(final, "predict_proba"):
        info["classes"] = final.classes_.tolist()
        info["classes_dtype"] = str(final.classes_.dtype) if final.classes_.dtype.kind != "O" else None
    else:
        info["values"] = "int" if getattr(final, "_estimator_type", "") == "clusterer" else "float"
    tried = []
    for precision in PRECISIONS:
        try:
            data = export(model, X, precision)
            info["precision"] = precision
            difference = verify(model, OnnxPipeline(data, info), X)
        except KampaiError as exc:
            tried.append(f"{precision}: {exc}")
            continue
        except Exception as exc:  # skl2onnx or ONNX Runtime refused this variant
            text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            tried.append(f"{precision}: {type(exc).__name__}: {text}")
            continue
        if difference <= TOLERANCE:
            info["checked"] = {"rows": len(X), "max_difference": difference}
            return data, info
        tried.append(f"{precision}: differs from scikit-learn by {difference:.3g}")
    raise KampaiError(f"--serializer onnx cannot export {type(final).__name__} exactly ({'; '.join(tried)}). "
                      "Use joblib (the default) or --serializer skops.")


# -------------------------------------------------------------------------- predict


class OnnxPipeline:
    """A pipeline's ONNX export behind the scikit-learn methods kampai's framework calls."""

    def __init__(self, data: bytes, info: dict[str, Any]) -> None:
        import numpy as np
        import onnxruntime as ort

        options = ort.SessionOptions()
        # one request, one thread: a server runs many requests side by side
        options.intra_op_num_threads = int(info.get("threads") or 1)
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        self.info = info
        self.columns = [tuple(c) for c in info["inputs"]]
        self.names = [i.name for i in self.session.get_inputs()]
        self.float32 = [i.type == "tensor(float)" for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.estimator = info.get("estimator")
        classes = info.get("classes")
        if classes is not None:
            self.classes_ = np.asarray(classes, dtype=info.get("classes_dtype") or None)

    def __repr__(self) -> str:
        return f"OnnxPipeline({self.estimator}, {len(self.columns)} inputs)"

    def _feed(self, X: Any) -> dict[str, Any]:
        import numpy as np
        import pandas as pd

        if isinstance(X, dict):  # typed columns (a server's row path): no DataFrame at all
            return self._feed_columns(X)
        feed = {}
        numbers = [i for i, (_, kind) in enumerate(self.columns) if kind == "number"]
        block = None
        if numbers and isinstance(X, pd.DataFrame):
            # every number column in one conversion (a column at a time costs a Series each:
            # most of a one-row request's time), then a view per input
            block = X[[self.columns[i][0] for i in numbers]].to_numpy(dtype=np.float64, na_value=np.nan)
        at = {i: j for j, i in enumerate(numbers)}
        for i, (name, (column, kind), narrow) in enumerate(zip(self.names, self.columns, self.float32, strict=True)):
            if kind == "number":
                dtype = np.float32 if narrow else np.float64
                if block is not None:
                    feed[name] = np.ascontiguousarray(block[:, at[i]:at[i] + 1], dtype=dtype)
                else:
                    feed[name] = X[column].to_numpy(dtype=dtype, na_value=np.nan).reshape(-1, 1)
            else:
                values = X[column]
                array = values.to_numpy(dtype=object)
                missing = pd.isna(array)
                if missing.any():
                    array = array.copy()
                    array[missing] = MISSING
                feed[name] = array.astype(str).reshape(-1, 1)
        return feed

    def _feed_columns(self, columns: dict[str, Any]) -> dict[str, Any]:
        """The feed of typed numpy columns (name -> 1-D array), each as its ``(n, 1)`` input;
        strings as :meth:`_feed` gives them (a missing one as :data:`MISSING`)."""
        import numpy as np

        feed = {}
        for name, (column, kind), narrow in zip(self.names, self.columns, self.float32, strict=True):
            values = columns[column]
            if kind == "number":
                feed[name] = np.asarray(values, dtype=np.float32 if narrow else np.float64).reshape(-1, 1)
            else:
                array = np.asarray(values, dtype=object)
                missing = [v is None or v != v for v in array.tolist()]
                if any(missing):
                    array = array.copy()
                    array[np.asarray(missing)] = MISSING
                feed[name] = array.astype(str).reshape(-1, 1)
        return feed

    def run(self, X: Any) -> list[Any]:
        return self.session.run(None, self._feed(X))

    def predict_with_proba(self, X: Any) -> tuple[Any, Any]:
        """Labels and probabilities (float64) from one ONNX Runtime call."""
        import numpy as np

        out = self.run(X)
        if not hasattr(self, "classes_"):  # a regressor (or a clusterer's labels): one output
            kind = np.int64 if self.info.get("values") == "int" else np.float64
            return np.asarray(out[0]).ravel().astype(kind, copy=False), None
        labels = np.asarray(out[0]).ravel().astype(self.classes_.dtype, copy=False)
        return labels, np.asarray(out[1], dtype=np.float64)

    def predict(self, X: Any) -> Any:
        return self.predict_with_proba(X)[0]

    def predict_proba(self, X: Any) -> Any:
        return self.predict_with_proba(X)[1]


def verify(model: Any, exported: OnnxPipeline, X: Any) -> float:
    """The largest difference between the pipeline and its export on ``X`` (labels must match)."""
    import numpy as np

    labels, proba = exported.predict_with_proba(X)
    if proba is not None:
        expected = model.predict_proba(X)
        wrong = int((np.asarray(model.predict(X)) != labels).sum())
        if wrong:
            raise KampaiError(f"labels {wrong} of {len(X)} training rows differently")
        return float(np.abs(expected - proba).max())
    expected = np.asarray(model.predict(X), dtype=np.float64)
    scale = max(1.0, float(np.abs(expected).max()))
    return float(np.abs(expected - np.asarray(labels, dtype=np.float64)).max()) / scale


# -------------------------------------------------------------------------- serializer


def save(model: Any, path: Path, example: TaskData | None = None) -> None:
    if example is None or example.X is None or not hasattr(example.X, "dtypes"):
        raise KampaiError("--serializer onnx needs the training table to export the pipeline's inputs "
                          "(tabular tasks only).")
    if hasattr(model, "to_onnx"):  # a framework's model exporting itself (torch)
        data, info = model.to_onnx(example.X)
    else:
        data, info = first_exact(model, example.X)  # the engine gives up to 1,000 rows
    file = Path(path) / MODEL_FILE
    file.write_bytes(data)
    info["sha256"] = hashlib.sha256(data).hexdigest()
    (Path(path) / INFO_FILE).write_text(json.dumps(info, indent=2))


def load(path: Path) -> OnnxPipeline:
    handle, info = checked(path, MODEL_FILE)
    with handle:
        data = handle.read()  # the hashed bytes themselves
    if info.get("framework") in EXPORTING:
        from kampai.plugin.experiments import registry_of

        return registry_of("frameworks").get(info["framework"]).load_onnx(data, info)
    try:
        return OnnxPipeline(data, info)
    except Exception as exc:
        raise RunError(f"'{Path(path) / MODEL_FILE}' is not a model ONNX Runtime can load: {exc}") from None


SERIALIZER = Serializer("onnx", save=save, load=load, frameworks=("sklearn", *EXPORTING), check=check, example=True,
                        extra="onnx",
                        description="ONNX + ONNX Runtime: no code runs at load, sub-millisecond one-row "
                                    "predictions; checked against the model at save (scikit-learn pipelines, "
                                    "torch modules through torch.onnx)")
