"""The Python API: ``kampai.train``/``kampai.load_run``, the same code path as the CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_wine
from sklearn.pipeline import Pipeline

import kampai
from conftest import ROOT
from helpers import invoke, no_tracker  # noqa: F401  (autouse)
from kampai.core.errors import KampaiError, UnknownNameError


@pytest.fixture
def wine() -> pd.DataFrame:
    frame = load_wine(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    return frame


def test_train_on_a_dataframe(wine: pd.DataFrame) -> None:
    run = kampai.train(task="classification", data=wine, target="target", model="RandomForestClassifier",
                       params={"n_estimators": 25}, verbose=False)
    assert isinstance(run, kampai.Run)
    names = {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"}
    assert set(run.metrics) == names | {f"baseline_{m}" for m in names}
    assert run.metrics["accuracy"] > 0.85
    assert isinstance(run.model, Pipeline) and run.model[-1].n_estimators == 25
    assert Path(run.run_dir).is_dir() and Path(run.run_dir).parent == Path("runs")
    assert run.meta["data"]["source"] == "DataFrame"
    assert run.config["data"]["path"] is None

    new = wine.drop(columns="target").sample(10, random_state=0)
    preds = run.predict(new)
    assert list(preds.index) == list(new.index)
    assert list(preds.columns) == ["prediction", "proba_barbera", "proba_barolo", "proba_grignolino"]
    assert set(preds["prediction"]) <= {"barolo", "grignolino", "barbera"}
    assert list(preds["prediction"]) == list(run.model.predict(new))


def test_load_run_gives_the_same_model(wine: pd.DataFrame) -> None:
    run = kampai.train(task="classification", data=wine, target="target", params={"n_estimators": 10},
                       verbose=False)
    again = kampai.load_run(run.run_dir)
    assert again.run_id == run.run_id and again.metrics == run.metrics
    assert again.config == run.config
    new = wine.drop(columns="target")
    pd.testing.assert_frame_equal(again.predict(new), run.predict(new))
    assert again.evaluate(wine)["accuracy"] > 0.95  # on its own training rows
    assert kampai.load_run(str(run.run_dir)).run_id == run.run_id


def test_predict_takes_the_training_columns_in_any_order_and_names_the_first_stray_string(
        wine: pd.DataFrame) -> None:
    run = kampai.load_run(kampai.train(task="classification", data=wine, target="target",
                                       params={"n_estimators": 10}, verbose=False).run_dir)
    new = wine.drop(columns="target").iloc[:7]
    exact = run.predict(new)  # exactly the training columns: no column selection
    assert list(exact.index) == list(new.index)
    pd.testing.assert_frame_equal(run.predict(new[new.columns[::-1]]), exact)
    with_target = run.predict(new.assign(extra="x", target="barolo"))
    assert list(with_target["target"]) == ["barolo"] * 7
    pd.testing.assert_frame_equal(with_target.drop(columns="target"), exact)
    late, early = new.columns[9], new.columns[2]
    stray = new.astype({late: object, early: object})
    stray.loc[stray.index[3], late] = "n/a"
    stray.loc[stray.index[5], early] = "?"
    with pytest.raises(kampai.KampaiError, match=rf"Column '{early}' was numeric \(float64\) in training "
                                                 r"but holds '\?' here"):
        run.predict(stray)  # the first in the training order, not the first checked
    as_text = new.astype({early: str})  # numbers as text still parse: no error, same predictions
    pd.testing.assert_frame_equal(run.predict(as_text), exact)


def test_train_from_a_config_with_overrides() -> None:
    run = kampai.train(ROOT / "conf/experiments/iris.yaml", overrides=["model.params.n_estimators=10",
                                                                       "split.folds=3"], verbose=False)
    assert run.meta["folds"] == 3 and run.model[-1].n_estimators == 10
    assert run.model[-1].max_depth == 5  # from the YAML
    assert "accuracy_std" in run.metrics and "balanced_accuracy" not in run.metrics  # the YAML's metrics


def test_same_code_path_as_the_cli() -> None:
    api = kampai.train(task="regression", data="sklearn:diabetes", model="Ridge", params={"alpha": 0.3},
                       verbose=False)
    cli = invoke("train", "--task", "regression", "--data", "sklearn:diabetes", "--model", "Ridge",
                 "model.params.alpha=0.3", "--json").json()
    assert cli["metrics"] == pytest.approx(api.metrics)
    assert kampai.load_run(cli["run_dir"]).config == api.config


def test_config_function_and_sections() -> None:
    cfg = kampai.config(task="classification", data="sklearn:iris", split={"method": "kfold", "folds": 3},
                        seed=5, metrics=["accuracy"], output={"runs_dir": "elsewhere"})
    assert cfg["split"]["method"] == "kfold" and cfg["split"]["folds"] == 3
    assert cfg["seed"] == 5 and cfg["metrics"] == ["accuracy"] and cfg["output"]["runs_dir"] == "elsewhere"
    run = kampai.train(task="classification", data="sklearn:iris", output={"runs_dir": "elsewhere"},
                       params={"n_estimators": 5}, verbose=False)
    assert Path(run.run_dir).parent == Path("elsewhere")


def test_errors_are_kampai_errors() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'RandomForestClassifier'"):
        kampai.train(task="classification", data="sklearn:iris", model="RandomForestClasifier", verbose=False)
    with pytest.raises(KampaiError, match="No data given"):
        kampai.train(task="classification", verbose=False)
    assert issubclass(UnknownNameError, kampai.KampaiError)


def test_verbose_logs_steps(capsys: pytest.CaptureFixture[str]) -> None:
    kampai.train(task="regression", data="sklearn:diabetes", model="Ridge")
    err = capsys.readouterr().err
    assert "data loaded" in err and "fit Ridge" in err and "saved" in err


def test_import_kampai_is_light() -> None:
    assert {"train", "load_run", "config", "Run", "hookimpl", "KampaiError"} <= set(kampai.__all__)
    with pytest.raises(AttributeError):
        _ = kampai.not_a_thing


MY_MODELS = '''
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class MajorityClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the most frequent training label."""

    def __init__(self, tie: str = "first"):
        self.tie = tie

    def fit(self, X, y):
        values, counts = np.unique(y, return_counts=True)
        self.classes_ = values
        self.label_ = values[counts.argmax()]
        return self

    def predict(self, X):
        return np.full(len(X), self.label_)
