"""Every scikit-learn estimator, as a lazy source for the estimator registry.

``sklearn.utils.discovery.all_estimators()`` imports all of scikit-learn (seconds), so
its result is cached on disk per scikit-learn version; later runs register the names
from the cache and import only the estimator a config uses.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin.io import cached_json


def estimator_kind(cls: type) -> str | None:
    """classifier / regressor / cluster / transformer, from scikit-learn's mixins (the
    convention every scikit-learn compatible estimator follows); None for other classes."""
    try:
        from sklearn.base import ClassifierMixin, ClusterMixin, RegressorMixin, TransformerMixin
    except ImportError:
        return None
    for mixin, kind in ((ClassifierMixin, "classifier"), (RegressorMixin, "regressor"),
                        (ClusterMixin, "cluster"), (TransformerMixin, "transformer")):
        if isinstance(cls, type) and issubclass(cls, mixin):
            return kind
    return None


def _index() -> dict[str, list[Any]]:
    """``{name: [import path, kind]}`` for every scikit-learn estimator."""
    import warnings

    from sklearn.utils.discovery import all_estimators

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: [f"{cls.__module__}:{name}", estimator_kind(cls)] for name, cls in all_estimators()}


def load_all(registry: Any) -> None:
    from importlib import metadata  # here: importing it costs runner --help a tenth of its time

    key = f"sklearn-estimators-{metadata.version('scikit-learn')}"
    for name, (target, kind) in cached_json(key, _index).items():
        registry.add(name, target, kind=kind, package="sklearn")
