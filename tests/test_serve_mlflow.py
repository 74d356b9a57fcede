"""kampai runs as MLflow pyfunc models: ``mlflow.pyfunc.load_model`` and a real
``mlflow models serve`` process on a registered version."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
httpx = pytest.importorskip("httpx")

from helpers import free_port, stop_session  # noqa: E402
from kampai import api  # noqa: E402
from mlflow_helpers import cli, store  # noqa: E402

COLS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


@pytest.fixture(autouse=True)
def _tracking_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAMPAI_TRACKING__ENABLED", raising=False)


@pytest.mark.slow
def test_pyfunc_load_model_and_mlflow_models_serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow.pyfunc
    import pandas as pd

    run = api.train(task="classification", data="sklearn:iris", model="RandomForestClassifier",
                    params={"n_estimators": 10}, verbose=False)
    assert cli("registry", "register", str(run.run_dir), "--name", "iris") == 0
    uri = store(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    rows = pd.DataFrame([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], columns=COLS)
    expected = run.predict(rows)
    loaded = mlflow.pyfunc.load_model("models:/iris/1")
    got = loaded.predict(rows)
    assert list(got["prediction"]) == list(expected["prediction"]) == ["setosa", "virginica"]
    # the registry keeps working on the same version
    assert cli("predict", "iris@1", "--data", "sklearn:iris") == 0

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/iris/1",
                             "--env-manager", "local", "--port", str(port), "--host", "127.0.0.1"],
                            env={**os.environ, "MLFLOW_TRACKING_URI": uri,  # it execs uvicorn from PATH
                                 "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                if httpx.get(base + "/ping", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.time() < deadline, "mlflow models serve did not start"
            time.sleep(0.5)
        r = httpx.post(base + "/invocations", json={"dataframe_split": {"columns": COLS,
                                                                        "data": rows.values.tolist()}})
        assert r.status_code == 200, r.text
        assert [p["prediction"] for p in r.json()["predictions"]] == ["setosa", "virginica"]
    finally:
        stop_session(proc)  # its own session: mlflow's gunicorn/uvicorn workers too


@pytest.mark.slow
def test_serve_follows_the_registry_alias(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_serve import server

    first = api.train(task="classification", data="sklearn:iris", model="GaussianNB", verbose=False)
    second = api.train(task="classification", data="sklearn:iris", model="RandomForestClassifier",
                       params={"n_estimators": 5}, verbose=False)
    assert cli("registry", "register", str(first.run_dir), "--name", "flower", "--stage", "production") == 0
    assert cli("registry", "register", str(second.run_dir), "--name", "flower") == 0
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store(tmp_path))
    from test_serve import one_line_exit_2

    assert "Unknown registered model 'nosuch'" in one_line_exit_2("serve", "nosuch@production", status="MLflow")
    assert "no version or alias 'staging'" in one_line_exit_2("serve", "flower@staging", status="MLflow")
    assert "no version or alias '9'" in one_line_exit_2("app", "flower@9", status="MLflow")
    row = dict(zip(COLS, [5.1, 3.5, 1.4, 0.2], strict=True))
    with server("flower@production", "--follow", "--poll-seconds", "0.5") as (c, _):
        meta = c.get("/metadata").json()
        assert meta["run_id"] == first.run_id
        assert meta["registry"] == {"name": "flower", "stage": "production", "version": "1"}
        assert cli("registry", "promote", "flower@2", "--stage", "production") == 0
        statuses, deadline = [], time.time() + 60
        while c.get("/metadata").json()["run_id"] != second.run_id:
            statuses.append(c.post("/invocations", json={"dataframe_records": [row]}).status_code)
            assert time.time() < deadline, "the server did not follow the alias"
        assert set(statuses) <= {200}  # no failed request during the swap
        assert c.get("/metadata").json()["registry"]["version"] == "2"
        assert "kampai_model_reloads_total 1.0" in c.get("/metrics").text
