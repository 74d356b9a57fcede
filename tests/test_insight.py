"""The insight plugin for real: step inspection of scikit-learn pipelines, report.html,
learning curves and the runs-compare plots, on bundled and generated data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import invoke, write_churn_csv

pytest.importorskip("matplotlib")


@pytest.fixture(autouse=True)
def _reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAMPAI_NO_REPORT", raising=False)  # conftest switches reports off


def _train(*args: str) -> Path:
    inline = () if "--no-report" in args else ("report.after_train=inline",)
    result = invoke("train", *args, *inline, "--json", "-q")
    assert result.code == 0, result.stderr
    return Path(result.json()["run_dir"])


@pytest.fixture
def churn_run(tmp_path: Path) -> Path:
    write_churn_csv(tmp_path / "churn.csv")
    return _train("--task", "classification", "--data", "churn.csv", "--target", "churn",
                  "--model", "LogisticRegression", "data.drop=[customer,day]")


def test_inspect_shows_each_branch_of_the_column_transformer(churn_run: Path) -> None:
    result = invoke("inspect", str(churn_run), "--json")
    assert result.code == 0, result.stderr
    steps = {s["name"]: s for s in result.json()}
    assert next(iter(steps)) == "input" and list(steps)[-1] == "preprocess"
    raw = steps["input"]
    assert raw["missing"] == {"age": 23, "city": 18}  # the NaNs the CSV was written with
    assert steps["preprocess/num/imputer"]["inputs"] == ["age", "income"]
    assert steps["preprocess/num/imputer"]["missing_total"] == 0
    assert steps["preprocess/cat/imputer"]["inputs"] == ["city", "plan"]
    encoder = steps["preprocess/cat/encoder"]
    assert encoder["columns"] == ["city_lyon", "city_nice", "city_paris", "plan_basic", "plan_pro"]
    assert encoder["shape"] == [160, 5] and len(encoder["head"]) == 5
    whole = steps["preprocess"]
    assert whole["branches"] == {"num": ["age", "income"], "cat": ["city", "plan"]}
    assert whole["shape"] == [160, 7] and whole["columns"][0] == "num__age"
    assert all(t == "float64" for t in whole["dtypes"].values())


def test_inspect_python_api_one_step_other_data(churn_run: Path, tmp_path: Path) -> None:
    from kampai.plugin import open_run
    from kampai.plugins.insight import inspect_run

    write_churn_csv(tmp_path / "new.csv", n=40, seed=3)
    (scaler,) = inspect_run(open_run(churn_run), data="new.csv", step="num/scaler")
    assert scaler["shape"] == [40, 2] and scaler["kind"] == "StandardScaler"
    assert scaler["columns"] == ["age", "income"]


def test_inspect_bad_input(churn_run: Path) -> None:
    code, _, err = invoke("inspect", str(churn_run), "--step", "encodr")
    assert code == 2 and "Did you mean" in err and "preprocess/cat/encoder" in err
    plain = _train("--task", "classification", "--data", "sklearn:iris", "model.preprocess=false",
                   "model.params.n_estimators=5")
    code, _, err = invoke("inspect", str(plain))
    assert code == 2 and "no preprocessing pipeline" in err


def test_report_written_after_train_and_by_runner_report(churn_run: Path) -> None:
    page = (churn_run / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("data:image/png;base64,") == 2  # confusion matrix + ROC
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "preprocess/cat/encoder" in page and "RandomForest" not in page
    manifest = json.loads((churn_run / "manifest.json").read_text())
    assert "report.html" not in manifest["files"]  # a view written after the manifest was sealed
    from kampai.plugin import open_run

    assert open_run(churn_run).model is not None  # the manifest still verifies
    (churn_run / "report.html").unlink()
    result = invoke("report", str(churn_run))
    assert result.code == 0 and Path(result.stdout.strip()) == churn_run / "report.html"
    assert (churn_run / "report.html").read_text().count("data:image/png") == 2


def test_regression_report_has_residuals_and_no_report_flag() -> None:
    run = _train("-c", str(Path(__file__).parents[1] / "conf/experiments/diabetes.yaml"),
                 "model.params.max_iter=20")
    page = (run / "report.html").read_text()
    assert "residuals" in page and "predicted vs actual" in page
    skipped = _train("--task", "regression", "--data", "sklearn:diabetes", "--no-report",
                     "model.params.n_estimators=5")
    assert not (skipped / "report.html").exists()
    off = _train("--task", "regression", "--data", "sklearn:diabetes", "--no-report", "report.after_train=off",
                 "model.params.n_estimators=5")  # YAML reads a bare off as false: the same
    assert not (off / "report.html").exists()
    code, _, err = invoke("train", "--task", "regression", "--data", "sklearn:diabetes", "report.after_train=later")
    assert code == 2 and "report.after_train" in err


def test_report_in_background_by_default(tmp_path: Path) -> None:
    import time

    result = invoke("train", "--task", "classification", "--data", "sklearn:iris", "--json", "-q",
                    "model.params.n_estimators=5")
    run = Path(result.json()["run_dir"])
    deadline = time.monotonic() + 120
    while not (run / "report.html").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert (run / "report.html").read_text().count("data:image/png") == 2


def test_learning_curve_cli(tmp_path: Path) -> None:
    result = invoke("learning-curve", "--task", "classification", "--data", "sklearn:iris",
                    "--rows", "20%,50%,100%", "--out-dir", "lc", "--json", "split.method=stratified_kfold",
                    "split.folds=3", "model.params.n_estimators=10")
    assert result.code == 0, result.stderr
    payload = result.json()
    assert payload["sizes"] == [20, 50, 100]  # of the 100 training rows of each of 3 folds
    points = payload["points"]
    assert [p["rows"] for p in points] == [20, 50, 100]
    assert all(0 <= p["accuracy"] <= 1 and p["accuracy_std"] >= 0 for p in points)
    folds = (tmp_path / "lc" / "learning_curve_folds.csv").read_text().splitlines()
    assert len(folds) == 1 + 3 * 3
    assert (tmp_path / "lc" / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_learning_curve_nested_stratified_prefixes() -> None:
    import numpy as np

    from kampai.plugins.insight.curve import nested_order

    y = np.array(["a"] * 60 + ["b"] * 30 + ["c"] * 10)
    order = nested_order(y, 0, stratify=True)
    assert sorted(order) == list(range(100))
    first = y[order[:20]]
    assert {k: int((first == k).sum()) for k in "abc"} == {"a": 12, "b": 6, "c": 2}


def test_learning_curve_bad_sizes() -> None:
    code, _, err = invoke("learning-curve", "--task", "classification", "--data", "sklearn:iris",
                          "--rows", "3%,100%", "split.method=stratified_kfold")
    assert code == 2 and "fewer than 5" in err and "class" in err
    code, _, err = invoke("learning-curve", "--task", "classification", "--data", "sklearn:iris",
                          "--rows", "ten")
    assert code == 2 and "not a row count" in err


def test_runs_compare_pareto_front(tmp_path: Path) -> None:
    from kampai.plugin import list_runs

    for depth in (1, 2, 3):
        _train("--task", "classification", "--data", "sklearn:iris", f"model.params.max_depth={depth}",
               "model.params.n_estimators=5", "--no-report")
    _train("--task", "classification", "--data", "sklearn:iris", "--model", "LogisticRegression", "--no-report")
    result = invoke("runs", "compare", "--metric", "accuracy", "--json", "--out-dir", "cmp")
    assert result.code == 0, result.stderr
    payload = result.json()
    assert len(payload["plots"]) == 2 and all(Path(p).exists() for p in payload["plots"])
    from kampai.core.compare import pareto_front

    runs = list_runs("runs")
    xs = [r.meta["fit_seconds"] for r in runs]
    ys = [r.metrics["accuracy"] for r in runs]
    front = pareto_front(xs, ys, higher=True)
    best = max(range(len(ys)), key=lambda i: (ys[i], -xs[i]))
    fastest = min(range(len(xs)), key=lambda i: (xs[i], -ys[i]))
    assert best in front and fastest in front
    for i in front:  # nothing on the front is beaten on both axes
        assert not any(xs[j] <= xs[i] and ys[j] >= ys[i] and (xs[j], ys[j]) != (xs[i], ys[i])
                       for j in range(len(xs)))


def test_forecasting_report_shows_the_forecast() -> None:
    pytest.importorskip("darts")
    run = _train("-c", str(Path(__file__).parents[1] / "conf/experiments/co2.yaml"), "split.method=holdout")
    page = (run / "report.html").read_text()
    assert "<figcaption>forecast</figcaption>" in page and page.count("data:image/png") == 1
    assert "cannot show its preprocessing steps" in page  # darts has no inspect capability
    code, _, err = invoke("inspect", str(run))
    assert code == 2 and "no 'inspect' capability" in err
