"""Every hook of kampai.core.hookspecs, fired for real by an inline plugin.

Each ``test_hook_<name>`` proves that hook is called, when, and with what (the guard rail in
test_guardrails.py checks that every hook has such a test).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import kampai
from helpers import invoke, leftovers, no_tracker, write_distribution  # noqa: F401  (autouse)
from kampai import hookimpl
from kampai.core.host import get_host
from kampai.plugin import Framework, Metric, PluginError, Prediction

LIFECYCLE = [
    "before_train", "after_train", "on_train_error", "before_fit", "after_fit", "on_fit_error",
    "before_evaluate", "after_evaluate", "on_evaluate_error", "before_predict", "after_predict",
    "on_predict_error", "before_serialize", "after_serialize", "on_serialize_error",
]

ODD_MODELS = '''
from sklearn.base import BaseEstimator, ClassifierMixin


class FitBoom(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        raise RuntimeError("fit boom")


class PredictBoom(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = sorted(set(y))
        return self

    def predict(self, X):
        raise RuntimeError("predict boom")


class Unpicklable(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.first_ = list(y)[0]
        self.helper_ = lambda: 0  # cannot be pickled: saving the model fails
        return self

    def predict(self, X):
        return [self.first_] * len(X)
'''


class Recorder:
    """Implements every lifecycle hook and records what it receives."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _record(self, name: str, ctx: Any, **kwargs: Any) -> None:
        tmp_exists = ctx.run_dir.exists()
        self.calls.append((name, {"fold": ctx.fold, "run_dir": ctx.run_dir, "run_dir_exists": tmp_exists,
                                  "ctx": ctx, **kwargs}))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for hook, kwargs in self.calls if hook == name]

    def order(self) -> list[str]:
        return [hook for hook, _ in self.calls]

    @hookimpl
    def kampai_before_train(self, ctx): self._record("before_train", ctx)

    @hookimpl
    def kampai_after_train(self, ctx, run): self._record("after_train", ctx, run=run)

    @hookimpl
    def kampai_on_train_error(self, ctx, error): self._record("on_train_error", ctx, error=error)

    @hookimpl
    def kampai_before_fit(self, ctx, data): self._record("before_fit", ctx, data=data)

    @hookimpl
    def kampai_after_fit(self, ctx, model, seconds): self._record("after_fit", ctx, model=model, seconds=seconds)

    @hookimpl
    def kampai_on_fit_error(self, ctx, error): self._record("on_fit_error", ctx, error=error)

    @hookimpl
    def kampai_before_evaluate(self, ctx, data): self._record("before_evaluate", ctx, data=data)

    @hookimpl
    def kampai_after_evaluate(self, ctx, metrics): self._record("after_evaluate", ctx, metrics=metrics)

    @hookimpl
    def kampai_on_evaluate_error(self, ctx, error): self._record("on_evaluate_error", ctx, error=error)

    @hookimpl
    def kampai_before_predict(self, ctx, data): self._record("before_predict", ctx, data=data)

    @hookimpl
    def kampai_after_predict(self, ctx, prediction): self._record("after_predict", ctx, prediction=prediction)

    @hookimpl
    def kampai_on_predict_error(self, ctx, error): self._record("on_predict_error", ctx, error=error)

    @hookimpl
    def kampai_before_serialize(self, ctx, path): self._record("before_serialize", ctx, path=path)

    @hookimpl
    def kampai_after_serialize(self, ctx, path, size_bytes):
        self._record("after_serialize", ctx, path=path, size_bytes=size_bytes)

    @hookimpl
    def kampai_on_serialize_error(self, ctx, error): self._record("on_serialize_error", ctx, error=error)


@pytest.fixture
def recorder() -> Recorder:
    rec = Recorder()
    get_host().register(rec, "recorder")
    return rec


@pytest.fixture
def cv_run(recorder: Recorder):
    """Iris, 3-fold CV then a refit: 4 fits, 3 predicts, 3+1 evaluations, one save."""
    run = kampai.train(task="classification", data="sklearn:iris", params={"n_estimators": 5},
                       split={"method": "stratified_kfold", "folds": 3}, verbose=False)
    return run, recorder


@pytest.fixture
def odd_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "odd_models.py").write_text(textwrap.dedent(ODD_MODELS))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "odd_models"


