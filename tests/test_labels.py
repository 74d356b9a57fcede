"""Labels keep their dtype and missing values never crash fast.ai tabular (issue 24, items 0
and 1), on small tables built here; the per-framework label round-trip (int, bool, str,
category targets) is kampai.testing's ``labels_*`` check, run in test_conformance.py and
test_deep_learning.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastai")

from helpers import invoke, run_dirs
from kampai.plugin import BuildContext, TaskData
from kampai.plugins.fastai.framework import FastaiFramework
from kampai.tasks.classification import Classification

TINY = ["model.params.epochs=2"]


def _table(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, rows).round()
    income = rng.normal(3, 1, rows)
    spam = ((age - 40) / 10 + income - 3 + rng.normal(0, 0.5, rows) > 0).astype("int64")
    return pd.DataFrame({"age": age, "income": income, "kind": rng.choice(["a", "b"], rows), "spam": spam})


def test_fastai_int_target_is_scored_and_predicted_as_ints() -> None:
    _table().to_csv("spam.csv", index=False)
    code, out, err = invoke("train", "--task", "classification", "--framework", "fastai", "--data", "spam.csv",
                            "--target", "spam", "--runs-dir", "runs", *TINY)
    assert code == 0, err
    assert "undefined" not in out + err and "lacks" not in out + err  # no false unseen-class warning
    run = run_dirs(Path("runs"))[0]
    metrics = json.loads((run / "metrics.json").read_text())
    scores = metrics.get("metrics", metrics)
    assert all(isinstance(scores[m], float) and scores[m] == scores[m] for m in ("accuracy", "roc_auc", "log_loss"))
    _table(20, seed=1).drop(columns="spam").to_csv("new.csv", index=False)
    code, _out, err = invoke("predict", str(run), "--data", "new.csv", "-o", "pred.csv")
    assert code == 0, err
    predicted = pd.read_csv("pred.csv")
    assert predicted["prediction"].dtype.kind == "i" and set(predicted["prediction"]) <= {0, 1}
    assert {"proba_0", "proba_1"} <= set(predicted.columns)


def test_fastai_nan_only_in_the_validation_cut_trains() -> None:
    """The one NaN of 'age' sits in a row of the 10% validation cut fast.ai's fit makes
    (positions: the first 20 of the seed's permutation of the 200 rows): fast.ai sets
    FillMissing up on the training part only and used to stop with "nan values in 'age'
    but not in setup training set"."""
    frame = _table()
    in_cut = int(np.random.default_rng(0).permutation(len(frame))[0])
    frame.loc[in_cut, "age"] = np.nan
    task, framework = Classification(), FastaiFramework()
    data = task.prepare(frame, {"target": "spam"}, training=True)
    model = framework.build(task, {"estimator": "tabular", "params": {"epochs": 2}}, data,
                            BuildContext(seed=0, device="cpu"))
    model = framework.fit(model, data, task)
    assert "age" in model.state["na_dict"]  # the NaN got its age_na indicator
    prediction = framework.predict(model, TaskData(X=data.X.iloc[in_cut - 1:in_cut + 2]), task)
    assert len(prediction.y) == 3 and np.isfinite(prediction.proba).all()


def test_fastai_predicts_nan_in_a_column_that_had_none_at_training() -> None:
    _table().to_csv("spam.csv", index=False)
    code, _out, err = invoke("train", "--task", "classification", "--framework", "fastai", "--data", "spam.csv",
                             "--target", "spam", "--runs-dir", "runs", *TINY)
    assert code == 0, err
    new = _table(6, seed=2).drop(columns="spam")
    new.loc[[0, 3], "income"] = np.nan
    new.loc[1, "kind"] = np.nan
    new.to_csv("new.csv", index=False)
    code, _out, err = invoke("predict", str(run_dirs(Path("runs"))[0]), "--data", "new.csv", "-o", "pred.csv")
    assert code == 0, err
    predicted = pd.read_csv("pred.csv")
    assert len(predicted) == 6 and predicted.filter(like="proba_").notna().all().all()


def test_validation_cut_keeps_a_nan_of_every_column_in_training() -> None:
    from kampai.plugins.fastai.tabular import validation_rows

    rows, n_valid = 100, 10
    cut = np.sort(np.random.default_rng(3).permutation(rows)[:n_valid])
    missing = np.zeros((rows, 3), dtype=bool)
    missing[cut[:2], 0] = True  # column 0: its two NaNs both in the random cut
    missing[cut[2], 1] = missing[cut[2], 2] = True  # one row holds columns 1 and 2's only NaN
    missing[cut[3], 2] = True
    valid = validation_rows(missing, n_valid, seed=3)
    train = np.setdiff1d(np.arange(rows), valid)
    assert len(valid) == n_valid and len(set(valid)) == n_valid
    assert missing[train].any(axis=0).all()  # every column with a NaN keeps one in training
    assert missing[valid, 0].any()  # the rest of the cut stays as drawn
    assert (validation_rows(np.zeros((rows, 2), dtype=bool), n_valid, seed=3) == cut).all()
