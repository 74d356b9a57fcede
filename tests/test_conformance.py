"""The conformance kit (kampai.testing) run on every built-in framework and task and on the
example third-party plugin, as a plugin author runs it on theirs; plus proof that the
checks catch what they are for."""

from __future__ import annotations

from typing import Any

import pytest
from kampai_hello import HelloFramework

import kampai
from kampai.plugin import Framework, Prediction
from kampai.plugins.darts.framework import DartsFramework
from kampai.plugins.sklearn.framework import SklearnFramework
from kampai.plugins.transformers.framework import TransformersFramework
from kampai.tasks import classification, clustering, forecasting, regression, text_classification
from kampai.testing import check_framework, framework_checks, parametrize_with_checks, register_plugin


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
    assert "kampai.load_run" in results["engine_round_trip"]  # trained by the engine, reloaded wrong
    with pytest.raises(AssertionError, match="careless"):
        check_framework(_Careless())


def test_the_kit_refuses_an_undeclared_capability() -> None:
    class Sneaky(HelloFramework):
        name = "sneaky"

        def default_search_space(self, estimator: str, task: Any) -> dict:
            return {}

    with pytest.raises(AssertionError, match="does not declare capability 'search_space'"):
        framework_checks(Sneaky())[0]()


#: what _Careless gets wrong, as a plugin author lists the checks their framework fails for now
_CARELESS_FAILS = {f"careless:classification:{name}": "careless on purpose" for name in
                   ("save_load", "unknown_param", "load_errors", "engine_round_trip", "labels_int", "labels_bool",
                    "labels_str", "labels_category")}


@parametrize_with_checks(_Careless(), expected_failed_checks=_CARELESS_FAILS)
def test_expected_failed_checks_are_strict_xfails(check: Any) -> None:
    check()


def test_expected_failed_checks_are_skipped_and_checked_by_name() -> None:
    marked = {c.name for c in framework_checks(_Careless(), expected_failed_checks=_CARELESS_FAILS)
              if c.expected_failure}
    assert marked == set(_CARELESS_FAILS)
    check_framework(_Careless(), expected_failed_checks=_CARELESS_FAILS)  # the rest passes
    with pytest.raises(ValueError, match="careless:classification:labels_float"):
        framework_checks(_Careless(), expected_failed_checks={"careless:classification:labels_float": "typo"})


def test_the_label_check_catches_labels_as_text() -> None:
    """fast.ai's old way: an int 0/1 target predicted as the strings '0'/'1'."""

    class AsText(_Careless):
        name = "astext"

        def predict(self, model: dict, data: Any, task: Any) -> Prediction:
            return Prediction(y=[str(model["label"])] * len(data))

    check = next(c for c in framework_checks(AsText()) if c.name.endswith("labels_int"))
    with pytest.raises(AssertionError, match="str labels for a int target"):
        check()


def test_register_plugin_adds_a_framework_for_the_block_only(tmp_path: Any) -> None:
    from kampai.core.host import get_host

    class Renamed(HelloFramework):
        name = "hello-inline"

    class Plugin:
        @kampai.hookimpl
        def kampai_register_frameworks(self, registry: Any) -> None:
            registry.add(Renamed())

    assert "hello-inline" not in get_host().frameworks()
    with register_plugin(Plugin(), "inline") as plugin:
        assert isinstance(plugin, Plugin)
        assert isinstance(get_host().frameworks().get("hello-inline"), Renamed)
        run = kampai.train(task="classification", framework="hello-inline", data="sklearn:iris",
                           output={"runs_dir": str(tmp_path)}, verbose=False,
                           overrides=["tracking.enabled=false"])
        assert run.metrics["accuracy"] > 0.5
    assert "hello-inline" not in get_host().frameworks()
    assert "inline" not in get_host().infos
    with pytest.raises(RuntimeError), register_plugin(Plugin(), "inline"):  # the name is free again
        assert "hello-inline" in get_host().frameworks()
        raise RuntimeError("a failing test body")
    assert "hello-inline" not in get_host().frameworks()  # unregistered all the same