def test_inline_plugin_sees_every_lifecycle_hook_in_order(cv_run) -> None:
    _run, rec = cv_run
    order = rec.order()
    assert order[0] == "before_train" and order[-1] == "after_train"
    per_fold = ["before_fit", "after_fit", "before_predict", "after_predict", "before_evaluate", "after_evaluate"]
    assert order[1:1 + 3 * len(per_fold)] == per_fold * 3
    assert order[1 + 3 * len(per_fold):] == ["before_fit", "after_fit", "after_evaluate", "before_serialize",
                                             "after_serialize", "after_train"]
    assert not [h for h in order if h.startswith("on_")]
    listed = {p["name"]: p for p in invoke("plugins", "list", "--json").json()}
    assert "kampai_before_fit" in listed["recorder"]["hooks"]


def test_hook_kampai_before_train(cv_run) -> None:
    _run, rec = cv_run
    [call] = rec.named("before_train")
    assert call["run_dir"].name.startswith(".tmp-") and call["run_dir_exists"]
    assert call["ctx"].config["split"]["method"] == "stratified_kfold"
    assert call["ctx"].task.name == "classification" and call["ctx"].framework.name == "sklearn"


def test_hook_kampai_after_train(cv_run) -> None:
    run, rec = cv_run
    [call] = rec.named("after_train")
    assert call["run"].run_id == run.run_id and call["run"].metrics == run.metrics
    assert call["run_dir"] == Path(run.run_dir) and (call["run_dir"] / "meta.json").is_file()


def test_hook_kampai_before_fit(cv_run) -> None:
    _, rec = cv_run
    calls = rec.named("before_fit")
    assert [c["fold"] for c in calls] == [0, 1, 2, None]
    assert [len(c["data"]) for c in calls] == [100, 100, 100, 150]


def test_hook_kampai_after_fit(cv_run) -> None:
    _, rec = cv_run
    calls = rec.named("after_fit")
    assert [c["fold"] for c in calls] == [0, 1, 2, None]
    assert all(c["seconds"] > 0 for c in calls)
    assert all(len(c["model"][-1].estimators_) == 5 for c in calls)  # fitted models


def test_hook_kampai_before_predict(cv_run) -> None:
    _, rec = cv_run
    assert [len(c["data"]) for c in rec.named("before_predict")] == [50, 50, 50]


def test_hook_kampai_after_predict(cv_run) -> None:
    _, rec = cv_run
    for call in rec.named("after_predict"):
        prediction = call["prediction"]
        assert isinstance(prediction, Prediction)
        assert len(prediction.y) == 50 and prediction.proba.shape == (50, 3)
        assert prediction.classes == ["setosa", "versicolor", "virginica"]


def test_hook_kampai_before_evaluate(cv_run) -> None:
    _, rec = cv_run
    calls = rec.named("before_evaluate")
    assert [c["fold"] for c in calls] == [0, 1, 2]
    assert all(c["data"].y is not None for c in calls)


def test_hook_kampai_after_evaluate(cv_run) -> None:
    run, rec = cv_run
    calls = rec.named("after_evaluate")
    assert [c["fold"] for c in calls] == [0, 1, 2, None]
    assert "accuracy_std" not in calls[0]["metrics"]
    assert calls[-1]["metrics"] == run.metrics and "accuracy_std" in calls[-1]["metrics"]


def test_hook_kampai_before_serialize(cv_run) -> None:
    _, rec = cv_run
    [call] = rec.named("before_serialize")
    assert call["path"].name == "model" and call["path"].parent.name.startswith(".tmp-")
    assert call["path"].is_dir() is False  # the tmp folder was renamed into place since


def test_hook_kampai_after_serialize(cv_run) -> None:
    run, rec = cv_run
    [call] = rec.named("after_serialize")
    assert call["size_bytes"] == run.meta["model_size_bytes"] > 0


def test_evaluate_and_predict_of_a_saved_run_fire_hooks(cv_run) -> None:
    run, rec = cv_run
    rec.calls.clear()
    frame = kampai.load_run(run.run_dir)
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True).data
    frame.predict(data)
    assert rec.order() == ["before_predict", "after_predict"]
    rec.calls.clear()
    labelled = data.assign(target=["x"] * 150)
    frame.evaluate(labelled.assign(target=np.where(np.arange(150) < 50, "setosa", "virginica")))
    assert rec.order() == ["before_predict", "after_predict", "before_evaluate", "after_evaluate"]


