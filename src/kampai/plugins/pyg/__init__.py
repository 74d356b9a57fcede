"""The PyTorch Geometric framework plugin (entry point ``pyg``): node and graph
classification with GCN, GraphSAGE, GAT, GIN or any ``(x, edge_index)`` module.

Imports nothing heavy at module import: torch and torch_geometric load when a model is built.
"""

from __future__ import annotations

import warnings
from typing import Any

from kampai.plugin import hookimpl

# torch_geometric's own import scripts a module with torch.jit, which torch 2.14 deprecates:
# not the user's concern (narrow filter, no import here)
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)


@hookimpl
def kampai_register_frameworks(registry: Any) -> None:
    from kampai.plugins.pyg.framework import PyGFramework  # here: --help stays light

    registry.add(PyGFramework())


@hookimpl
def kampai_register_estimators(registry: Any) -> None:
    from kampai.plugins.pyg.framework import MODELS

    for name in MODELS:
        registry.add(name, f"torch_geometric.nn.models:{name}")
