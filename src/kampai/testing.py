"""Conformance checks for plugin authors, in the spirit of scikit-learn's
``parametrize_with_checks``: a framework (or task) that passes them works with the engine,
the tuner and ``runner predict``.

In a plugin's own test suite::

    from kampai.testing import parametrize_with_checks
    from my_plugin import MyFramework

    @parametrize_with_checks(MyFramework(), params={"epochs": 1})
    def test_conformance(check):
        check()

Each check builds, fits, predicts, saves and loads on the tiny dataset of every task the
framework declares (:meth:`kampai.plugin.Task.example`), checks that each declared
capability behaves, and that mistakes surface as :class:`kampai.plugin.KampaiError`.
A check raises :class:`AssertionError` naming the framework, the task and what broke.
:func:`check_framework` runs them all at once (outside pytest).

Tasks are looked up by name through the installed plugins, so a framework for a task of
another plugin is checked against that plugin's task.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kampai.core.contract import BuildContext, Framework, Prediction, Task, TaskData, framework_problems, task_problems
from kampai.core.errors import KampaiError
from kampai.core.markers import hookimpl

__all__ = ["Check", "check_framework", "check_task", "framework_checks", "parametrize_with_checks",
           "register_plugin", "task_checks"]


@dataclass
class Check:
    """One named conformance check; call it to run it."""

    name: str
    fn: Callable[[], None]
    #: why the check is known to fail (``expected_failed_checks``), else None
    expected_failure: str | None = None

    def __call__(self) -> None:
        self.fn()

    def __repr__(self) -> str:
        return self.name


@contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kampai-check-") as tmp:
        yield Path(tmp)


@contextmanager
def register_plugin(plugin: Any, name: str) -> Iterator[Any]:
    """Register ``plugin`` (a module or an object with ``@hookimpl`` functions) with kampai
    for the duration of the block, and unregister it after; yields the plugin.

    What it contributes (frameworks, tasks, estimators, hooks) is there inside the block and
    gone after it, so a plugin's tests never touch kampai's internals::

        with register_plugin(my_plugin, "my-plugin"):
            kampai.train(task="classification", framework="myfw", data="sklearn:iris")
    """
    from kampai.core.host import get_host

    host = get_host()
    host.register(plugin, name)  # a PluginError (nothing registered) for a bad plugin
    try:
        yield plugin
    finally:
        if host.pm.get_plugin(name) is not None:
            host.unregister(name)


class _Provides:
    """An inline plugin that registers one framework object (the round-trip check's)."""

    def __init__(self, framework: Framework) -> None:
        self.framework = framework

    @hookimpl
    def kampai_register_frameworks(self, registry: Any) -> None:
        registry.add(self.framework)


@contextmanager
def _registered(framework: Framework, who: str) -> Iterator[None]:
    """``framework`` as the engine finds it by name: the installed one when it is of the same
    class, else registered inline for the block."""
    from kampai.core.host import get_host

    registry = get_host().frameworks()
    if framework.name in registry:
        installed = registry.get(framework.name)
        if type(installed) is not type(framework):
            raise _fail(who, f"the name '{framework.name}' belongs to another installed framework "
                             f"({type(installed).__module__}.{type(installed).__name__})")
        yield
        return
    with register_plugin(_Provides(framework), f"kampai-check-{framework.name}"):
        yield


def _fail(who: str, what: str) -> AssertionError:
    return AssertionError(f"{who}: {what}")


def _task(name: str) -> Task:
    from kampai.core.host import get_host

    return get_host().task(name)


def _example(task: Task, who: str) -> tuple[TaskData, dict[str, Any]]:
    example = task.example()
    if example is None:
        raise _fail(who, f"task '{task.name}' has no example() data to check with")
    frame, data_cfg = example
    return task.prepare(frame, dict(data_cfg), training=True), dict(data_cfg)


def _model_cfg(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None) -> dict[str, Any]:
    return {"estimator": estimator or framework.default_estimator(task), "params": dict(params), "search": {}}


def _context(seed: int = 0) -> BuildContext:
    from kampai.core.diskcache import cache_dir
    from kampai.core.host import get_host

    return BuildContext(seed=seed, device="cpu", resolve=get_host().estimators().resolve, cache_dir=cache_dir())


def _split(task: Task, data: TaskData, data_cfg: dict[str, Any]) -> tuple[TaskData, TaskData]:
    """The task's default split of its example: (train, test)."""
    from kampai.core.host import get_host

    split_cfg = {"test_size": 0.3, "folds": 3, "shuffle": True, "seed": 0, **task.default_split}
    splitter = get_host().splitters().get(split_cfg["method"])
    from kampai.core.engine import fold_part

    train, test = splitter.fn(data, split_cfg)[0]
    return fold_part(data, train), fold_part(data, test)


def _rows(prediction: Prediction) -> int:
    return len(prediction.y)


def _same(a: Prediction, b: Prediction) -> bool:
    import numpy as np
    import pandas as pd

    if isinstance(a.y, pd.DataFrame):
        num = a.y.select_dtypes("number").columns
        return a.y.shape == b.y.shape and np.allclose(a.y[num].to_numpy(float), b.y[num].to_numpy(float),
                                                      equal_nan=True, atol=1e-6)
    if a.proba is not None:
        return b.proba is not None and np.allclose(np.asarray(a.proba, float), np.asarray(b.proba, float),
                                                   atol=1e-5)
    try:
        return bool(np.allclose(np.asarray(a.y, float), np.asarray(b.y, float), atol=1e-6, equal_nan=True))
    except (TypeError, ValueError):
        return list(np.asarray(a.y)) == list(np.asarray(b.y))


# --------------------------------------------------------------------------------------
# Framework checks
# --------------------------------------------------------------------------------------


def framework_checks(framework: Framework, *, params: dict[str, Any] | None = None,
                     estimator: str | None = None, tasks: tuple[str, ...] | None = None,
                     expected_failed_checks: dict[str, str] | None = None) -> list[Check]:
    """The conformance checks of ``framework``, one :class:`Check` each.

    ``params`` go into ``model.params`` of every model the checks build (keep trainings
    short: ``{"epochs": 1}``); ``estimator`` replaces the framework's default; ``tasks``
    narrows the declared tasks.  ``expected_failed_checks`` maps check names
    (``"myfw:classification:labels_int"``) to why they fail for now: pytest marks them
    xfail (strict: one that passes again fails the suite), :func:`check_framework` skips
    them; a name that is no check is a ValueError.
    """
    params = dict(params or {})
    who = f"framework '{getattr(framework, 'name', framework)}'"
    checks = [Check(f"{getattr(framework, 'name', '?')}:contract", lambda: _check_contract(framework, who))]
    for task_name in tasks or getattr(framework, "tasks", ()):
        prefix = f"{framework.name}:{task_name}"

        def bind(fn: Callable[..., None], task_name: str = task_name) -> Callable[[], None]:
            return lambda: fn(framework, _task(task_name), params, estimator, f"{who}, task '{task_name}'")

        checks += [Check(f"{prefix}:fit_predict", bind(_check_fit_predict)),
                   Check(f"{prefix}:save_load", bind(_check_save_load)),
                   Check(f"{prefix}:unknown_param", bind(_check_unknown_param)),
                   Check(f"{prefix}:load_errors", bind(_check_load_errors)),
                   Check(f"{prefix}:engine_round_trip", bind(_check_engine_round_trip))]
        for capability, fn in _CAPABILITY_CHECKS.items():
            if capability in framework.capabilities:
                checks.append(Check(f"{prefix}:{capability}", bind(fn)))
        if task_name == "classification":
            for kind in LABEL_KINDS:
                checks.append(Check(f"{prefix}:labels_{kind}",
                                    bind(lambda *a, kind=kind: _check_labels(*a, kind=kind))))
    return _expect_failures(checks, expected_failed_checks or {})


def _expect_failures(checks: list[Check], expected: dict[str, str]) -> list[Check]:
    unknown = sorted(set(expected) - {c.name for c in checks})
    if unknown:
        raise ValueError(f"expected_failed_checks names no check: {', '.join(unknown)} "
                         f"(checks: {', '.join(c.name for c in checks)})")
    for check in checks:
        check.expected_failure = expected.get(check.name)
    return checks


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


#: the target dtypes the label check trains on (classification): each must come back as itself
LABEL_KINDS = ("int", "bool", "str", "category")


def _label_table(kind: str, rows: int = 90) -> Any:
    """A small table with two informative numeric features and a ``target`` of ``kind``:
    int 0/1, bool, three strings, or a pandas category (string categories)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x0, x1 = rng.normal(size=rows), rng.normal(size=rows)
    positive = x0 + 0.3 * x1 > 0
    target: Any
    if kind == "int":
        target = positive.astype("int64")
    elif kind == "bool":
        target = positive
    elif kind == "str":
        third = np.digitize(x0, np.quantile(x0, [1 / 3, 2 / 3]))
        target = np.asarray(["ant", "bee", "cat"], dtype=object)[third]
    else:
        target = pd.Categorical(np.where(positive, "high", "low"), categories=["low", "high"])
    return pd.DataFrame({"x0": x0, "x1": x1, "target": target})


def _label_kind(values: Any) -> str:
    """What labels are, by dtype: int, bool, float, str (object or string dtype holding only
    strings), else a description of the mix."""
    import numpy as np
    import pandas as pd

    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        values = np.asarray(values)  # a category's values are its categories' values
    array = np.asarray(values)
    kind = array.dtype.kind
    if kind in "iu":
        return "int"
    if kind in "bfUS":
        return {"b": "bool", "f": "float", "U": "str", "S": "str"}[kind]
    types = sorted({type(v).__name__ for v in array.ravel().tolist()})
    return "str" if types == ["str"] else f"{array.dtype} of {'/'.join(types)}"


def _check_labels(framework: Framework, task: Task, params: dict[str, Any], estimator: str | None,
                  who: str, *, kind: str) -> None:
    """Labels round-trip in their own dtype: predictions, classes and the saved-and-loaded
    model's predictions are values of the target, of its kind, and every metric is defined."""
    import pandas as pd

    from kampai.core.metrics import compute, labels_of, resolve

    frame = _label_table(kind)
    data = task.prepare(frame, {"target": "target"}, training=True)
    train, test = _split(task, data, {})
    model = framework.fit(framework.build(task, _model_cfg(framework, task, params, estimator), train, _context()),
                          train, task)
    expected = _label_kind(data.y)
    values = set(pd.unique(data.y.astype(object)))
    who = f"{who}, {kind} target"

    def labels_ok(prediction: Prediction, what: str) -> None:
        got = _label_kind(prediction.y)
        if got != expected:
            raise _fail(who, f"{what} gives {got} labels for a {expected} target: labels must come back "
                             f"in the target's own dtype (e.g. {list(pd.Series(prediction.y)[:3])!r})")
        strange = set(pd.unique(pd.Series(prediction.y, dtype=object))) - values
        if strange:
            raise _fail(who, f"{what} gives labels the target does not hold: {sorted(map(repr, strange))[:5]}")
        classes = prediction.classes
        if classes is not None and (_label_kind(list(classes)) != expected or set(classes) != values):
            raise _fail(who, f"{what} gives classes {list(prediction.classes)!r}, not the target's "
                                 f"{sorted(values, key=str)!r} in their own dtype")

    prediction = framework.predict(model, test, task)
    labels_ok(prediction, "predict()")
    undefined: dict[str, str] = {}
    compute(resolve(task, None), test.y, prediction, test.X, labels=labels_of(data.y), undefined=undefined)
    if undefined:
        raise _fail(who, "metrics are undefined on its predictions: "
                         + "; ".join(f"{k}: {v}" for k, v in undefined.items()))
    with _folder() as folder:
        path = folder / "model"
        path.mkdir()
        framework.save(model, path)
        labels_ok(framework.predict(framework.load(path), test, task), "the saved and loaded model's predict()")


_CAPABILITY_CHECKS: dict[str, Callable[..., None]] = {
    "search_space": _check_search_space,
    "inspect": _check_inspect,
    "cached_preprocessing": _check_cached_preprocessing,
    "incremental": _check_incremental,
    "device": _check_device,
}


# --------------------------------------------------------------------------------------
# Task checks
# --------------------------------------------------------------------------------------


def task_checks(task: Task) -> list[Check]:
    """The conformance checks of ``task``: its contract, its example data, its split, and its
    baselines when it offers some (each scores at least one of its default metrics)."""
    who = f"task '{getattr(task, 'name', task)}'"
    name = getattr(task, "name", "?")

    def contract() -> None:
        problems = task_problems(task)
        if problems:
            raise _fail(who, "; ".join(problems))

    def example() -> None:
        data, _ = _example(task, who)
        if not len(data):
            raise _fail(who, "prepare() of its example() gives no rows")
        if task.needs_target and data.y is None:
            raise _fail(who, "needs a target but prepare() of its example() gives none")
        task.signature(data)  # JSON-able facts for serving
        for metric in task.default_metrics:
            from kampai.core.metrics import resolve

            resolve(task, [metric])

    def split() -> None:
        data, data_cfg = _example(task, who)
        train, test = _split(task, data, data_cfg)
        if not len(train) or not len(test):
            raise _fail(who, "its default split of its example() leaves an empty side")

    def baseline() -> None:
        from kampai.core.baselines import normalized
        from kampai.core.metrics import compute, labels_of, resolve

        data, data_cfg = _example(task, who)
        train, test = _split(task, data, data_cfg)
        try:
            found = normalized(task.baseline(train, test, seed=0))
        except TypeError as exc:
            raise _fail(who, str(exc)) from None
        metrics = [m for m in resolve(task, None) if not m.name.startswith("baseline_")]
        for description, prediction in found:
            scores = compute(metrics, test.y, prediction, test.X, labels=labels_of(data.y) if task.needs_target
                             else None)
            if not any(v == v for v in scores.values()):
                raise _fail(who, f"its baseline '{description}' scores no metric on its example's test part")

    checks = [Check(f"{name}:contract", contract), Check(f"{name}:example", example), Check(f"{name}:split", split)]
    if type(task).baseline is not Task.baseline:  # a task that offers baselines: they score
        checks.append(Check(f"{name}:baseline", baseline))
    return checks


# --------------------------------------------------------------------------------------
# Runners
# --------------------------------------------------------------------------------------


def parametrize_with_checks(obj: Framework | Task, **options: Any) -> Any:
    """A ``pytest.mark.parametrize("check", ...)`` over the checks of a framework or task
    (``options`` as :func:`framework_checks`), each test id naming its check."""
    import pytest

    checks = framework_checks(obj, **options) if isinstance(obj, Framework) else task_checks(obj)
    return pytest.mark.parametrize("check", [
        pytest.param(c, id=c.name, marks=pytest.mark.xfail(reason=c.expected_failure, strict=True,
                                                            raises=AssertionError))
        if c.expected_failure else pytest.param(c, id=c.name) for c in checks])


def check_framework(framework: Framework, **options: Any) -> None:
    """Run every check of ``framework`` but its ``expected_failed_checks``; the first
    failure raises AssertionError."""
    for check in framework_checks(framework, **options):
        if not check.expected_failure:
            check()


def check_task(task: Task) -> None:
    """Run every check of ``task``; the first failure raises AssertionError."""
    for check in task_checks(task):
        check()
