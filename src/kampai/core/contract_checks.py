"""The checks a registry makes of a plugin's framework or task against its contract
(:mod:`kampai.core.contract`): abstract methods implemented, every declared capability
backed by its method and every capability method declared, the attributes it must set.
The conformance kit (:mod:`kampai.testing`) runs them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kampai.core.contract import FRAMEWORK_CAPABILITIES, PLOTS, TARGET_KINDS, TASK_CAPABILITIES, Framework, Task


def _contract_problems(obj: Any, base: type, capabilities: dict[str, str | None],
                       attributes: Sequence[str]) -> list[str]:
    problems = []
    if not isinstance(obj, base):
        kind = base.__name__
        hint = " (a class was given: register an instance, add '()')" if isinstance(obj, type) else ""
        return [f"is a {type(obj).__name__}, not a kampai.plugin.{kind}{hint}"]
    missing = sorted(m for m in base.__abstractmethods__ if not callable(getattr(obj, m, None)))
    if missing:
        problems.append(f"does not implement {', '.join(missing)}")
    for attr in attributes:
        if not getattr(obj, attr, None):
            problems.append(f"has no '{attr}'")
    for cap in sorted(obj.capabilities):
        if cap not in capabilities:
            problems.append(f"declares unknown capability '{cap}' (known: {', '.join(capabilities)})")
            continue
        method = capabilities[cap]
        if method and getattr(type(obj), method) is getattr(base, method):
            problems.append(f"declares capability '{cap}' but does not implement {method}()")
    for cap, method in capabilities.items():
        if method and cap not in obj.capabilities and getattr(type(obj), method) is not getattr(base, method):
            problems.append(f"implements {method}() but does not declare capability '{cap}'")
    return problems


def framework_problems(framework: Any) -> list[str]:
    """What is wrong with ``framework`` as a :class:`Framework` (empty when nothing)."""
    problems = _contract_problems(framework, Framework, FRAMEWORK_CAPABILITIES, ("name", "tasks"))
    if not problems and isinstance(framework.tasks, str):
        problems.append("has 'tasks' as a string: use a tuple of task names")
    return problems


def task_problems(task: Any) -> list[str]:
    """What is wrong with ``task`` as a :class:`Task` (empty when nothing)."""
    problems = _contract_problems(task, Task, TASK_CAPABILITIES, ("name",))
    if not problems and not isinstance(task.default_split, dict):
        problems.append("has a default_split that is not a mapping")
    if not problems and task.target_kind is not None and task.target_kind not in TARGET_KINDS:
        problems.append(f"has target_kind {task.target_kind!r} (known: {', '.join(TARGET_KINDS)}; or None)")
    unknown_plots = [p for p in task.plots if p not in PLOTS] if not problems else []
    if unknown_plots:
        problems.append(f"names unknown plot(s) {', '.join(map(repr, unknown_plots))} (known: {', '.join(PLOTS)})")
    return problems

