"""Names of the SDK's modules imported on first use (``import kampai.plugin`` stays cheap).

Each SDK module maps its public names to where they live (``module`` for the same name,
``module:attribute`` for another one) and gets its ``__getattr__``/``__dir__`` from
:func:`lazy_names`.  Names the SDK no longer offers under a name (:data:`MovedName`) resolve
for one major version with a :class:`DeprecationWarning` that says where they went.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple


class MovedName(NamedTuple):
    """A name an older API version offered: where it resolves now and what to use instead."""

    target: str
    instead: str


def resolve(target: str) -> Any:
    """``module:attribute`` (or ``module``, a module itself) imported."""
    module, _, attribute = target.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def lazy_names(module: str, namespace: dict[str, Any], names: Mapping[str, str],
               public: list[str], moved: Mapping[str, MovedName] | None = None,
               ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for the SDK module ``module`` (``namespace``: its
    globals, where a resolved name is kept): ``names`` maps a public name to ``module`` (the same
    name there), ``module:attribute`` or ``module:`` (the module itself); ``moved`` maps an old
    name to its :class:`MovedName` (a DeprecationWarning, then the value)."""
    moved = moved or {}

    def __getattr__(name: str) -> Any:
        where = names.get(name)
        if where is not None:
            source, colon, attribute = where.partition(":")
            value = resolve(source if colon and not attribute else f"{source}:{attribute or name}")
            namespace[name] = value  # resolved once
            return value
        old = moved.get(name)
        if old is not None:
            warnings.warn(f"{module}.{name} is deprecated (plugin API 2.0) and goes in 3.0: {old.instead}.",
                          DeprecationWarning, stacklevel=2)
            return resolve(old.target)
        raise AttributeError(f"module '{module}' has no attribute '{name}'")

    def __dir__() -> list[str]:
        return sorted(public)

    return __getattr__, __dir__
