"""Issue 11: wrong results and silent surprises found on data the other tests never used
(palmerpenguins: three species living on three islands, Gentoo only on Biscoe)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import kampai
from helpers import no_tracker  # noqa: F401  (autouse)

palmerpenguins = pytest.importorskip("palmerpenguins")


@pytest.fixture
def penguins():
    return palmerpenguins.load_penguins()


@pytest.mark.parametrize("split", [
    {"method": "group_kfold"},              # 3 islands: one fold per island
    {"method": "group"},                    # holdout by island
    {"method": "kfold", "shuffle": False},  # rows come sorted by species
])
def test_folds_lacking_a_class_score_over_the_full_label_set(penguins, split) -> None:
    # old code: "y_true contains values {'Gentoo'} not in labels" from log_loss, run lost
    run = kampai.train(task="classification", data=penguins, target="species",
                       overrides=["data.group=island"], split=split,
                       params={"n_estimators": 10}, verbose=False)
    metrics = run.metrics
    assert 0 < metrics["accuracy"] < 1
    assert math.isfinite(metrics["log_loss"]) and metrics["log_loss"] > 0
    # a test fold holding one species only: ROC AUC is undefined there, not a crash
    meta = json.loads((Path(run.run_dir) / "meta.json").read_text())
    undefined = meta["undefined_metrics"]
    assert undefined and all(u["metric"] == "roc_auc" for u in undefined)
    assert "Only one class" in undefined[0]["reason"]


def test_metrics_align_probabilities_to_the_full_label_set(penguins) -> None:
    from sklearn.metrics import log_loss

    from kampai.core import metrics as metrics_mod
    from kampai.core.contract import Prediction

    labels = metrics_mod.labels_of(penguins["species"])
    assert labels == ["Adelie", "Chinstrap", "Gentoo"]
    # a model trained without Gentoo, scored on rows of Adelie and Gentoo
    p = Prediction(y=["Adelie", "Adelie"], proba=[[0.9, 0.1], [0.6, 0.4]], classes=["Adelie", "Chinstrap"])
    aligned = metrics_mod.align(p, labels)
    assert aligned.classes == labels and aligned.proba.shape == (2, 3)
    y = ["Adelie", "Gentoo"]
    assert log_loss(y, aligned.proba, labels=labels) > 10
    metric = metrics_mod.resolve(_task(), ["log_loss", "roc_auc"])
    undefined: dict[str, str] = {}
    scores = metrics_mod.compute(metric, ["Adelie", "Adelie"], p, None, labels=labels, undefined=undefined)
    assert math.isnan(scores["roc_auc"]) and "roc_auc" in undefined
    assert math.isfinite(scores["log_loss"])


def _task():
    from kampai.core.host import get_host

    return get_host().tasks().get("classification")


def test_tune_keeps_params_the_user_fixed(penguins) -> None:
    pytest.importorskip("optuna")  # the tune extra
    # old code: model.params.n_estimators=10 was overridden by the default space (16-245 trees)
    result = kampai.tune(task="classification", data=penguins.dropna(), target="species",
                         model="RandomForestClassifier", params={"n_estimators": 10},
                         trials=3, refit=False, verbose=False)
    assert result.trials is not None and len(result.trials) == 3
    assert all("n_estimators" not in p for p in [result.best_params])
    searched = [c for c in result.trials.columns if c.startswith("params_") or c.startswith("param")]
    assert searched and not any("n_estimators" in c for c in searched)