def test_hook_kampai_on_fit_error(recorder: Recorder, odd_models: str) -> None:
    with pytest.raises(RuntimeError, match="fit boom"):
        kampai.train(task="classification", data="sklearn:iris", model=f"{odd_models}.FitBoom", verbose=False)
    [call] = recorder.named("on_fit_error")
    assert isinstance(call["error"], RuntimeError) and call["fold"] is None
    assert not recorder.named("after_fit")


def test_hook_kampai_on_train_error(recorder: Recorder, odd_models: str) -> None:
    with pytest.raises(RuntimeError, match="fit boom"):
        kampai.train(task="classification", data="sklearn:iris", model=f"{odd_models}.FitBoom", verbose=False)
    [call] = recorder.named("on_train_error")
    assert isinstance(call["error"], RuntimeError)
    assert not call["run_dir_exists"]  # the temporary folder is already removed
    assert recorder.order()[-1] == "on_train_error" and not recorder.named("after_train")
    assert leftovers(Path("runs")) == []


def test_hook_kampai_on_predict_error(recorder: Recorder, odd_models: str) -> None:
    with pytest.raises(RuntimeError, match="predict boom"):
        kampai.train(task="classification", data="sklearn:iris", model=f"{odd_models}.PredictBoom",
                     verbose=False)
    [call] = recorder.named("on_predict_error")
    assert str(call["error"]) == "predict boom"
    assert recorder.order()[-2:] == ["on_predict_error", "on_train_error"]


def test_hook_kampai_on_evaluate_error(recorder: Recorder) -> None:
    def explode(y: Any, p: Prediction, X: Any) -> float:
        raise ZeroDivisionError("metric boom")

    class Metrics:
        @hookimpl
        def kampai_register_metrics(self, registry):
            registry.add(Metric("explode", explode, ("classification",)))

    get_host().register(Metrics(), "explosive-metric")
    with pytest.raises(ZeroDivisionError):
        kampai.train(task="classification", data="sklearn:iris", metrics=["accuracy", "explode"], verbose=False)
    [call] = recorder.named("on_evaluate_error")
    assert isinstance(call["error"], ZeroDivisionError)


def test_hook_kampai_on_serialize_error(recorder: Recorder, odd_models: str) -> None:
    with pytest.raises(Exception, match=r"(?i)pickl|lambda"):
        kampai.train(task="classification", data="sklearn:iris", model=f"{odd_models}.Unpicklable",
                     verbose=False)
    [call] = recorder.named("on_serialize_error")
    assert call["error"] is not None
    assert recorder.named("before_serialize") and not recorder.named("after_serialize")
    assert leftovers(Path("runs")) == []


# ---------------------------------------------------------------------------------------
# Registration hooks: one inline plugin adds a task, a framework, an estimator, a dataset,
# a split, a metric and a serializer, and the engine uses each of them.
# ---------------------------------------------------------------------------------------


class MeanModel:
    """Predicts the training mean (a framework of its own, not scikit-learn)."""

    def fit(self, X: Any, y: Any) -> MeanModel:
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X: Any) -> Any:
        return np.full(len(X), self.mean_)


class MeanFramework(Framework):
    name = "meanfw"
    description = "predicts the mean"
    tasks = ("mean-regression",)

    def default_estimator(self, task): return "Mean"

    def build(self, task, model_cfg, data, ctx): return MeanModel()

    def fit(self, model, data, task): return model.fit(data.X, data.y)

    def predict(self, model, data, task): return Prediction(y=model.predict(data.X))

    def save(self, model, path): (path / "mean.json").write_text(json.dumps({"mean": model.mean_}))

    def load(self, path):
        model = MeanModel()
        model.mean_ = json.loads((path / "mean.json").read_text())["mean"]
        return model


def _tiny() -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(40.0), "z": np.arange(40.0) % 3, "y": np.arange(40.0) * 2 + 1})


