"""Issue 11, items 2, 5, 7 and 9: predict on transductive clusterers, silent trainings and a
classifier predicting one class (items 5/7/9 also in test_forecasting.py and
test_text_transformers.py).  Real data the other tests never used: palmerpenguins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kampai
from helpers import invoke, no_tracker  # noqa: F401  (autouse)

palmerpenguins = pytest.importorskip("palmerpenguins")


@pytest.fixture
def penguins():
    return palmerpenguins.load_penguins()


# -- item 2: DBSCAN / AgglomerativeClustering on new rows ---------------------------------


@pytest.mark.parametrize(("model", "params", "rule"), [
    ("DBSCAN", {"eps": 1.2, "min_samples": 5}, "nearest_core_sample"),
    ("AgglomerativeClustering", {"n_clusters": 3}, "nearest_training_sample"),
])
def test_transductive_clusterer_labels_new_rows_as_in_training(penguins, tmp_path, model, params, rule) -> None:
    # old code re-clustered the new rows (and refitted the scaler/imputer/one-hot on them):
    # three rows of one training cluster came back 2,1,0 or -1,-1,-1; a 2-row file crashed
    penguins.to_csv(tmp_path / "penguins.csv", index=False)
    run = kampai.train(task="clustering", data=str(tmp_path / "penguins.csv"), target="species",
                       model=model, params=params, verbose=False)
    labels = run.model[-1].labels_
    frame = penguins.reset_index(drop=True)
    loaded = kampai.load_run(run.run_dir)
    for cluster in sorted(set(labels) - {-1}):
        rows = [i for i, label in enumerate(labels) if label == cluster][:3]
        assert list(loaded.predict(frame.iloc[rows])["prediction"]) == [cluster] * len(rows)
    two = frame.iloc[[0, len(frame) - 1]]
    assert list(loaded.predict(two)["prediction"]) == [labels[0], labels[len(frame) - 1]]
    # the CLI, on a 2-row file: no crash, the same labels
    two.to_csv(tmp_path / "two.csv", index=False)
    result = invoke("predict", str(run.run_dir), "--data", str(tmp_path / "two.csv"))
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [f"{t},{p}" for t, p in zip(two["species"], two.index.map(
        lambda i: labels[i]), strict=True)]
    trained = json.loads((Path(run.run_dir) / "model" / "model.json").read_text())["predict_rule"]
    assert trained["rule"] == rule and trained["estimator"] == model  # the rule is named in the run


def test_dbscan_far_row_is_noise(penguins) -> None:
    run = kampai.train(task="clustering", data=penguins, target="species", model="DBSCAN",
                       params={"eps": 1.2, "min_samples": 5}, verbose=False)
    rows = penguins.iloc[:12].copy()
    rows.loc[rows.index[0], "body_mass_g"] = 60_000.0  # 70 standard deviations off: beyond eps of every core
    assert list(run.predict(rows)["prediction"]) == [-1, *run.model[-1].labels_[1:12]]


# -- item 5: a classifier predicting one class ------------------------------------------------


def test_single_class_predictions_are_warned(penguins) -> None:
    # a 2-epoch tiny BERT predicted one class for all 240 rows with no word; a majority
    # "classifier" on the three penguin species does the same, fast
    code, _, err = invoke("train", "--task", "classification", "--data", _csv(penguins), "--target", "species",
                          "--model", "DummyClassifier", "--json")
    assert code == 0, err
    assert "predicts one class ('Adelie') for all" in err and "which hold 3 classes" in err, err
    code, _, err = invoke("train", "--task", "classification", "--data", _csv(penguins), "--target", "species",
                          "model.params.n_estimators=10", "--json")
    assert code == 0 and "predicts one class" not in err, err


def _csv(frame) -> str:
    frame.to_csv("penguins.csv", index=False)
    return "penguins.csv"
