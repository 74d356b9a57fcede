"""The conformance checks of a framework on one task: fit/predict, save/load, the engine
round trip, unknown params, load errors, and one check per declared capability."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kampai.core.contract import Framework, Prediction, Task, TaskData
from kampai.core.contract_checks import framework_problems
from kampai.core.errors import KampaiError
from kampai.testing._support import (
    _context,
    _example,
    _fail,
    _folder,
    _model_cfg,
    _registered,
    _rows,
    _same,
    _split,
    _task,
)


def _check_contract(framework: Framework, who: str) -> None:
    problems = framework_problems(framework)
    if problems:
        raise _fail(who, "; ".join(problems))
    for name in framework.tasks:
        try:
            _task(name)
        except KampaiError as exc:
            raise _fail(who, f"declares task '{name}', which no installed plugin provides ({exc})") from None


def _fitted(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None,
            who: str) -> tuple[Any, TaskData, TaskData, dict[str, Any]]:
    data, _ = _example(task, who)
    train, test = _split(task, data, {})
    model_cfg = _model_cfg(framework, task, params, estimator)
    model = framework.build(task, model_cfg, train, _context())
    model = framework.fit(model, train, task)
    if model is None:
        raise _fail(who, "fit() returned None: return the fitted model")
    return model, train, test, model_cfg


def _check_fit_predict(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None,
                       who: str) -> None:
    model, _train, test, _ = _fitted(framework, task, params, estimator, who)
    prediction = framework.predict(model, test, task)
    if not isinstance(prediction, Prediction):
        raise _fail(who, f"predict() returned {type(prediction).__name__}, not a kampai.plugin.Prediction")
    if prediction.proba is not None:
        if prediction.classes is None or len(prediction.classes) != prediction.proba.shape[1]:
            raise _fail(who, "predict() gives proba without one class name per column in classes")
        if prediction.proba.shape[0] != _rows(prediction):
            raise _fail(who, "predict() gives a proba row count that differs from its predictions")
    table = task.format_predictions(test, prediction)
    if not len(table):
        raise _fail(who, "the task's format_predictions() of the prediction is empty")


def _check_save_load(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None,
                     who: str) -> None:
    model, _train, test, _ = _fitted(framework, task, params, estimator, who)
    before = framework.predict(model, test, task)
    with _folder() as folder:
        path = folder / "model"
        path.mkdir()
        framework.save(model, path)
        if not any(path.iterdir()):
            raise _fail(who, "save() wrote nothing into the model folder")
        loaded = framework.load(path)
        after = framework.predict(loaded, test, task)
    if not _same(before, after):
        raise _fail(who, "the loaded model predicts differently from the model that was saved")


def _check_engine_round_trip(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None,
                              who: str) -> None:
    """Train through the engine (``kampai.train``) on the example, reopen the run folder
    (``kampai.load_run``) and predict: the reloaded run predicts what the trained one did."""
    import kampai

    example = task.example()
    if example is None:
        raise _fail(who, f"task '{task.name}' has no example() data to check with")
    frame, data_cfg = example
    flags = {f"data.{k}": v for k, v in dict(data_cfg).items()}
    with _registered(framework, who), _folder() as folder:
        run = kampai.train(data=frame, task=task.name, framework=framework.name,
                           model=estimator or framework.default_estimator(task), params=dict(params),
                           output={"runs_dir": str(folder / "runs")}, verbose=False,
                           overrides=_no_tracking(), **flags)
        before = run.predict(frame)
        after = kampai.load_run(run.run_dir).predict(frame)
    if not len(before):
        raise _fail(who, "the trained run predicts no rows for its own example data")
    if not _same_table(before, after):
        raise _fail(who, "the run reloaded from its folder (kampai.load_run) predicts differently from the "
                         "run kampai.train returned: load() does not give back the model save() wrote")


def _no_tracking() -> list[str]:
    """``tracking.enabled=false`` where a tracking plugin declares it: the check leaves no MLflow runs."""
    from kampai.core.host import get_host

    return ["tracking.enabled=false"] if "tracking.enabled" in get_host().settings() else []


def _same_table(a: Any, b: Any) -> bool:
    import numpy as np

    if list(a.columns) != list(b.columns) or a.shape != b.shape:
        return False
    for column in a.columns:
        x, y = a[column].to_numpy(), b[column].to_numpy()
        try:
            if not np.allclose(x.astype(float), y.astype(float), atol=1e-6, equal_nan=True):
                return False
        except (TypeError, ValueError):
            if [str(v) for v in x] != [str(v) for v in y]:
                return False
    return True


def _check_unknown_param(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None,
                         who: str) -> None:
    data, _ = _example(task, who)
    model_cfg = _model_cfg(framework, task, {**params, "no_such_param_kampai_check": 1}, estimator)
    try:
        model = framework.build(task, model_cfg, data, _context())
        framework.fit(model, data, task)
    except KampaiError:
        return
    except Exception as exc:
        raise _fail(who, f"an unknown model.params key raised {type(exc).__name__} ({exc}), not a "
                         "KampaiError (ConfigError with a did-you-mean)") from None
    raise _fail(who, "an unknown model.params key was accepted silently")


def _check_load_errors(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None,
                       who: str) -> None:
    with _folder() as folder:
        try:
            framework.load(folder)
        except KampaiError:
            return
        except Exception as exc:
            raise _fail(who, f"load() of an empty folder raised {type(exc).__name__} ({exc}), not a "
                             "KampaiError (RunError)") from None
    raise _fail(who, "load() of an empty folder returned a model")


def _check_search_space(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None,
                        who: str) -> None:
    from kampai.core.tuning.space import parse

    space = framework.default_search_space(estimator or framework.default_estimator(task), task)
    if not isinstance(space, dict):
        raise _fail(who, "default_search_space() must return a mapping (model.search format)")
    if space:
        try:
            parse(space)
        except KampaiError as exc:
            raise _fail(who, f"default_search_space() is not a valid model.search: {exc}") from None


def _check_cached_preprocessing(framework: Framework, task: Task, params: dict[str, Any],
                                estimator: str | None, who: str) -> None:
    data, _ = _example(task, who)
    train, test = _split(task, data, {})
    model = framework.build(task, _model_cfg(framework, task, params, estimator), train, _context())
    split = framework.split_preprocessing(model)
    if not (isinstance(split, tuple) and len(split) == 2):
        raise _fail(who, "split_preprocessing() must return (preprocessing, estimator)")
    pre, est = split
    if pre is None:
        return
    X_train = pre.fit_transform(train.X, train.y if task.needs_target else None)
    X_test = pre.transform(test.X)
    fitted = framework.fit(est, TaskData(X=X_train, y=train.y, info=train.info), task)
    prediction = framework.predict(fitted, TaskData(X=X_test, y=test.y, info=test.info), task)
    if _rows(prediction) != len(test):
        raise _fail(who, "the estimator of split_preprocessing() predicts a row count that differs from its input")


def _check_incremental(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None,
                       who: str) -> None:
    data, _ = _example(task, who)
    train, test = _split(task, data, {})
    model = framework.build(task, _model_cfg(framework, task, params, estimator), train, _context())
    steps: list[int] = []

    def report(step: int, current: Any) -> None:
        if not isinstance(step, int) or (steps and step <= steps[-1]):
            raise _fail(who, f"fit_incremental() reported step {step!r} after {steps}: steps are increasing ints")
        framework.predict(current, test, task)  # the model must predict at every step
        steps.append(step)

    fitted = framework.fit_incremental(model, train, task, report)
    if fitted is None:
        raise _fail(who, "fit_incremental() returned None: return the fitted model")
    framework.predict(fitted, test, task)

    class Stop(Exception):
        pass

    if steps:  # a report that raises stops the fit (a pruned trial): it must propagate
        model = framework.build(task, _model_cfg(framework, task, params, estimator), train, _context())

        def stop(step: int, current: Any) -> None:
            raise Stop

        try:
            framework.fit_incremental(model, train, task, stop)
        except Stop:
            return
        raise _fail(who, "fit_incremental() swallowed the exception its report raised (pruning cannot stop it)")


def _check_device(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None,
                  who: str) -> None:
    data, _ = _example(task, who)
    framework.build(task, _model_cfg(framework, task, params, estimator), data, _context())  # device="cpu"


def _check_inspect(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None,
                   who: str) -> None:
    import json

    data, _ = _example(task, who)
    train, test = _split(task, data, {})
    model = framework.fit(framework.build(task, _model_cfg(framework, task, params, estimator), train, _context()),
                          train, task)
    steps = framework.inspect(model, test)
    if not isinstance(steps, list):
        raise _fail(who, "inspect() must return a list of step records ([] without preprocessing)")
    for step in steps:
        missing = [k for k in ("name", "kind", "shape", "columns") if k not in step]
        if missing:
            raise _fail(who, f"inspect() gave a step without {', '.join(missing)}: {step!r:.200}")
        try:
            json.dumps(step)
        except (TypeError, ValueError) as exc:
            raise _fail(who, f"inspect() step '{step['name']}' is not JSON-able: {exc}") from None


_CAPABILITY_CHECKS: dict[str, Callable[..., None]] = {
    "search_space": _check_search_space,
    "inspect": _check_inspect,
    "cached_preprocessing": _check_cached_preprocessing,
    "incremental": _check_incremental,
    "device": _check_device,
}

