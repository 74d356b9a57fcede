"""Tasks: their data contracts and metrics, CV mean/std, clustering scores, scorer names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import kampai
from helpers import churn_frame, invoke, no_tracker  # noqa: F401  (autouse)
from kampai.core.errors import DataError, UnknownNameError


def train(**kwargs):
    kwargs.setdefault("verbose", False)
    return kampai.train(**kwargs)


def predictions(run) -> pd.DataFrame:
    return pd.read_csv(Path(run.run_dir) / "predictions.csv")


def test_classification_default_metrics_match_sklearn() -> None:
    run = train(task="classification", data="sklearn:iris", params={"n_estimators": 20})
    names = ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"]
    assert list(run.metrics) == names + [f"baseline_{m}" for m in names]  # and their baselines
    preds = predictions(run)
    assert run.metrics["accuracy"] == pytest.approx(skm.accuracy_score(preds["target"], preds["prediction"]))
    assert run.metrics["f1_macro"] == pytest.approx(
        skm.f1_score(preds["target"], preds["prediction"], average="macro"))
    proba = preds[[c for c in preds if c.startswith("proba_")]].to_numpy()
    assert run.metrics["log_loss"] == pytest.approx(
        skm.log_loss(preds["target"], proba, labels=["setosa", "versicolor", "virginica"]))
    assert run.metrics["accuracy"] > 0.85


def test_binary_string_labels() -> None:
    run = train(task="classification", data="sklearn:breast_cancer", params={"n_estimators": 20})
    preds = predictions(run)
    assert set(preds["prediction"]) == {"benign", "malignant"}
    assert list(preds.columns[-2:]) == ["proba_benign", "proba_malignant"]
    assert run.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(preds["target"] == "malignant",
                                                                     preds["proba_malignant"]))
    assert run.metrics["roc_auc"] > 0.95


def test_no_proba_metrics_without_probabilities() -> None:
    run = train(task="classification", data="sklearn:iris", model="LinearSVC")
    assert {"accuracy", "balanced_accuracy", "f1_macro"} == {m for m in run.metrics if not m.startswith("baseline_")}
    assert not [c for c in predictions(run) if c.startswith("proba_")]


def test_regression_metrics_match_predictions() -> None:
    run = train(task="regression", data="sklearn:diabetes", params={"n_estimators": 20})
    assert list(run.metrics) == ["rmse", "mae", "r2", "baseline_rmse", "baseline_mae", "baseline_r2"]
    preds = predictions(run)
    assert len(preds) == 89  # ShuffleSplit rounds the 20% test share up
    err = preds["target"] - preds["prediction"]
    assert run.metrics["rmse"] == pytest.approx(float(np.sqrt((err**2).mean())))
    assert run.metrics["mae"] == pytest.approx(float(err.abs().mean()))
    assert run.metrics["r2"] == pytest.approx(skm.r2_score(preds["target"], preds["prediction"]))
    assert 0.2 < run.metrics["r2"] < 0.8


def test_cv_gives_mean_and_std_per_metric() -> None:
    run = train(task="regression", data="sklearn:diabetes", model="Ridge",
                split={"method": "kfold", "folds": 4})
    folds = run.meta["fold_metrics"]
    assert len(folds) == 4
    for name in ("rmse", "mae", "r2"):
        values = [f[name] for f in folds]
        assert run.metrics[name] == pytest.approx(np.mean(values))
        assert run.metrics[f"{name}_std"] == pytest.approx(np.std(values))
        assert run.metrics[f"{name}_std"] > 0
    preds = predictions(run)
    assert sorted(preds["row"]) == list(range(442))  # every row tested once
    assert sorted(preds["fold"].unique()) == [0, 1, 2, 3]


def test_clustering_with_labels_scores_ari_nmi() -> None:
    run = train(task="clustering", data="sklearn:wine", model="KMeans",
                params={"n_clusters": 3, "n_init": 5})
    names = ["silhouette", "calinski_harabasz", "davies_bouldin", "ari", "nmi"]
    assert list(run.metrics) == names + [f"baseline_{m}" for m in names]  # k-means with the same k
    preds = predictions(run)
    assert len(preds) == 178 and preds["prediction"].nunique() == 3
    assert run.metrics["ari"] == pytest.approx(skm.adjusted_rand_score(preds["target"], preds["prediction"]))
    assert run.metrics["nmi"] == pytest.approx(
        skm.normalized_mutual_info_score(preds["target"], preds["prediction"]))
    assert run.metrics["ari"] > 0.8  # scaled k-means recovers the three cultivars
    assert 0 < run.metrics["silhouette"] < 1 and run.metrics["davies_bouldin"] > 0


def test_clustering_without_labels(tmp_path: Path) -> None:
    frame = churn_frame(80).drop(columns=["churn", "day"])
    frame.to_csv("points.csv", index=False)
    run = train(task="clustering", data="points.csv", model="KMeans", params={"n_clusters": 2, "n_init": 3})
    assert set(run.metrics) == {"silhouette", "calinski_harabasz", "davies_bouldin", "baseline_silhouette",
                                "baseline_calinski_harabasz", "baseline_davies_bouldin"}
    assert "target" not in predictions(run).columns


def test_sklearn_scorer_names_as_metrics() -> None:
    run = train(task="classification", data="sklearn:breast_cancer", params={"n_estimators": 20},
                metrics=["accuracy", "average_precision", "precision_macro", "neg_log_loss", "f1"])
    preds = predictions(run)
    assert run.metrics["average_precision"] == pytest.approx(
        skm.average_precision_score(preds["target"] == "malignant", preds["proba_malignant"]))
    assert run.metrics["f1"] == pytest.approx(skm.f1_score(preds["target"], preds["prediction"],
                                                           pos_label="malignant"))
    assert run.metrics["neg_log_loss"] < 0
    reg = train(task="regression", data="sklearn:diabetes", model="Ridge",
                metrics=["mae", "neg_mean_absolute_error", "explained_variance"])
    assert reg.metrics["neg_mean_absolute_error"] == pytest.approx(-reg.metrics["mae"])


def test_unknown_metric_names_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'rmse'"):
        train(task="regression", data="sklearn:diabetes", model="Ridge", metrics=["rmsee"])


def test_classification_refuses_a_continuous_target() -> None:
    with pytest.raises(DataError, match="looks like a regression target"):
        train(task="classification", data="sklearn:diabetes")


def test_classification_needs_two_classes(tmp_path: Path) -> None:
    pd.DataFrame({"x": range(10), "y": ["a"] * 10}).to_csv("one.csv", index=False)
    with pytest.raises(DataError, match="at least 2 classes"):
        train(task="classification", data="one.csv", target="y")


def test_regression_refuses_labels() -> None:
    with pytest.raises(DataError, match="numeric target"):
        train(task="regression", data="sklearn:iris")


def test_missing_target_values_are_refused(tmp_path: Path) -> None:
    frame = churn_frame(40)
    frame.loc[3, "churn"] = None
    frame.to_csv("holes.csv", index=False)
    with pytest.raises(DataError, match="'churn' has 1 missing values"):
        train(task="classification", data="holes.csv", target="churn")


def test_target_required_for_supervised_tasks(tmp_path: Path) -> None:
    churn_frame(40).to_csv("c.csv", index=False)
    with pytest.raises(DataError, match="needs a target column"):
        train(task="classification", data="c.csv")


def test_features_and_drop_choose_columns(tmp_path: Path) -> None:
    churn_frame(80).to_csv("c.csv", index=False)
    run = train(task="classification", data="c.csv", target="churn", params={"n_estimators": 10},
                overrides=["data.features=[income,plan]"])
    assert run.meta["data"]["features"] == ["income", "plan"]
    run = train(task="classification", data="c.csv", target="churn", params={"n_estimators": 10},
                overrides=["data.drop=[day,customer]"])
    assert run.meta["data"]["features"] == ["age", "income", "city", "plan"]


def test_target_cannot_be_a_feature(tmp_path: Path) -> None:
    churn_frame(40).to_csv("c.csv", index=False)
    with pytest.raises(DataError, match="includes the target column 'churn'"):
        train(task="classification", data="c.csv", target="churn", overrides=["data.features=[income,churn]"])


def test_metrics_json_is_what_run_metrics_says() -> None:
    run = train(task="classification", data="sklearn:iris", params={"n_estimators": 10})
    assert json.loads((Path(run.run_dir) / "metrics.json").read_text()) == run.metrics


def test_cli_reports_metrics_of_every_task() -> None:
    for task, data in (("classification", "sklearn:wine"), ("regression", "sklearn:diabetes"),
                       ("clustering", "sklearn:iris")):
        result = invoke("train", "--task", task, "--data", data, "--json", "model.params.n_estimators=10"
                        if task != "clustering" else "model.params.n_clusters=3")
        assert result.code == 0, result.stderr
        assert set(result.json()["metrics"]) >= {"classification": {"accuracy"}, "regression": {"rmse"},
                                                 "clustering": {"silhouette", "ari"}}[task]
