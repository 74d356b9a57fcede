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

This module is the public kit (the check lists and their runners); the checks live in
``_framework_checks`` (per task and capability) and ``_labels`` (the label dtypes), what
they share in ``_support``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kampai.core.contract import Framework, Task
from kampai.core.contract_checks import task_problems
from kampai.testing._framework_checks import (
    _CAPABILITY_CHECKS,
    _check_contract,
    _check_engine_round_trip,
    _check_fit_predict,
    _check_load_errors,
    _check_save_load,
    _check_unknown_param,
)
from kampai.testing._labels import LABEL_KINDS, _check_labels
from kampai.testing._support import _example, _fail, _split, _task, register_plugin

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
