"""The engine's steps, for plugins that work with experiments outside a run (learning
curves, pipeline generators, servers): part of the plugin SDK.

* :func:`load_config` (an experiment config, every loaded plugin's keys known: a typed
  :class:`~kampai.plugin.Config`), :func:`resolve_config` (its task and framework);
* :func:`registry_of` (a registry of this process, read-only: ``metrics``, ``frameworks`` ...);
* :func:`resolve_metrics`, :func:`compute_metrics`, :func:`label_array` (metrics as a run
  computes them);
* :func:`unknown_categories` (the warning lines of ``runner predict`` for categories a model
  never saw).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kampai.plugin._lazy import lazy_names

_LAZY = {
    "load_config": "kampai.core.hosted",
    "resolve_config": "kampai.core.engine:resolve",
    "registry_of": "kampai.core.host",
    "resolve_metrics": "kampai.core.metrics:resolve",
    "compute_metrics": "kampai.core.metrics:compute",
    "label_array": "kampai.core.metrics",
    "unknown_categories": "kampai.core.checks",
}

__all__ = [
    "compute_metrics",
    "label_array",
    "load_config",
    "registry_of",
    "resolve_config",
    "resolve_metrics",
    "unknown_categories",
]

if TYPE_CHECKING:
    from kampai.core.checks import unknown_categories
    from kampai.core.engine import resolve as resolve_config
    from kampai.core.host import registry_of
    from kampai.core.hosted import load_config
    from kampai.core.metrics import compute as compute_metrics
    from kampai.core.metrics import label_array
    from kampai.core.metrics import resolve as resolve_metrics

__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY, __all__)
