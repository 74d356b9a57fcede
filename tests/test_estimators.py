"""The estimator registry: ``runner estimators list/show``, plugins' and the user's own."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from helpers import invoke, no_tracker  # noqa: F401  (autouse)
from kampai.core.errors import UnknownNameError
from kampai.core.host import get_host

USER_MODULE = '''
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin


class ShrunkMean(RegressorMixin, BaseEstimator):
    def __init__(self, shrink=0.5):
        self.shrink = shrink

    def fit(self, X, y):
        self.mean_ = float(sum(y)) / len(y) * self.shrink
        return self

    def predict(self, X):
        return [self.mean_] * len(X)


class AlwaysFirst(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.first_ = list(y)[0]
        return self

    def predict(self, X):
        return [self.first_] * len(X)


class Doubler(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X * 2


class NotAnEstimator:
    pass
'''


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "my_estimators.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_estimators"


@pytest.mark.parametrize(("kind", "members"), [
    ("classifier", {"RandomForestClassifier", "LogisticRegression", "HistGradientBoostingClassifier"}),
    ("regressor", {"Ridge", "RandomForestRegressor", "HistGradientBoostingRegressor"}),
    ("transformer", {"StandardScaler", "OneHotEncoder", "SimpleImputer", "PCA"}),
    ("cluster", {"KMeans", "DBSCAN", "AgglomerativeClustering"}),
])
def test_list_by_type_json(kind: str, members: set[str]) -> None:
    result = invoke("estimators", "list", "--type", kind, "--json")
    assert result.code == 0, result.stderr
    listing = result.json()
    assert {e["type"] for e in listing} == {kind}
    by_name = {e["name"]: e for e in listing}
    assert members <= set(by_name)
    some = sorted(members)[0]
    assert by_name[some]["package"] == "sklearn"
    assert by_name[some]["path"].startswith("sklearn.") and "._" not in by_name[some]["path"]


def test_list_everything_matches_all_estimators() -> None:
    from sklearn.utils.discovery import all_estimators

    names = {e["name"] for e in invoke("estimators", "list", "--json").json()}
    # experimental estimators (HalvingGridSearchCV) are listed only once their enable_* module
    # was imported somewhere in this process: not part of the cached index
    stable = {name for name, cls in all_estimators() if "successive_halving" not in cls.__module__}
    assert stable <= names


def test_sklego_entries_name_their_package() -> None:
    pytest.importorskip("sklego")
    listing = invoke("estimators", "list", "--type", "regressor", "--json").json()
    lowess = [e for e in listing if e["name"] == "LowessRegression"]
    assert lowess == [{"name": "LowessRegression", "type": "regressor", "package": "sklego",
                       "path": "sklego.linear_model.LowessRegression"}]
    classifiers = {e["name"]: e["package"] for e in invoke("estimators", "list", "--type", "classifier",
                                                            "--json").json()}
    assert classifiers.get("BayesianGMMClassifier") == "sklego"


def test_include_a_users_module(user_module: str) -> None:
    result = invoke("estimators", "list", "--include", user_module, "--json")
    assert result.code == 0, result.stderr
    mine = {e["name"]: e for e in result.json() if e["package"] == user_module}
    assert set(mine) == {"ShrunkMean", "AlwaysFirst", "Doubler"}
    assert mine["ShrunkMean"]["type"] == "regressor"
    assert mine["AlwaysFirst"]["type"] == "classifier"
    assert mine["Doubler"]["type"] == "transformer"
    assert mine["ShrunkMean"]["path"] == f"{user_module}.ShrunkMean"
    only = invoke("estimators", "list", "--include", user_module, "--type", "regressor", "--json").json()
    assert "ShrunkMean" in {e["name"] for e in only} and "AlwaysFirst" not in {e["name"] for e in only}


def test_include_unknown_module_is_an_error() -> None:
    result = invoke("estimators", "list", "--include", "no_such_module_here")
    assert result.code == 2
    assert "Cannot import 'no_such_module_here'" in result.stderr


def test_show_parameters() -> None:
    params = invoke("estimators", "show", "RandomForestClassifier", "--json").json()
    assert params["n_estimators"] == 100 and params["criterion"] == "gini"
    by_path = invoke("estimators", "show", "sklearn.linear_model.Ridge", "--json").json()
    assert by_path["alpha"] == 1.0
    table = invoke("estimators", "show", "KMeans")
    assert "n_clusters" in table.stdout and "sklearn.cluster" in table.stdout


def test_show_unknown_is_an_error() -> None:
    result = invoke("estimators", "show", "RandomForrestClassifier")
    assert result.code == 2
    assert "Did you mean 'RandomForestClassifier'" in result.stderr


def test_registry_resolves_names_like_configs_do(user_module: str) -> None:
    from sklearn.ensemble import RandomForestClassifier

    reg = get_host().estimators()
    assert reg.resolve("RandomForestClassifier") is RandomForestClassifier
    assert reg.resolve("sklearn.ensemble.RandomForestClassifier") is RandomForestClassifier
    assert reg.resolve("sklearn.ensemble:RandomForestClassifier") is RandomForestClassifier
    assert reg.resolve(f"{user_module}.ShrunkMean").__name__ == "ShrunkMean"
    with pytest.raises(UnknownNameError, match="Did you mean 'ShrunkMean'"):
        reg.resolve(f"{user_module}.ShrunkMaen")


def test_index_is_cached_per_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import version

    monkeypatch.setenv("KAMPAI_CACHE_DIR", str(tmp_path / "cache"))
    get_host().estimators().load_sources()
    cached = tmp_path / "cache" / f"sklearn-estimators-{version('scikit-learn')}.json"
    assert cached.is_file() and "RandomForestClassifier" in cached.read_text()
