"""The preprocessing ColumnTransformer, built step by step from ``model.preprocess``."""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

from kampai.plugin import ConfigError, UnknownNameError, did_you_mean

AUTO = {"auto-numeric", "auto-categorical"}
GROUP_KEYS = {"columns", "steps"}


def default_spec(name: str = "sklearn.yaml") -> dict[str, Any]:
    """A spec packaged with this plugin (``sklearn-text.yaml`` for text tasks)."""
    return copy.deepcopy(_packaged_spec(name))


@cache
def _packaged_spec(name: str) -> dict[str, Any]:
    # parsed once per process: tuning builds a model per trial and fold
    import yaml

    text = resources.files("kampai.plugins.sklearn").joinpath(name).read_text()
    return yaml.safe_load(text)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` deep-merged into a copy of ``base`` (mappings merge, other values replace)."""
    import copy

    out = copy.deepcopy(base)
    for key, value in top.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both else copy.deepcopy(value)
    return out


def resolve_spec(user: Any, defaults: str = "sklearn.yaml") -> dict[str, Any] | None:
    """The user's ``model.preprocess`` merged over the defaults; None when disabled."""
    if user is False:
        return None
    if user is None or user is True:
        return default_spec(defaults)
    if not isinstance(user, dict):
        raise ConfigError(f"model.preprocess must be a mapping or false, got {user!r}.")
    spec = _merge(default_spec(defaults), user)
    # a step given with its class is a whole new step: the default step's params belong to
    # the default class (OneHotEncoder's sparse_output means nothing to OrdinalEncoder);
    # a mapping without 'class' only tunes the default step's params
    for group, body in user.items():
        if isinstance(body, dict) and isinstance(body.get("steps"), dict) and isinstance(spec.get(group), dict):
            for step, value in body["steps"].items():
                if isinstance(value, str) or (isinstance(value, dict) and "class" in value):
                    spec[group]["steps"][step] = value
    for group, body in spec.items():
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"model.preprocess.{group} must be a mapping with columns and steps.")
        for key in body:
            if key not in GROUP_KEYS:
                raise ConfigError(f"Unknown config key 'model.preprocess.{group}.{key}'."
                                  f"{did_you_mean(key, GROUP_KEYS)} Valid keys: columns, steps.")
    return {g: b for g, b in spec.items() if b is not None}


def _columns(selector: Any, X: Any, group: str) -> Any:
    import pandas as pd

    if selector == "auto-numeric":  # by dtype: X[c] per column is slow on wide frames
        return [c for c, t in X.dtypes.items() if pd.api.types.is_numeric_dtype(t)
                and not pd.api.types.is_bool_dtype(t)]
    if selector == "auto-categorical":
        return [c for c, t in X.dtypes.items() if not pd.api.types.is_numeric_dtype(t)
                or pd.api.types.is_bool_dtype(t)]
    names = [selector] if isinstance(selector, str) else list(selector or [])
    for name in names:
        if name not in X.columns:
            raise ConfigError(f"model.preprocess.{group}.columns names '{name}', which is not a "
                              f"feature column.{did_you_mean(name, map(str, X.columns))}")
    return selector  # a single string stays a string: 1-D input for text vectorizers


def make_step(spec: Any, where: str, resolve: Any) -> Any:
    """``StandardScaler`` or ``{class: SimpleImputer, strategy: median}`` -> an instance."""
    if isinstance(spec, str):
        cls_name, params = spec, {}
    elif isinstance(spec, dict) and "class" in spec:
        params = {k: v for k, v in spec.items() if k != "class"}
        cls_name = spec["class"]
    else:
        raise ConfigError(f"{where} must be a class name or a mapping with 'class', got {spec!r}.")
    try:
        cls = resolve(str(cls_name))  # checked to be a class of the right kind, not yet called
    except UnknownNameError:
        raise
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    params = tuples_where_needed(cls, params)
    try:
        return cls(**params)
    except TypeError as exc:
        valid = list(cls().get_params()) if hasattr(cls, "get_params") else []
        bad = next((p for p in params if p not in valid), None)
        hint = did_you_mean(bad, valid) if bad else ""
        raise ConfigError(f"{where}: {exc}.{hint}") from None


def tuples_where_needed(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """YAML has no tuples: a list becomes a tuple where the class accepts only tuples
    (``TfidfVectorizer(ngram_range=[1, 2])``)."""
    constraints = getattr(cls, "_parameter_constraints", {})
    return {k: tuple(v) if isinstance(v, list) and tuple in constraints.get(k, ())
            and list not in constraints.get(k, ()) and "array-like" not in constraints.get(k, ()) else v
            for k, v in params.items()}


def build_preprocessor(user: Any, X: Any, resolve: Any, defaults: str = "sklearn.yaml",
                       sparse: bool = False) -> Any:
    """A ColumnTransformer (or None when preprocessing is disabled).

    ``defaults`` names the packaged spec; ``sparse`` keeps sparse output (text features).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    spec = resolve_spec(user, defaults)
    if spec is None:
        return None
    transformers = []
    for group, body in spec.items():
        steps = [
            (name, make_step(step, f"model.preprocess.{group}.steps.{name}", resolve))
            for name, step in (body.get("steps") or {}).items() if step is not None
        ]
        columns = _columns(body.get("columns"), X, group)
        transformers.append((group, Pipeline(steps) if steps else "passthrough", columns))
    # dense output: many estimators (HistGradientBoosting, most clusterers) refuse sparse input;
    # text features stay sparse (a dense TF-IDF matrix would not fit in memory)
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=1.0 if sparse else 0.0)
