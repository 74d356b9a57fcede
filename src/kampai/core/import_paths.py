"""Importing what a config or a flag names by path (``--model pkg.mod.Class``,
``--include mymodels``): the module found in the current folder too, and a config's import
path accepted only when it names a model class, never another callable (a config is data).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from kampai.core.errors import ConfigError, KampaiError, unknown


def import_user_module(module_name: str) -> Any:
    """Import a module; a user's own module in the current folder is found too.

    ``python -m kampai`` puts the current folder on ``sys.path`` but the ``runner``
    console script does not, so ``--model mymodels.MyEstimator`` next to the data would
    fail only when run as ``runner``.  The folder is appended (never shadows a package).
    """
    import os
    import sys

    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        cwd = os.getcwd()
        top = module_name.split(".")[0]
        if exc.name != top or cwd in sys.path or "" in sys.path:
            raise
        sys.path.append(cwd)
        return importlib.import_module(module_name)


#: what a config may name where a model or preprocessing class is expected
ESTIMATOR_CLASS = "a scikit-learn estimator or transformer class"


def is_estimator_class(obj: Any) -> bool:
    """A class scikit-learn would take as a model or a step: a subclass of
    ``sklearn.base.BaseEstimator``, or one with ``fit`` and one of ``predict``/``transform``
    (scikit-learn's duck typing).  Functions, modules and instances are not."""
    if not isinstance(obj, type):
        return False
    try:
        from sklearn.base import BaseEstimator

        if issubclass(obj, BaseEstimator):
            return True
    except ImportError:
        pass
    return callable(getattr(obj, "fit", None)) and any(
        callable(getattr(obj, m, None)) for m in ("predict", "transform", "fit_predict", "fit_transform"))


def import_class(path: str, *, check: Callable[[type], bool] = is_estimator_class,
                 what: str = ESTIMATOR_CLASS,
                 hint: str = "Bring your own classes with --include MODULE.") -> type:
    """The class at import path ``path``, returned only when ``check(cls)`` holds.

    A config is data, not code: ``{class: os.system}``, ``builtins.exec``,
    ``subprocess.Popen`` or any function are refused here, before anything calls them
    (ConfigError ending with ``hint``; callers prefix the config key).  The documented way
    to bring your own estimators is ``--include MODULE``.
    """
    obj = import_object(path)
    ok = False
    if isinstance(obj, type):
        try:
            ok = bool(check(obj))
        except Exception:  # a check that cannot judge the object refuses it
            ok = False
    if not ok:
        kind = ("a function" if inspect.isroutine(obj) else "a module" if inspect.ismodule(obj) else
                "a class of another kind" if isinstance(obj, type) else f"a {type(obj).__name__} object")
        raise ConfigError(f"'{path}' is not {what} (it is {kind}): a config names model classes, never "
                          f"other callables. {hint}")
    return obj


def import_object(path: str) -> Any:
    """Import ``pkg.mod.Name`` or ``pkg.mod:Name``; a clear error if it cannot be found."""
    module_name, _, attr = path.replace(":", ".").rpartition(".")
    if not module_name:
        raise KampaiError(f"'{path}' is not an import path (expected 'package.module.Name').")
    try:
        module = import_user_module(module_name)
    except ImportError as exc:
        raise KampaiError(f"Cannot import '{module_name}' for '{path}': {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        names = [n for n in dir(module) if not n.startswith("_")]
        raise unknown(f"name in module '{module_name}'", attr, names) from None

