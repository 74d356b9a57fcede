"""Files and data a plugin reads or writes, the way the core does (part of the plugin SDK).

* reading: :func:`read_frame` (a CSV/Parquet file or a bundled dataset), :func:`check_columns`,
  :func:`default_target`, :func:`load_yaml` (YAML from a user, with bounds on aliases and depth);
* writing: :func:`atomic_write` / :func:`write_text` (a temporary file renamed into place),
  :func:`check_output` (refuse a path kampai may not write), :func:`symlinks_in`;
* caches: :func:`cache_dir`, :func:`cached_json`;
* code a config names: :func:`import_object`, :func:`import_class`;
* values: :func:`to_python` (a numpy/torch scalar as its Python value).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kampai.plugin._lazy import lazy_names

_LAZY = {
    "read_frame": "kampai.core.data",
    "check_columns": "kampai.core.data",
    "default_target": "kampai.core.data",
    "load_yaml": "kampai.core.yamlsafe",
    "atomic_write": "kampai.core.outputs",
    "write_text": "kampai.core.outputs",
    "check_output": "kampai.core.outputs",
    "symlinks_in": "kampai.core.outputs",
    "cache_dir": "kampai.core.diskcache",
    "cached_json": "kampai.core.diskcache",
    "import_object": "kampai.core.registry",
    "import_class": "kampai.core.registry",
    "to_python": "kampai.core.plain",
}

__all__ = [
    "atomic_write",
    "cache_dir",
    "cached_json",
    "check_columns",
    "check_output",
    "default_target",
    "import_class",
    "import_object",
    "load_yaml",
    "read_frame",
    "symlinks_in",
    "to_python",
    "write_text",
]

if TYPE_CHECKING:
    from kampai.core.data import check_columns, default_target, read_frame
    from kampai.core.diskcache import cache_dir, cached_json
    from kampai.core.outputs import atomic_write, check_output, symlinks_in, write_text
    from kampai.core.plain import to_python
    from kampai.core.registry import import_class, import_object
    from kampai.core.yamlsafe import load_yaml

__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY, __all__)
