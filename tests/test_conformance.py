"""The conformance kit (kampai.testing) run on every built-in framework and task and on the
example third-party plugin, as a plugin author runs it on theirs; plus proof that the
checks catch what they are for."""

from __future__ import annotations

from typing import Any

import pytest
from kampai_hello import HelloFramework

from kampai.plugin import Framework, Prediction
from kampai.plugins.darts.framework import DartsFramework
from kampai.plugins.sklearn.framework import SklearnFramework
from kampai.plugins.transformers.framework import TransformersFramework
from kampai.tasks import classification, clustering, forecasting, regression, text_classification
from kampai.testing import check_framework, framework_checks, parametrize_with_checks


@parametrize_with_checks(SklearnFramework())
def test_sklearn(check: Any) -> None:
    check()


@parametrize_with_checks(DartsFramework(), estimator="ExponentialSmoothing")
def test_darts(check: Any) -> None:
    check()


@parametrize_with_checks(TransformersFramework(), params={"epochs": 1, "max_length": 16})
def test_transformers(check: Any) -> None:
    check()


@parametrize_with_checks(HelloFramework())
def test_example_plugin(check: Any) -> None:
    check()


@pytest.mark.parametrize("task", [classification.Classification(), regression.Regression(),
                                  clustering.Clustering(), text_classification.TextClassification(),
                                  forecasting.Forecasting()], ids=lambda t: t.name)
def test_builtin_tasks(task: Any) -> None:
    from kampai.testing import check_task

    check_task(task)


class _Careless(Framework):
    """Breaks the contract in the ways the kit is for: a raw error for a bad param, a model
    that forgets itself on save, an empty folder loaded without a word."""

    name = "careless"
    tasks = ("classification",)

    def default_estimator(self, task: Any) -> str:
        return "majority"

    def build(self, task: Any, model_cfg: dict, data: Any, ctx: Any) -> dict:
        return {"label": None, **model_cfg.get("params", {})}

    def fit(self, model: dict, data: Any, task: Any) -> dict:
        if "no_such_param_kampai_check" in model:
            raise TypeError("unexpected keyword")
        model["label"] = data.y.mode().iloc[0]
        return model

    def predict(self, model: dict, data: Any, task: Any) -> Prediction:
        return Prediction(y=[model["label"]] * len(data))

    def save(self, model: dict, path: Any) -> None:
        (path / "nothing.txt").write_text("")

    def load(self, path: Any) -> dict:
        return {"label": "a class it never saw"}


def test_the_kit_catches_broken_frameworks() -> None:
    results = {}
    for check in framework_checks(_Careless()):
        try:
            check()
            results[check.name.rsplit(":", 1)[1]] = "ok"
        except AssertionError as exc:
            results[check.name.rsplit(":", 1)[1]] = str(exc)
    assert results["contract"] == "ok" and results["fit_predict"] == "ok"
    assert "raised TypeError" in results["unknown_param"] and "not a KampaiError" in results["unknown_param"]
    assert "predicts differently" in results["save_load"]
    assert "returned a model" in results["load_errors"]
    with pytest.raises(AssertionError, match="careless"):
        check_framework(_Careless())


def test_the_kit_refuses_an_undeclared_capability() -> None:
    class Sneaky(HelloFramework):
        name = "sneaky"

        def default_search_space(self, estimator: str, task: Any) -> dict:
            return {}

    with pytest.raises(AssertionError, match="does not declare capability 'search_space'"):
        framework_checks(Sneaky())[0]()
