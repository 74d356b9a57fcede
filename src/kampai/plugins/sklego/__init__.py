"""scikit-lego's estimators in the registry, when scikit-lego is installed (extra ``sklego``).

Registered by import path, so nothing is imported until a config uses one.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

from kampai.plugin import hookimpl
from kampai.plugin.io import cached_json

#: scikit-lego modules whose public estimator classes are registered
MODULES = ("sklego.linear_model", "sklego.mixture", "sklego.naive_bayes", "sklego.neighbors",
           "sklego.meta", "sklego.preprocessing", "sklego.dummy")


def _index(registry: Any) -> dict[str, list[Any]]:
    import importlib
    import inspect

    index = {}
    for module_name in MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__.startswith("sklego") and hasattr(cls, "fit") and hasattr(cls, "get_params"):
                index[name] = [f"{module_name}:{name}", registry.kind_of(cls)]
    return index


def load_all(registry: Any) -> None:
    from importlib import metadata

    try:
        key = f"sklego-estimators-{metadata.version('scikit-lego')}"
    except metadata.PackageNotFoundError:  # find_spec was fooled (MLEM's import interceptor)
        return
    for name, (target, kind) in cached_json(key, lambda: _index(registry)).items():
        registry.add(name, target, kind=kind, package="sklego")


@hookimpl
def kampai_register_estimators(registry: Any) -> None:
    if find_spec("sklego") is not None:
        registry.add_source("sklego", load_all, "scikit-lego estimators (" + ", ".join(MODULES) + ")")
