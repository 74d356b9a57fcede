"""Plain Python values from numpy, pandas and torch ones (public as ``kampai.plugin.io.to_python``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_PLAIN = (str, int, float, bool, type(None))


def to_python(value: Any, fallback: Callable[[Any], Any] | None = None) -> Any:
    """``value`` as a value JSON can hold: a numpy/torch scalar as its Python value
    (``np.int64(3)`` -> ``3``), an array as a list; anything else as it is, or through
    ``fallback`` when given (``json.dumps(x, default=lambda v: to_python(v, str))``)."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if fallback is None or isinstance(value, _PLAIN):
        return value
    return fallback(value)