'''


@pytest.fixture
def my_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "mymodels.py").write_text(MY_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    return importlib.import_module("mymodels")


def test_train_takes_a_class_or_an_instance_as_model(my_models) -> None:
    from sklearn.ensemble import RandomForestClassifier

    run = kampai.train(task="classification", data="sklearn:iris", verbose=False,
                       model=RandomForestClassifier(n_estimators=7, max_depth=2))
    assert run.config["model"]["estimator"] == "RandomForestClassifier"  # the short name it has
    assert run.config["model"]["params"] == {"n_estimators": 7, "max_depth": 2}  # only what it sets
    assert run.model[-1].n_estimators == 7
    # params= wins over the instance's own
    run = kampai.train(task="classification", data="sklearn:iris", verbose=False,
                       model=RandomForestClassifier(n_estimators=7), params={"n_estimators": 5})
    assert run.model[-1].n_estimators == 5
    run = kampai.train(task="classification", data="sklearn:iris", verbose=False, model=my_models.MajorityClassifier)
    assert run.config["model"]["estimator"] == "mymodels.MajorityClassifier"
    assert type(run.model[-1]).__name__ == "MajorityClassifier"
    with pytest.raises(KampaiError, match="a config cannot hold"):
        kampai.train(task="classification", data="sklearn:iris", verbose=False,
                     model=RandomForestClassifier(n_estimators=3, criterion=object()))
    with pytest.raises(KampaiError, match="without get_params"):
        kampai.train(task="classification", data="sklearn:iris", verbose=False, model=object())


def test_include_makes_a_users_class_known_by_its_short_name(my_models, tmp_path: Path) -> None:
    result = invoke("train", "--task", "classification", "--data", "sklearn:iris", "--model", "MajorityClassifier",
                    "-q")
    assert result.code == 2 and "--include MODULE" in " ".join(result.stderr.split())
    result = invoke("train", "--task", "classification", "--data", "sklearn:iris", "--model", "MajorityClassifier",
                    "--include", "mymodels", "-q")
    assert result.code == 0, result.stderr


def test_an_unknown_estimator_fails_before_the_data_is_read(tmp_path: Path) -> None:
    result = invoke("train", "--task", "classification", "--data", str(tmp_path / "absent.csv"),
                    "--model", "RandomForestClasifier")
    assert result.code == 2
    assert "Unknown estimator 'RandomForestClasifier'. Did you mean 'RandomForestClassifier'" in result.stderr
    assert "absent.csv" not in result.stderr and not (tmp_path / "runs").exists()
