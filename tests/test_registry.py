"""The model registry (MLflow, embedded store): register, promote, best by metric, and
``NAME@stage`` in every command that takes a run; tampered artifacts are refused."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from kampai import api
from kampai.core.errors import RunError
from mlflow_helpers import cli, client, store

IRIS = {"task": "classification", "data": "sklearn:iris"}


@pytest.fixture(autouse=True)
def _tracking_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAMPAI_TRACKING__ENABLED", raising=False)  # tests/conftest.py sets it for the others


@pytest.fixture
def two_runs(tmp_path: Path) -> list:
    fast = api.train(**IRIS, model="GaussianNB", verbose=False, tracking={"enabled": False})
    forest = api.train(**IRIS, model="RandomForestClassifier", params={"n_estimators": 10}, verbose=False)
    return [fast, forest]


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(data)


def test_register_promote_and_predict_from_the_registry(tmp_path: Path, two_runs, capsys) -> None:
    fast, forest = two_runs
    # an untracked run (--no-track) is pushed when it is registered
    assert cli("registry", "register", str(fast.run_dir), "--name", "iris", "--json") == 0
    assert json.loads(capsys.readouterr().out)["version"] == 1
    assert cli("registry", "register", forest.run_id, "--name", "iris", "--stage", "staging") == 0
    assert "version 2" in capsys.readouterr().out
    assert cli("registry", "promote", "iris@1", "--stage", "production") == 0
    assert "iris@production → version 1" in capsys.readouterr().out

    assert cli("registry", "list", "--json") == 0
    (model,) = json.loads(capsys.readouterr().out)
    assert model["name"] == "iris" and model["aliases"] == {"production": 1, "staging": 2}
    assert cli("registry", "show", "iris", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert [v["run_id"] for v in shown] == [fast.run_id, forest.run_id]
    assert shown[0]["aliases"] == ["production"] and "f1_macro" in shown[0]["metrics"]

    # NAME@stage and NAME@version wherever a run is taken: CLI predict/evaluate, Python API
    assert cli("predict", "iris@production", "--data", "sklearn:iris") == 0
    table = capsys.readouterr().out
    expected = fast.predict("sklearn:iris")
    assert table.splitlines()[0].startswith("target,prediction")
    assert len(table.splitlines()) == len(expected) + 1
    import pandas as pd

    assert list(pd.read_csv(io.StringIO(table))["prediction"]) == list(expected["prediction"])
    assert cli("evaluate", "iris@2", "--data", "sklearn:iris", "--json") == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] > 0.9
    staged = api.load_run("iris@staging")
    assert staged.run_id == forest.run_id and staged.run_dir.is_relative_to(tmp_path / ".kampai" / "models")

    # best version by a metric (direction from the metric: log_loss is lower-is-better)
    assert cli("registry", "best", "iris", "--metric", "log_loss", "--json") == 0
    best = json.loads(capsys.readouterr().out)
    by_hand = min((fast, forest), key=lambda r: r.metrics["log_loss"])
    assert best["run_id"] == by_hand.run_id
    assert cli("registry", "best", "iris", "--metric", "f1_macro", "--promote", "champion") == 0
    assert "iris@champion" in capsys.readouterr().out


def test_unknown_names_and_versions_are_clear_errors(tmp_path: Path, two_runs, capsys) -> None:
    assert cli("registry", "register", str(two_runs[1].run_dir), "--name", "iris") == 0
    capsys.readouterr()
    assert cli("predict", "iris@production", "--data", "sklearn:iris") == 2
    assert "has no version or alias 'production' (it has: 1)" in capsys.readouterr().err
    assert cli("registry", "show", "irsi") == 2
    assert "Did you mean 'iris'" in capsys.readouterr().err
    assert cli("registry", "best", "iris", "--metric", "f1_macr") == 2
    assert "Did you mean 'f1_macro'" in capsys.readouterr().err
    assert cli("predict", "runs/nothing-here", "--data", "sklearn:iris") == 2


def test_best_run_registration(tmp_path: Path, two_runs, capsys) -> None:
    assert cli("registry", "register", "--best", "--metric", "log_loss", "--name", "best-iris", "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    by_hand = min(two_runs, key=lambda r: r.metrics["log_loss"])
    assert Path(payload["run"]).name == by_hand.run_id


def test_tampered_artifacts_are_refused(tmp_path: Path, two_runs, capsys) -> None:
    fast = two_runs[0]
    for run in two_runs:
        assert cli("registry", "register", str(run.run_dir), "--name", "iris") == 0
    # the registry's copy of version 2 is changed after registration
    uri = store(tmp_path)
    mv = client(uri).get_model_version("iris", "2")
    artifact = Path(mv.source.removeprefix("file://")) / "model" / "model.joblib"
    _flip_byte(artifact)
    capsys.readouterr()
    assert cli("predict", "iris@2", "--data", "sklearn:iris") == 2
    err = capsys.readouterr().err
    assert "Registered model iris version 2" in err and "model/model.joblib" in err and "Refusing" in err
    # so is a manifest rewritten to match a changed model: its hash was recorded at registration
    manifest = artifact.parent.parent / "manifest.json"
    files = json.loads(manifest.read_text())
    files["files"]["model/model.joblib"] = "0" * 64
    manifest.write_text(json.dumps(files))
    assert cli("predict", "iris@2", "--data", "sklearn:iris") == 2
    assert "manifest.json does not match the hash recorded at registration" in capsys.readouterr().err
    # version 1 is intact
    assert cli("predict", "iris@1", "--data", "sklearn:iris", "-o", "p.csv") == 0
    # a local run folder is checked the same way before its model loads
    _flip_byte(fast.run_dir / "model" / "model.joblib")
    with pytest.raises(RunError, match="does not match its recorded sha256"):
        _ = api.load_run(fast.run_dir).model
    # and a damaged cached copy is fetched again from the registry
    cached = tmp_path / ".kampai" / "models" / "iris" / "v1" / "model" / "model.joblib"
    _flip_byte(cached)
    assert cli("predict", "iris@1", "--data", "sklearn:iris", "-o", "p.csv") == 0