def _first_half(data: Any, cfg: dict) -> list:
    n = len(data)
    return [(np.arange(n // 2), np.arange(n // 2, n))]


def _max_abs_error(y: Any, p: Prediction, X: Any) -> float:
    return float(np.max(np.abs(np.asarray(y) - np.asarray(p.y))))


def _pickle_save(model: Any, path: Path) -> None:
    (path / "model.pkl").write_bytes(pickle.dumps(model))


def _pickle_load(path: Path) -> Any:
    return pickle.loads((path / "model.pkl").read_bytes())


def _example_save(model: Any, path: Path, example: Any) -> None:
    """A serializer that asks for an example: records what it was given."""
    _pickle_save(model, path)
    (path / "example.json").write_text(json.dumps({"type": type(example).__name__, "rows": len(example),
                                                   "columns": list(example.X.columns)}))


class Extras:
    @hookimpl
    def kampai_register_tasks(self, registry):
        from kampai.tasks.regression import Regression

        class MeanRegression(Regression):
            name = "mean-regression"
            description = "regression for the mean framework"
            default_metrics = ("max_abs_error",)

        registry.add(MeanRegression())

    @hookimpl
    def kampai_register_frameworks(self, registry):
        registry.add(MeanFramework())

    @hookimpl
    def kampai_register_estimators(self, registry):
        registry.add("MyRidge", "sklearn.linear_model:Ridge", kind="regressor")

    @hookimpl
    def kampai_register_datasets(self, registry):
        registry.add("test:tiny", _tiny, task="regression", target="y", description="40 rows, y = 2x + 1")

    @hookimpl
    def kampai_register_splitters(self, registry):
        registry.add("first_half", _first_half, cv=False, description="train on the first half")

    @hookimpl
    def kampai_register_metrics(self, registry):
        registry.add(Metric("max_abs_error", _max_abs_error, ("regression", "mean-regression"),
                            greater_is_better=False))

    @hookimpl
    def kampai_register_serializers(self, registry):
        from kampai.core.registry import Serializer

        registry.add(Serializer("pickle-test", _pickle_save, _pickle_load, ("sklearn",), "plain pickle"))
        registry.add(Serializer("example-test", _example_save, _pickle_load, ("sklearn",), "pickle + example",
                                example=True))


@pytest.fixture
def extras() -> Extras:
    plugin = Extras()
    get_host().register(plugin, "extras")
    return plugin


def test_hook_kampai_register_tasks(extras: Extras) -> None:
    tasks = {t["name"]: t for t in invoke("tasks", "list", "--json").json()}
    assert tasks["mean-regression"]["plugin"] == "extras"
    assert "mean-regression" in next(p for p in invoke("plugins", "list", "--json").json()
                                 if p["name"] == "extras")["provides"]["tasks"]


def test_hook_kampai_register_frameworks(extras: Extras) -> None:
    run = kampai.train(task="mean-regression", framework="meanfw", data="test:tiny", verbose=False)
    preds = pd.read_csv(Path(run.run_dir) / "predictions.csv")
    train_rows = _tiny().drop(index=preds["row"])
    assert run.model.mean_ == pytest.approx(train_rows["y"].mean())
    assert (preds["prediction"] == run.model.mean_).all()
    assert kampai.load_run(run.run_dir).model.mean_ == run.model.mean_
    assert set(run.metrics) == {"max_abs_error", "baseline_max_abs_error"}  # its own metric; Regression's baseline
    result = invoke("train", "--task", "regression", "--framework", "meanfw", "--data", "test:tiny")
    assert result.code == 2 and "does not support task 'regression'" in result.stderr


def test_hook_kampai_register_estimators(extras: Extras) -> None:
    run = kampai.train(task="regression", data="sklearn:diabetes", model="MyRidge", params={"alpha": 0.1},
                       verbose=False)
    assert type(run.model[-1]).__name__ == "Ridge" and run.model[-1].alpha == 0.1
    listing = {e["name"]: e for e in invoke("estimators", "list", "--type", "regressor", "--json").json()}
    assert listing["MyRidge"]["path"] == "sklearn.linear_model.Ridge"


def test_hook_kampai_register_datasets(extras: Extras) -> None:
    datasets = {d["name"]: d for d in invoke("datasets", "list", "--json").json()}
    assert datasets["test:tiny"] == {"name": "test:tiny", "task": "regression", "target": "y",
                                     "description": "40 rows, y = 2x + 1", "plugin": "extras"}
    run = kampai.train(task="regression", data="test:tiny", model="LinearRegression", verbose=False)
    assert run.metrics["r2"] == pytest.approx(1.0)


def test_hook_kampai_register_splitters(extras: Extras) -> None:
    run = kampai.train(task="regression", data="test:tiny", model="LinearRegression",
                       split={"method": "first_half"}, verbose=False)
    rows = pd.read_csv(Path(run.run_dir) / "predictions.csv")["row"]
    assert list(rows) == list(range(20, 40))
    assert {"name": "first_half", "cv": False, "description": "train on the first half"} in invoke(
        "splits", "list", "--json").json()


def test_hook_kampai_register_metrics(extras: Extras) -> None:
    run = kampai.train(task="regression", data="test:tiny", model="DummyRegressor",
                       metrics=["max_abs_error", "rmse"], verbose=False)
    preds = pd.read_csv(Path(run.run_dir) / "predictions.csv")
    assert run.metrics["max_abs_error"] == pytest.approx((preds["target"] - preds["prediction"]).abs().max())
    names = {m["name"] for m in invoke("metrics", "list", "--task", "mean-regression", "--json").json()}
    assert names == {"max_abs_error"}


def test_hook_kampai_register_serializers(extras: Extras) -> None:
    run = kampai.train(task="regression", data="test:tiny", model="LinearRegression",
                       output={"serializer": "pickle-test"}, verbose=False)
    assert (Path(run.run_dir) / "model" / "model.pkl").is_file()
    again = kampai.load_run(run.run_dir)
    assert list(again.predict(_tiny())["prediction"]) == pytest.approx(list(_tiny()["y"]))
    # example=True: save(model, path, example) gets the training rows as TaskData (40 here)
    run = kampai.train(task="regression", data="test:tiny", model="LinearRegression",
                       output={"serializer": "example-test"}, verbose=False)
    got = json.loads((Path(run.run_dir) / "model" / "example.json").read_text())
    assert got == {"type": "TaskData", "rows": 40, "columns": ["x", "z"]}


def test_hook_kampai_resolve_run(extras: Extras) -> None:
    run = kampai.train(task="regression", data="test:tiny", model="LinearRegression", verbose=False)

    class Aliases:
        @hookimpl
        def kampai_resolve_run(self, ref):
            return Path(run.run_dir) if ref == "tiny@latest" else None

    get_host().register(Aliases(), "aliases")
    assert kampai.load_run("tiny@latest").run_id == run.run_id
    result = invoke("predict", "tiny@latest", "--data", "test:tiny")
    assert result.code == 0, result.stderr
    assert invoke("predict", "other@latest", "--data", "test:tiny").code == 2


def test_hook_kampai_sync_runs() -> None:
    seen: list[tuple[Path, str | None]] = []

    class Tracker:
        @hookimpl
        def kampai_sync_runs(self, runs_dir, tracking_uri):
            seen.append((runs_dir, tracking_uri))
            return ["run-a", "run-b"]

    get_host().register(Tracker(), "fake-tracker")
    result = invoke("runs", "sync", "--runs-dir", "somewhere", "--tracking-uri", "file:///tmp/x")
    assert result.code == 0, result.stderr
    assert "Pushed 2 run(s): run-a, run-b" in result.stdout
    assert seen == [(Path("somewhere"), "file:///tmp/x")]


COMMANDS_PLUGIN = '''
import typer

from kampai import hookimpl

greet = typer.Typer(help="Say hello (a plugin command).")


@greet.command("say")
def say(name: str = "world") -> None:
    typer.echo(f"hello {name}")


@hookimpl
def kampai_register_commands(app):
    app.add_typer(greet, name="greet")
'''


def test_hook_kampai_register_commands(tmp_path: Path) -> None:
    site = write_distribution(tmp_path / "site", "kampai-greet", {"greet": "kampai_greet"},
                              {"kampai_greet": COMMANDS_PLUGIN})
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-m", "kampai", "greet", "say", "--name", "kampai"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello kampai"
    helped = subprocess.run([sys.executable, "-m", "kampai", "--help"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert "greet" in helped.stdout


# ---------------------------------------------------------------------------------------
# Tune hooks: one small study (3 trials of a logistic regression on iris) observed once.
# ---------------------------------------------------------------------------------------

SEARCH_C = "model.search.C={type: float, low: 0.01, high: 10, log: true}"


class TuneRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def named(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for hook, kwargs in self.calls if hook == name]

    @hookimpl
    def kampai_before_tune(self, ctx, study):
        self.calls.append(("before_tune", {"ctx": ctx, "trials_before": len(study.trials)}))

    @hookimpl
    def kampai_after_trial(self, ctx, trial, metrics):
        self.calls.append(("after_trial", {"trial": trial, "metrics": metrics}))

    @hookimpl
    def kampai_after_tune(self, ctx, study, best):
        self.calls.append(("after_tune", {"study": study, "best": best}))

    @hookimpl
    def kampai_on_tune_error(self, ctx, error):
        self.calls.append(("on_tune_error", {"error": error}))


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory):
    """Runs outside the per-test fixtures (module scope): sets its own folder and plugins."""
    pytest.importorskip("optuna")  # the 'tune' extra
    from kampai.core import host as plugins
    from kampai.core.tuning import tune

    old_cwd, old_block = os.getcwd(), os.environ.get("KAMPAI_BLOCK_PLUGINS")
    os.chdir(tmp_path_factory.mktemp("tune"))
    os.environ["KAMPAI_BLOCK_PLUGINS"] = "mlflow"
    plugins.reset()
    rec = TuneRecorder()
    try:
        get_host().register(rec, "tune-recorder")
        cfg = kampai.config(task="classification", data="sklearn:iris", model="LogisticRegression",
                            overrides=[SEARCH_C, "tune.trials=3", "tune.plots=false", "tune.study=hooks"])
        result = tune(cfg, verbose=False)
    finally:
        os.chdir(old_cwd)
        if old_block is None:
            os.environ.pop("KAMPAI_BLOCK_PLUGINS", None)
        else:
            os.environ["KAMPAI_BLOCK_PLUGINS"] = old_block
        plugins.reset()
    return result, rec


def test_hook_kampai_before_tune(tuned) -> None:
    _, rec = tuned
    [call] = rec.named("before_tune")
    assert call["trials_before"] == 0
    assert call["ctx"].run_id == "hooks" and "C" in call["ctx"].config["model"]["search"]
    assert rec.calls[0][0] == "before_tune"


def test_hook_kampai_after_trial(tuned) -> None:
    _, rec = tuned
    calls = rec.named("after_trial")
    assert sorted(c["trial"].number for c in calls) == [0, 1, 2]
    for call in calls:
        assert 0.01 <= call["trial"].params["C"] <= 10
        assert "accuracy" in call["metrics"]  # trials score the objective (tune.trial_metrics)
        assert call["trial"].value == pytest.approx(call["metrics"]["accuracy"])


def test_hook_kampai_after_tune(tuned) -> None:
    _, rec = tuned
    [call] = rec.named("after_tune")
    assert rec.calls[-1][0] == "after_tune"
    values = [c["trial"].value for c in rec.named("after_trial")]
    assert call["best"].value == max(values)
    assert len(call["study"].trials) == 3
    assert not rec.named("on_tune_error")


FAILING_SEARCHABLE = '''
from sklearn.base import BaseEstimator, ClassifierMixin


class AlwaysFails(ClassifierMixin, BaseEstimator):
    def __init__(self, x=1.0):
        self.x = x

    def fit(self, X, y):
        raise RuntimeError("this estimator never fits")
'''


def test_hook_kampai_on_tune_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("optuna")
    from kampai.core.tuning import tune

    (tmp_path / "failing_searchable.py").write_text(textwrap.dedent(FAILING_SEARCHABLE))
    monkeypatch.syspath_prepend(str(tmp_path))
    rec = TuneRecorder()
    get_host().register(rec, "tune-recorder")
    cfg = kampai.config(task="classification", data="sklearn:iris", model="failing_searchable.AlwaysFails",
                        overrides=["model.search.x={type: float, low: 0, high: 1}", "tune.trials=5",
                                   "tune.max_failures=2", "tune.plots=false"])
    with pytest.raises(Exception, match="2 trials in a row failed"):
        tune(cfg, verbose=False)
    [call] = rec.named("on_tune_error")
    assert "never fits" in str(call["error"])
    assert len(rec.named("after_trial")) == 2 and not rec.named("after_tune")


# ---------------------------------------------------------------------------------------
# Every hook is called through pluggy: wrappers, tryfirst/trylast and tracing apply, and a
# failing observer is still isolated (kampai.core.hookcalls).
# ---------------------------------------------------------------------------------------


class Around:
    """A new-style wrapper of ``kampai_after_fit`` and ``kampai_before_train``, recording
    when it runs relative to the plain implementations."""

    def __init__(self, events: list[tuple[str, Any]]) -> None:
        self.events = events

    @hookimpl(wrapper=True)
    def kampai_after_fit(self, ctx, model, seconds):
        self.events.append(("wrap-before", ctx.fold))
        result = yield
        self.events.append(("wrap-after", ctx.fold))
        return result

    @hookimpl(wrapper=True)
    def kampai_before_train(self, ctx):
        self.events.append(("wrap-before", "train"))
        yield
        self.events.append(("wrap-after", "train"))


class Inner:
    def __init__(self, events: list[tuple[str, Any]]) -> None:
        self.events = events

    @hookimpl
    def kampai_after_fit(self, ctx, model, seconds):
        self.events.append(("inner", ctx.fold))

    @hookimpl
    def kampai_before_train(self, ctx):
        self.events.append(("inner", "train"))


def test_a_wrapper_of_a_lifecycle_hook_runs_around_the_call() -> None:
    events: list[tuple[str, Any]] = []
    get_host().register(Around(events), "around")
    get_host().register(Inner(events), "inner")
    kampai.train(task="classification", data="sklearn:iris", params={"n_estimators": 5},
                 split={"method": "stratified_kfold", "folds": 2}, verbose=False)
    expected = [("wrap-before", "train"), ("inner", "train"), ("wrap-after", "train")]
    for fold in (0, 1, None):
        expected += [("wrap-before", fold), ("inner", fold), ("wrap-after", fold)]
    assert events == expected


def test_tryfirst_and_trylast_order_a_lifecycle_hook() -> None:
    order: list[str] = []

    def plugin(name: str, **opts: bool) -> Any:
        class Observer:
            @hookimpl(**opts)
            def kampai_after_train(self, ctx, run):
                order.append(name)

        return Observer()

    # registered last-first of what pluggy would call without the options
    get_host().register(plugin("last", trylast=True), "obs-last")
    get_host().register(plugin("first", tryfirst=True), "obs-first")
    get_host().register(plugin("middle-a"), "obs-middle-a")
    get_host().register(plugin("middle-b"), "obs-middle-b")
    kampai.train(task="classification", data="sklearn:iris", params={"n_estimators": 5}, verbose=False)
    assert order == ["first", "middle-b", "middle-a", "last"]


def test_a_failing_observer_inside_a_wrapper_is_isolated(capsys: pytest.CaptureFixture[str]) -> None:
    """The failing implementation is reported once, naming its plugin; the wrapper around it
    and the other observers still run, and the run is written."""
    events: list[tuple[str, Any]] = []

    class Failing:
        @hookimpl(tryfirst=True)
        def kampai_after_fit(self, ctx, model, seconds):
            raise ValueError("observer down")

    class FailingWrapper:
        @hookimpl(wrapper=True)
        def kampai_before_train(self, ctx):
            raise RuntimeError("wrapper down")
            yield  # (unreachable: a generator whose setup fails)

    get_host().register(Around(events), "around")
    get_host().register(Inner(events), "inner")
    get_host().register(Failing(), "failing")
    get_host().register(FailingWrapper(), "failing-wrapper")
    run = kampai.train(task="classification", data="sklearn:iris", params={"n_estimators": 5}, verbose=False)
    assert (Path(run.run_dir) / "meta.json").is_file()
    assert [e for e in events if e[1] is None] == [("wrap-before", None), ("inner", None), ("wrap-after", None)]
    assert [e for e in events if e[1] == "train"] == [("wrap-before", "train"), ("inner", "train"),
                                                       ("wrap-after", "train")]
    err = capsys.readouterr().err
    assert "plugin 'failing' failed in kampai_after_fit (ValueError: observer down)" in err
    assert "plugin 'failing-wrapper' failed in kampai_before_train (RuntimeError: wrapper down)" in err


def test_strict_plugins_stops_at_a_failing_wrapper() -> None:
    class FailingWrapper:
        @hookimpl(wrapper=True)
        def kampai_after_train(self, ctx, run):
            yield
            raise RuntimeError("teardown down")

    get_host().register(FailingWrapper(), "failing-wrapper")
    get_host().strict = True
    try:
        with pytest.raises(PluginError, match="plugin 'failing-wrapper' failed in kampai_after_train"):
            kampai.train(task="classification", data="sklearn:iris", params={"n_estimators": 5}, verbose=False)
    finally:
        get_host().strict = False


@pytest.mark.parametrize("opts", [{"tryfirst": True}, {"trylast": True}, {"wrapper": True}])
def test_what_a_registration_hook_cannot_honour_is_refused_at_registration(opts: dict[str, bool]) -> None:
    """Registration hooks run plugin by plugin in registration order (the first plugin to
    register a name keeps it): an option that would change that is refused, naming the
    plugin and the hook, and nothing is registered."""

    class Pushy:
        @hookimpl(**opts)
        def kampai_register_tasks(self, registry):
            yield  # (a wrapper must be a generator)

    with pytest.raises(PluginError) as caught:
        get_host().register(Pushy(), "pushy")
    message = str(caught.value)
    assert "'pushy'" in message and "'kampai_register_tasks'" in message and next(iter(opts)) in message
    assert get_host().pm.get_plugin("pushy") is None


TRACED_PLUGIN = '''
from kampai import hookimpl


@hookimpl
def kampai_after_fit(ctx, model, seconds):
    pass


@hookimpl(wrapper=True)
def kampai_after_train(ctx, run):
    return (yield)


@hookimpl
def kampai_after_evaluate(ctx, metrics):
    raise RuntimeError("observer down")
'''

#: what a cross-validated `runner train` calls, with how many times (3 folds + the refit)
TRAIN_CALLS = {
    "kampai_add_settings": None, "kampai_register_tasks": None, "kampai_register_frameworks": None,
    "kampai_register_datasets": None, "kampai_register_splitters": None, "kampai_register_metrics": None,
    "kampai_register_serializers": None, "kampai_register_estimators": None,
    "kampai_before_train": 1, "kampai_before_fit": 4, "kampai_after_fit": 4, "kampai_before_predict": 3,
    "kampai_after_predict": 3, "kampai_before_evaluate": 3, "kampai_after_evaluate": 4,
    "kampai_before_serialize": 1, "kampai_after_serialize": 1, "kampai_after_train": 1,
}


def test_trace_plugins_prints_every_hook_call(tmp_path: Path) -> None:
    """``KAMPAI_TRACE_PLUGINS=1 runner train``: one stderr line per hook call, naming the
    plugins called (wrappers marked) and the time taken; a failing observer still only warns."""
    site = write_distribution(tmp_path / "site", "kampai-traced", {"traced": "kampai_traced"},
                              {"kampai_traced": TRACED_PLUGIN})
    env = {**os.environ, "KAMPAI_TRACE_PLUGINS": "1", "KAMPAI_BLOCK_PLUGINS": "mlflow",
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "kampai", "train", "--task", "classification", "--data",
                           "sklearn:iris", "-q", "split.method=stratified_kfold",
                           "split.folds=3", "model.params.n_estimators=5"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line.split("kampai trace:", 1)[1].split() for line in done.stderr.splitlines()
             if "kampai trace:" in line]
    called: dict[str, list[list[str]]] = {}
    for words in lines:
        called.setdefault(words[0], []).append(words[1:])
    missing = set(TRAIN_CALLS) - set(called)
    assert not missing, f"no trace line for {sorted(missing)}:\n{done.stderr}"
    for hook, times in TRAIN_CALLS.items():
        if times is not None:
            assert len(called[hook]) == times, (hook, called[hook])
    assert all(words[-2].replace(".", "").isdigit() and words[-1] == "ms" for words in lines)
    [after_train] = called["kampai_after_train"]
    assert "traced" in " ".join(after_train) and "(wrapper)" in " ".join(after_train)
    assert all("traced" in " ".join(c) for c in called["kampai_after_fit"])
    assert any(c[0] == "[tasks]" for c in called["kampai_register_tasks"])  # one line per plugin
    assert "plugin 'traced' failed in kampai_after_evaluate (RuntimeError: observer down)" in done.stderr
