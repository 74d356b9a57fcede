"""The Hugging Face transformers plugin (entry point ``transformers`` in the ``kampai`` group).

Registers the ``transformers`` framework for ``text-classification``.  Imports neither
torch nor transformers at module import: ``runner plugins list`` stays fast.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl


@hookimpl
def kampai_register_frameworks(registry: Any) -> None:
    from kampai.plugins.transformers.framework import TransformersFramework  # here: --help stays light

    registry.add(TransformersFramework())
