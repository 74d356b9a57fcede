"""End to end against a real ``mlflow server`` on loopback (started and killed by the test):
a run made while the server is down is kept and pushed by ``runner runs sync``; train,
register, promote and predict from ``NAME@production`` through the server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from conftest import runner
from helpers import free_port
from kampai import api
from mlflow_helpers import cli, client, mlflow_server, runs_of

IRIS = {"task": "classification", "data": "sklearn:iris"}


@pytest.fixture(autouse=True)
def _tracking_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAMPAI_TRACKING__ENABLED", raising=False)  # tests/conftest.py sets it for the others


@pytest.mark.slow
def test_train_sync_register_promote_predict_through_a_real_server(
        tmp_path: Path, monkeypatch, capsys) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    # the server is down: training completes, the run stays local and is marked
    offline = api.train(**IRIS, model="GaussianNB", verbose=False)
    assert "not tracked" in capsys.readouterr().err
    assert json.loads((offline.run_dir / "tracking-pending.json").read_text())["uri"] == url

    with mlflow_server(tmp_path / "server", port):
        assert cli("runs", "sync") == 0
        assert offline.run_id in capsys.readouterr().out
        assert not (offline.run_dir / "tracking-pending.json").exists()
        online = api.train(**IRIS, model="LogisticRegression", verbose=False)
        assert "not tracked" not in capsys.readouterr().err
        logged = {r.data.tags["kampai.run_id"]: r for r in runs_of(url)}
        assert set(logged) == {offline.run_id, online.run_id}
        capsys.readouterr()
        assert logged[online.run_id].data.metrics["accuracy"] == pytest.approx(online.metrics["accuracy"])
        assert logged[online.run_id].info.artifact_uri.startswith("mlflow-artifacts:")

        assert cli("registry", "register", str(offline.run_dir), "--name", "srv-iris") == 0
        assert cli("registry", "register", online.run_id, "--name", "srv-iris") == 0
        assert cli("registry", "promote", "srv-iris@2", "--stage", "production") == 0
        assert cli("registry", "best", "srv-iris", "--metric", "f1_macro", "--json") == 0
        capsys.readouterr()
        assert client(url).get_model_version_by_alias("srv-iris", "production").version in ("2", 2)

        # a study: one parent run on the server, its refit run registered from the study
        pytest.importorskip("optuna")
        from kampai.core.tuning import tune

        cfg = api.config(**IRIS, model="LogisticRegression", overrides=["model.search.C=[0.1, 1.0]"],
                         tune={"trials": 2, "plots": False, "study": "srv-study", "refit": True})
        tuned = tune(cfg, verbose=False)
        (parent,) = runs_of(url, "study")
        assert parent.data.metrics["n_trials"] == 2
        assert cli("registry", "register", "--study", "srv-study", "--name", "srv-tuned") == 0
        assert api.load_run("srv-tuned@1").run_id == tuned.run.run_id

        # the real CLI in its own process, pointed at the server by MLFLOW_TRACKING_URI
        result = runner("predict", "srv-iris@production", "--data", "sklearn:iris", "-o", "pred.csv")
        assert result.returncode == 0, result.stderr
        import pandas as pd

        predicted = pd.read_csv(tmp_path / "pred.csv")
        assert list(predicted["prediction"]) == list(online.predict("sklearn:iris")["prediction"])
