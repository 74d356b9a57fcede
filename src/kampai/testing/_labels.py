"""The label check (classification): a target of each kind (int, bool, str, category)
round-trips in its own dtype through predictions, classes and a saved-and-loaded model."""

from __future__ import annotations

from typing import Any

from kampai.core.contract import Framework, Prediction, Task
from kampai.testing._support import (
    _context,
    _fail,
    _folder,
    _model_cfg,
    _split,
)

#: the target dtypes the label check trains on (classification): each must come back as itself
LABEL_KINDS = ("int", "bool", "str", "category")


def _label_table(kind: str, rows: int = 90) -> Any:
    """A small table with two informative numeric features and a ``target`` of ``kind``:
    int 0/1, bool, three strings, or a pandas category (string categories)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x0, x1 = rng.normal(size=rows), rng.normal(size=rows)
    positive = x0 + 0.3 * x1 > 0
    target: Any
    if kind == "int":
        target = positive.astype("int64")
    elif kind == "bool":
        target = positive
    elif kind == "str":
        third = np.digitize(x0, np.quantile(x0, [1 / 3, 2 / 3]))
        target = np.asarray(["ant", "bee", "cat"], dtype=object)[third]
    else:
        target = pd.Categorical(np.where(positive, "high", "low"), categories=["low", "high"])
    return pd.DataFrame({"x0": x0, "x1": x1, "target": target})


def _label_kind(values: Any) -> str:
    """What labels are, by dtype: int, bool, float, str (object or string dtype holding only
    strings), else a description of the mix."""
    import numpy as np
    import pandas as pd

    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        values = np.asarray(values)  # a category's values are its categories' values
    array = np.asarray(values)
    kind = array.dtype.kind
    if kind in "iu":
        return "int"
    if kind in "bfUS":
        return {"b": "bool", "f": "float", "U": "str", "S": "str"}[kind]
    types = sorted({type(v).__name__ for v in array.ravel().tolist()})
    return "str" if types == ["str"] else f"{array.dtype} of {'/'.join(types)}"


def _check_labels(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None,
                  who: str, *, kind: str) -> None:
    """Labels round-trip in their own dtype: predictions, classes and the saved-and-loaded
    model's predictions are values of the target, of its kind, and every metric is defined."""
    import pandas as pd

    from kampai.core.metrics import compute, labels_of, resolve

    frame = _label_table(kind)
    data = task.prepare(frame, {"target": "target"}, training=True)
    train, test = _split(task, data, {})
    model = framework.fit(framework.build(task, _model_cfg(framework, task, params, estimator), train, _context()),
                          train, task)
    expected = _label_kind(data.y)
    values = set(pd.unique(data.y.astype(object)))
    who = f"{who}, {kind} target"

    def labels_ok(prediction: Prediction, what: str) -> None:
        got = _label_kind(prediction.y)
        if got != expected:
            raise _fail(who, f"{what} gives {got} labels for a {expected} target: labels must come back "
                             f"in the target's own dtype (e.g. {list(pd.Series(prediction.y)[:3])!r})")
        strange = set(pd.unique(pd.Series(prediction.y, dtype=object))) - values
        if strange:
            raise _fail(who, f"{what} gives labels the target does not hold: {sorted(map(repr, strange))[:5]}")
        classes = prediction.classes
        if classes is not None and (_label_kind(list(classes)) != expected or set(classes) != values):
            raise _fail(who, f"{what} gives classes {list(prediction.classes)!r}, not the target's "
                                 f"{sorted(values, key=str)!r} in their own dtype")

    prediction = framework.predict(model, test, task)
    labels_ok(prediction, "predict()")
    undefined: dict[str, str] = {}
    compute(resolve(task, None), test.y, prediction, test.X, labels=labels_of(data.y), undefined=undefined)
    if undefined:
        raise _fail(who, "metrics are undefined on its predictions: "
                         + "; ".join(f"{k}: {v}" for k, v in undefined.items()))
    with _folder() as folder:
        path = folder / "model"
        path.mkdir()
        framework.save(model, path)
        labels_ok(framework.predict(framework.load(path), test, task), "the saved and loaded model's predict()")

