"""``runner serve``'s row path over real HTTP (uvicorn, real ONNX Runtime): a request's
checked columns go to the model without a DataFrame and come back as JSON, and answer
exactly what the full path (``run.predict``) answers, with the same 4xx for bad rows;
``--serializer onnx`` for a torch module: exported, checked against torch at save, served."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

import kampai  # noqa: E402
from helpers import churn_frame  # noqa: E402
from test_serve import server  # noqa: E402

ROWS = [
    {"age": 41.0, "income": 52.5, "city": "paris", "plan": "pro"},
    {"age": None, "income": 61.25, "city": None, "plan": "basic"},  # nulls where training had them
    {"age": 23.0, "income": 38.0, "city": "marseille", "plan": "basic"},  # a category never seen
    {"age": 67.0, "income": 49.99, "city": "lyon", "plan": "pro"},
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    os.chdir(tmp_path_factory.mktemp("rows"))
    frame = churn_frame(240, seed=3).drop(columns=["day", "customer"])
    out = {}
    for serializer in ("joblib", "onnx"):
        run = kampai.train(task="classification", data=frame, target="churn", model="RandomForestClassifier",
                           params={"n_estimators": 41}, verbose=False,
                           output={"runs_dir": f"runs-{serializer}",
                                   **({"serializer": serializer} if serializer == "onnx" else {})})
        out[serializer] = Path(run.run_dir).resolve()
    return out


def expected_records(run_dir: Path, rows: list[dict]) -> list[dict]:
    """The full path: ``run.predict`` on a DataFrame (prepared, checked, formatted as a table)."""
    import pandas as pd

    table = kampai.load_run(run_dir).predict(pd.DataFrame(rows))
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in table.to_dict("records")]


@pytest.mark.slow
def test_the_row_path_answers_exactly_what_the_full_path_answers(runs: dict[str, Path]) -> None:
    errors = {}
    for serializer, run_dir in runs.items():
        with server(str(run_dir), "--max-rows", "5", "--max-latency-ms", "20") as (c, _):
            assert c.get("/metadata").json()["row_path"] is True
            for rows in ([ROWS[0]], [ROWS[1]], ROWS):
                want = expected_records(run_dir, rows)
                for path, body in (("/invocations", {"dataframe_records": rows}), ("/predict", {"records": rows})):
                    r = c.post(path, json=body)
                    assert r.status_code == 200, r.text
                    assert r.json()["predictions"] == want, (serializer, path)  # labels and floats exactly
            r = c.post("/invocations", json={"dataframe_records": [ROWS[2]]})
            assert "marseille" in r.headers["x-kampai-warning"]
            # concurrent one-row requests share model calls (micro-batches): each gets its own row
            want = [expected_records(run_dir, [row])[0] for row in ROWS]
            with cf.ThreadPoolExecutor(8) as pool:
                got = list(pool.map(lambda i: c.post("/invocations", json={"dataframe_records": [ROWS[i % 4]]}),
                                    range(32)))
            assert [g.json()["predictions"][0] for g in got] == [want[i % 4] for i in range(32)]
            bad = []
            for body in ({"dataframe_records": [{**ROWS[0], "colour": "red"}]},
                         {"dataframe_records": [{**ROWS[0], "income": "high"}]},
                         {"dataframe_records": [{**ROWS[0], "income": True}]},
                         {"dataframe_records": [{**ROWS[0], "plan": None}]},
                         {"dataframe_records": [{**ROWS[0], "income": 1e400}]},
                         {"dataframe_records": [{**ROWS[0], "city": 5}]},
                         {"dataframe_records": [ROWS[0]] * 6}):
                for path, payload in (("/invocations", body), ("/predict", {"records": body["dataframe_records"]})):
                    r = c.post(path, content=json.dumps(body if path == "/invocations" else payload),
                               headers={"content-type": "application/json"})
                    assert 400 <= r.status_code < 500, (path, body, r.text)
                    bad.append((r.status_code, r.json()))
            assert 'status="500"' not in c.get("/metrics").text
        errors[serializer] = bad
    assert errors["onnx"] == errors["joblib"]  # one rule for both model kinds
    statuses = [s for s, _ in errors["onnx"]]
    assert statuses == [400, 422] * 6 + [413, 413]
    messages = [e["message"] for _, e in errors["onnx"]][::2]
    for message, phrase in zip(messages, ("Unknown input column(s): 'colour'", "'income' must be a number",
                                          "'income' must be a number", "'plan' is null",
                                          "non-finite", "'city' must be a string", "at most 5"), strict=True):
        assert phrase in message, (phrase, message)


@pytest.mark.slow
def test_a_torch_module_exports_to_onnx_checked_at_save_and_is_served(tmp_path: Path) -> None:
    pytest.importorskip("skorch")
    import pandas as pd

    onnx = kampai.train(task="classification", data="sklearn:iris", framework="torch", params={"epochs": 3},
                        output={"runs_dir": str(tmp_path / "onnx"), "serializer": "onnx"}, verbose=False)
    assert type(onnx.model.module).__name__ != "OnnxNet"  # the trained torch module, in memory
    model_dir = Path(onnx.run_dir) / "model"
    assert sorted(p.name for p in model_dir.iterdir()) == ["model.json", "model.onnx"]
    info = json.loads((model_dir / "model.json").read_text())
    assert info["framework"] == "torch" and info["checked"]["rows"] == 150
    assert info["checked"]["max_difference"] <= 1e-5
    loaded = kampai.load_run(onnx.run_dir)
    assert type(loaded.model.module).__name__ == "OnnxNet"
    rows = pd.DataFrame({"sepal length (cm)": [5.1, 6.7, 5.9], "sepal width (cm)": [3.5, 3.0, 2.8],
                         "petal length (cm)": [1.4, 5.2, 4.3], "petal width (cm)": [0.2, 2.3, 1.3]})
    expected, got = onnx.predict(rows), loaded.predict(rows)  # torch, then ONNX Runtime
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    proba = [c for c in got.columns if c.startswith("proba_")]
    assert np.abs(got[proba].to_numpy() - expected[proba].to_numpy()).max() < 1e-5
    with server(str(Path(onnx.run_dir).resolve())) as (c, _):
        assert c.get("/metadata").json()["row_path"] is True
        r = c.post("/invocations", json={"dataframe_records": rows.to_dict("records")})
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == expected_records(Path(onnx.run_dir), rows.to_dict("records"))
        bad = c.post("/invocations", json={"dataframe_records": [{**rows.iloc[0].to_dict(), "petal width (cm)": "x"}]})
        assert bad.status_code == 400 and "petal width (cm)" in bad.json()["message"]


def test_json_in_and_out_do_not_depend_on_orjson() -> None:
    """orjson reads what json reads, or hands the body to json: big integers keep their value
    (orjson would read them as floats), NaN literals and errors are json's; output columns
    are written with shortest round-trip digits and NaN as null."""
    from kampai.plugins.serve import jsonio

    for text in (b'{"a": [1, 2.5, "x", null, true]}', b'{"a": 18446744073709551616}', b'{"a": -9223372036854775809}',
                 b'{"a": 123456789012345678901234567890}', b'{"a": NaN}', b'[1e400]'):
        assert repr(jsonio.loads(text)) == repr(json.loads(text)), text
    with pytest.raises(ValueError, match="Expecting"):
        jsonio.loads(b"{oops")
    columns = {"prediction": np.array(["a", "b"], dtype=object), "p": np.array([0.1 + 0.2, np.nan]),
               "n": np.array([1, 2])}
    assert json.loads(jsonio.columns_json(columns)) == [{"prediction": "a", "p": 0.30000000000000004, "n": 1},
                                                         {"prediction": "b", "p": None, "n": 2}]
    assert jsonio.columns_json({"t": np.array(["2024-01-01"], dtype="datetime64[ns]")}) is None  # pandas writes it


@pytest.mark.parametrize("serializer", [None, "onnx"])
def test_torch_row_path_gives_the_table_path_numbers(tmp_path: Path, serializer: str | None) -> None:
    """A torch run (its own format, and ONNX) predicts typed columns (numbers with nulls, a
    category with nulls and an unseen value) exactly as it predicts the DataFrame."""
    pytest.importorskip("skorch")
    import pandas as pd

    from kampai.plugin.runs import row_predictor
    from kampai.plugins.serve.model import ServedModel
    from kampai.plugins.serve.rows import Rows

    frame = churn_frame(120, seed=1).drop(columns=["day", "customer"])
    run = kampai.train(task="classification", data=frame, target="churn", framework="torch",
                       params={"epochs": 2}, verbose=False,
                       output={"runs_dir": str(tmp_path), **({"serializer": serializer} if serializer else {})})
    served = ServedModel.load(str(run.run_dir))
    columns = served.check_columns(Rows.of_records(ROWS))
    got = row_predictor(served.run)(columns.arrays)
    want = kampai.load_run(run.run_dir).predict(pd.DataFrame(ROWS))
    assert list(got) == list(want.columns)
    for name in got:
        assert np.asarray(got[name]).tolist() == want[name].tolist(), name


def test_forest_probabilities_without_the_per_tree_dispatch_are_scikit_learns_bits() -> None:
    """The sklearn framework sums a forest's trees itself (one row: 3-4x faster than
    scikit-learn's per-tree Parallel dispatch): the same bits as ``predict_proba``."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    from kampai.plugins.sklearn.framework import _forest_proba

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    for cls in (RandomForestClassifier, ExtraTreesClassifier):
        forest = cls(n_estimators=15, random_state=0).fit(X, y)
        for rows in (X.iloc[:1], X):
            assert np.array_equal(_forest_proba(forest, rows), forest.predict_proba(rows))
    assert _forest_proba(RandomForestClassifier(n_estimators=3, n_jobs=2).fit(X, y), X) is None  # sklearn's own
