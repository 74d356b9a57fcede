"""The plain PyTorch framework plugin (entry point ``torch``): your ``nn.Module`` (or the
built-in MLP) trained through skorch on a table, for classification and regression.

Imports neither torch nor skorch at module import.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl


@hookimpl
def kampai_register_frameworks(registry: Any) -> None:
    from kampai.plugins.torch.framework import TorchFramework  # here: --help stays light

    registry.add(TorchFramework())
