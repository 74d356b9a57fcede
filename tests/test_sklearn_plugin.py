"""The scikit-learn plugin: estimators by any name, default preprocessing, nested params."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

import kampai
from helpers import churn_frame, invoke, leftovers, no_tracker, write_churn_csv  # noqa: F401  (autouse)
from kampai.core.errors import ConfigError, DataError

USER_MODULE = '''
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class MajorityClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the most frequent class; ``strength`` is a dummy parameter."""

    def __init__(self, strength=1.0):
        self.strength = strength

    def fit(self, X, y):
        values, counts = np.unique(np.asarray(y), return_counts=True)
        self.classes_ = values
        self.majority_ = values[counts.argmax()]
        self.n_seen_ = len(X)
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)
'''


def train(config=None, **kwargs):
    kwargs.setdefault("verbose", False)
    return kampai.train(config, **kwargs)


@pytest.fixture
def churn_csv(tmp_path: Path) -> Path:
    return write_churn_csv(tmp_path / "churn.csv")


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "userpkg.models"


def test_estimator_by_short_name() -> None:
    run = train(task="classification", data="sklearn:iris", model="ExtraTreesClassifier",
                params={"n_estimators": 10})
    assert type(run.model[-1]).__name__ == "ExtraTreesClassifier"
    assert run.model[-1].n_estimators == 10


def test_estimator_by_import_path() -> None:
    run = train(task="regression", data="sklearn:diabetes",
                model="sklearn.ensemble.HistGradientBoostingRegressor", params={"max_iter": 20})
    from sklearn.ensemble import HistGradientBoostingRegressor

    assert isinstance(run.model[-1], HistGradientBoostingRegressor)
    assert run.model[-1].max_iter == 20 and run.metrics["r2"] > 0.2


def test_estimator_from_scikit_lego() -> None:
    pytest.importorskip("sklego")
    run = train(task="regression", data="sklearn:diabetes", model="sklego.linear_model.LowessRegression",
                params={"sigma": 2.0})
    assert type(run.model[-1]).__module__.startswith("sklego")
    assert run.model[-1].sigma == 2.0
    assert run.meta["estimator"] == "sklego.linear_model.LowessRegression"
    # and by its short name, through the registry's scikit-lego source
    short = train(task="regression", data="sklearn:diabetes", model="LowessRegression")
    assert type(short.model[-1]).__module__.startswith("sklego")


def test_users_own_estimator(user_module: str) -> None:
    run = train(task="classification", data="sklearn:iris", model=f"{user_module}.MajorityClassifier",
                params={"strength": 3.0})
    fitted = run.model[-1]
    assert type(fitted).__name__ == "MajorityClassifier" and fitted.strength == 3.0
    assert fitted.n_seen_ == 120  # fitted on the training split
    assert run.metrics["accuracy"] == pytest.approx(1 / 3)
    with pytest.raises(ConfigError, match="Did you mean 'strength'"):
        train(task="classification", data="sklearn:iris", model=f"{user_module}.MajorityClassifier",
              params={"strenght": 3.0})


def test_users_module_in_the_current_folder_from_the_console_script(tmp_path: Path) -> None:
    """``runner`` (a console script) does not put the current folder on sys.path by itself."""
    import subprocess
    import sys

    (tmp_path / "mymodels.py").write_text(textwrap.dedent(USER_MODULE))
    script = Path(sys.executable).with_name("runner")
    result = subprocess.run([str(script), "train", "--task", "classification", "--data", "sklearn:iris",
                             "--model", "mymodels.MajorityClassifier", "--json"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert '"accuracy": 0.333' in result.stdout


def test_not_an_estimator() -> None:
    with pytest.raises(ConfigError, match="is not a scikit-learn estimator"):
        train(task="classification", data="sklearn:iris", model="collections.OrderedDict")


def test_default_preprocessing_on_a_raw_csv(churn_csv: Path) -> None:
    raw = pd.read_csv(churn_csv)
    assert raw["age"].isna().any() and raw["city"].isna().any()
    run = train(task="classification", data=str(churn_csv), target="churn", model="LogisticRegression")
    pipe = run.model
    assert isinstance(pipe, Pipeline) and [name for name, _ in pipe.steps] == ["preprocess", "model"]
    pre = pipe.named_steps["preprocess"]
    assert isinstance(pre, ColumnTransformer)
    groups = {name: (list(trans.named_steps), cols) for name, trans, cols in pre.transformers_ if name != "remainder"}
    assert groups["num"] == (["imputer", "scaler"], ["age", "income", "customer"])
    assert groups["cat"] == (["imputer", "encoder"], ["city", "plan", "day"])
    assert pre.named_transformers_["num"].named_steps["imputer"].strategy == "median"
    encoder = pre.named_transformers_["cat"].named_steps["encoder"]
    assert list(encoder.categories_[1]) == ["basic", "pro"]
    assert run.metrics["accuracy"] > 0.7
    # prediction on rows with missing values and an unseen category
    new = raw.drop(columns="churn").head(5).copy()
    new.loc[0, "city"] = "marseille"
    new.loc[1, "income"] = None
    assert len(run.predict(new)) == 5


def test_nested_pipeline_params(churn_csv: Path) -> None:
    run = train(task="classification", data=str(churn_csv), target="churn",
                params={"n_estimators": 10, "preprocess__num__imputer__strategy": "mean",
                        "preprocess__cat__encoder__min_frequency": 3, "model__max_depth": 4})
    params = run.model.get_params()
    assert params["preprocess__num__imputer__strategy"] == "mean"
    assert params["preprocess__cat__encoder__min_frequency"] == 3
    assert params["model__max_depth"] == 4 and params["model__n_estimators"] == 10
    fitted = run.model.named_steps["preprocess"].named_transformers_["num"].named_steps["imputer"]
    assert fitted.strategy == "mean"


@pytest.mark.parametrize(("param", "suggestion"), [
    ("preprocess__num__imputer__strateg", "preprocess__num__imputer__strategy"),
    ("n_estimatrs", "n_estimators"),
    ("strategy", "preprocess__num__imputer__strategy"),
])
def test_unknown_nested_param_did_you_mean(churn_csv: Path, param: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as err:
        train(task="classification", data=str(churn_csv), target="churn", params={param: 1})
    assert f"Unknown parameter 'model.params.{param}'" in str(err.value)
    assert f"'{suggestion}'" in str(err.value)
    assert not [p for p in leftovers(Path("runs")) if p.name.startswith(".tmp-")]


def test_invalid_param_value_is_a_config_error() -> None:
    result = invoke("train", "--task", "classification", "--data", "sklearn:iris",
                    "model.params.n_estimators=-3")
    assert result.code == 2
    assert "Invalid parameter value" in result.stderr and "n_estimators" in result.stderr


def test_preprocess_steps_overridden_in_yaml(churn_csv: Path, tmp_path: Path) -> None:
    exp = tmp_path / "exp.yaml"
    exp.write_text(textwrap.dedent(f"""
        task: classification
        data: {{path: {churn_csv}, target: churn, drop: [day]}}
        model:
          estimator: LogisticRegression
          preprocess:
            num:
              steps:
                scaler: MinMaxScaler               # replace a step by name
                imputer: {{class: SimpleImputer, strategy: constant, fill_value: -1}}
            cat:
              columns: [city]                      # an explicit column list
              steps:
                encoder: {{class: OrdinalEncoder, handle_unknown: use_encoded_value, unknown_value: -1}}
            flags:                                 # a new group of your own
              columns: [plan]
              steps:
                onehot: {{class: sklearn.preprocessing.OneHotEncoder, drop: first, sparse_output: false}}
    """))
    run = train(exp)
    pre = run.model.named_steps["preprocess"]
    num = pre.named_transformers_["num"]
    assert type(num.named_steps["scaler"]).__name__ == "MinMaxScaler"
    assert num.named_steps["imputer"].fill_value == -1
    assert type(pre.named_transformers_["cat"].named_steps["encoder"]).__name__ == "OrdinalEncoder"
    cols = {name: c for name, _, c in pre.transformers_}
    assert cols["cat"] == ["city"] and cols["flags"] == ["plan"]
    assert pre.transform(pd.read_csv(churn_csv).head(3)).shape[1] == 3 + 1 + 1  # num + city + plan_pro
    # a step set to null is dropped
    run = train(exp, overrides=["model.preprocess.num.steps.scaler=null"])
    assert list(run.model.named_steps["preprocess"].named_transformers_["num"].named_steps) == ["imputer"]
    # a mapping without 'class' tunes the default step's params and keeps its class
    run = train(exp, overrides=["model.preprocess.cat.steps.encoder={unknown_value: -2}"])
    encoder = run.model.named_steps["preprocess"].named_transformers_["cat"].named_steps["encoder"]
    assert type(encoder).__name__ == "OrdinalEncoder" and encoder.unknown_value == -2
    run = train(task="classification", data=str(churn_csv), target="churn", model="LogisticRegression",
                overrides=["model.preprocess.num.steps.imputer={strategy: mean}"])
    imputer = run.model.named_steps["preprocess"].named_transformers_["num"].named_steps["imputer"]
    assert type(imputer).__name__ == "SimpleImputer" and imputer.strategy == "mean"


def test_preprocess_false_and_its_failure_leaves_no_run(churn_csv: Path) -> None:
    run = train(task="regression", data="sklearn:diabetes", model="Ridge", overrides=["model.preprocess=false"])
    assert [name for name, _ in run.model.steps] == ["model"]
    before = leftovers(Path("runs"))
    with pytest.raises(DataError, match="cannot use this data"):
        train(task="classification", data=str(churn_csv), target="churn", overrides=["model.preprocess=false"])
    assert leftovers(Path("runs")) == before


@pytest.mark.parametrize(("override", "message"), [
    ("model.preprocess.num.colums=[age]", "Unknown config key 'model.preprocess.num.colums'. Did you mean 'columns'"),
    ("model.preprocess.cat.columns=[town]", "names 'town', which is not a feature column"),
    ("model.preprocess.num.steps.scaler=StandardScalr",
     "Unknown estimator 'StandardScalr'. Did you mean 'StandardScaler'"),
    ("model.preprocess.num.steps.imputer={class: SimpleImputer, stratgy: mean}", "Did you mean 'strategy'"),
    ("model.preprocess=3", "model.preprocess must be a mapping or false"),
])
def test_bad_preprocess_config(churn_csv: Path, override: str, message: str) -> None:
    result = invoke("train", "--task", "classification", "--data", str(churn_csv), "--target", "churn",
                    override)
    assert result.code == 2, result.stderr
    assert message in result.stderr


def test_transductive_clusterer_dbscan() -> None:
    run = train(task="clustering", data="sklearn:iris", model="DBSCAN", params={"eps": 0.8, "min_samples": 5})
    assert not hasattr(run.model, "predict")
    labels = pd.read_csv(Path(run.run_dir) / "predictions.csv")["prediction"]
    assert len(labels) == 150 and labels.nunique() >= 2
    assert run.metrics["ari"] > 0.4
    # new rows take the label of the nearest core sample within eps (transductive.py): the
    # training rows get their own labels back
    again = kampai.load_run(run.run_dir).predict(_iris_features())
    assert list(again["prediction"]) == list(labels)


def test_agglomerative_clustering_cli() -> None:
    result = invoke("train", "--task", "clustering", "--data", "sklearn:wine", "--model",
                    "AgglomerativeClustering", "--json", "model.params.n_clusters=3")
    assert result.code == 0, result.stderr
    assert result.json()["metrics"]["ari"] > 0.5


def test_seed_reaches_random_state() -> None:
    run = train(task="classification", data="sklearn:iris", params={"n_estimators": 5}, seed=7)
    assert run.model[-1].random_state == 7
    run = train(task="classification", data="sklearn:iris", params={"n_estimators": 5, "random_state": 3})
    assert run.model[-1].random_state == 3
    a = train(task="classification", data="sklearn:wine", params={"n_estimators": 5})
    b = train(task="classification", data="sklearn:wine", params={"n_estimators": 5})
    assert a.metrics == b.metrics  # same seed: same split, same forest


def _iris_features() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).data
