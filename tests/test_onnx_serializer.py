"""``--serializer onnx``: scikit-learn pipelines exported to ONNX, predicted by ONNX Runtime,
checked against scikit-learn at save; no pickle in the run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kampai
from helpers import churn_frame, invoke, run_dirs

pytest.importorskip("skl2onnx")
pytest.importorskip("onnxruntime")


def both(tmp_path: Path, **kw):
    """The same training saved with joblib and with onnx (same seed, same fit)."""
    joblib_run = kampai.train(output={"runs_dir": str(tmp_path / "joblib")}, verbose=False, **kw)
    onnx_run = kampai.train(output={"runs_dir": str(tmp_path / "onnx"), "serializer": "onnx"}, verbose=False,
                            **kw)
    return joblib_run, kampai.load_run(onnx_run.run_dir)


def test_a_forest_predicts_what_scikit_learn_predicts_without_a_pickle(tmp_path: Path) -> None:
    frame = churn_frame(240, seed=3).drop(columns=["day", "customer"])
    joblib_run, onnx_run = both(tmp_path, task="classification", data=frame, target="churn",
                                model="RandomForestClassifier", params={"n_estimators": 40})
    model_dir = onnx_run.run_dir / "model"
    assert sorted(p.name for p in model_dir.iterdir()) == ["model.json", "model.onnx"]
    info = json.loads((model_dir / "model.json").read_text())
    assert info["precision"] == "float64" and info["checked"]["rows"] == 240
    assert info["checked"]["max_difference"] <= 1e-5
    assert type(onnx_run.model).__name__ == "OnnxPipeline"
    assert onnx_run.metrics == pytest.approx(joblib_run.metrics, abs=1e-6)
    # new rows: missing numbers and categories, a category never seen in training
    new = frame.drop(columns=["churn"]).sample(60, random_state=1).reset_index(drop=True)
    new.loc[::5, "income"] = np.nan
    new.loc[1::5, "city"] = None
    new.loc[2, "city"] = "marseille"
    expected, got = joblib_run.predict(new), onnx_run.predict(new)
    assert list(got.columns) == list(expected.columns)
    assert (got["prediction"] == expected["prediction"]).all()
    proba = [c for c in got.columns if c.startswith("proba_")]
    assert np.abs(got[proba].to_numpy() - expected[proba].to_numpy()).max() < 1e-6


@pytest.mark.parametrize(("task", "data", "model"), [
    ("regression", "sklearn:diabetes", "RandomForestRegressor"),
    ("regression", "sklearn:diabetes", "Ridge"),
    ("classification", "sklearn:wine", "LogisticRegression"),
    ("clustering", "sklearn:iris", "KMeans"),
])
def test_other_estimators_round_trip(tmp_path: Path, task: str, data: str, model: str) -> None:
    joblib_run, onnx_run = both(tmp_path, task=task, data=data, model=model,
                                params={"n_estimators": 20} if "Forest" in model else {})
    from kampai.core.data import read_frame

    target = joblib_run.config["data"].get("target")
    inputs = read_frame(data).drop(columns=[target] if target else [], errors="ignore").head(50)
    expected, got = joblib_run.predict(inputs), onnx_run.predict(inputs)
    assert list(got.columns) == list(expected.columns)
    if task == "regression":
        scale = np.abs(expected["prediction"]).max()
        assert np.abs(got["prediction"] - expected["prediction"]).max() / scale < 1e-6
    else:
        assert (got["prediction"].to_numpy() == expected["prediction"].to_numpy()).all()


def test_a_pipeline_onnx_cannot_reproduce_stops_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    result = invoke("train", "--task", "clustering", "--data", "sklearn:iris", "--model", "DBSCAN",
                    "--serializer", "onnx", "--runs-dir", str(tmp_path / "runs"))
    assert result.code == 2
    assert "--serializer onnx cannot export DBSCAN" in result.stderr and "Traceback" not in result.stderr
    assert not run_dirs(tmp_path / "runs")


def test_a_changed_onnx_file_is_refused(tmp_path: Path) -> None:
    from kampai.plugins.sklearn import onnx_format

    run = kampai.train(task="classification", data="sklearn:iris", params={"n_estimators": 5},
                       output={"serializer": "onnx", "runs_dir": str(tmp_path)}, verbose=False)
    model_dir = run.run_dir / "model"
    data = bytearray((model_dir / "model.onnx").read_bytes())
    data[-1] ^= 1
    (model_dir / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(kampai.core.errors.RunError, match="does not match its recorded hash"):
        onnx_format.load(model_dir)
