"""The PyTorch Geometric framework plugin (entry point ``pyg``): node and graph
classification with GCN, GraphSAGE, GAT, GIN or any ``(x, edge_index)`` module.

Imports nothing heavy at module import: torch and torch_geometric load when a model is built.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl


@hookimpl
def kampai_register_frameworks(registry: Any) -> None:
    from kampai.plugins.pyg.framework import PyGFramework  # here: --help stays light

    registry.add(PyGFramework())


@hookimpl
def kampai_register_estimators(registry: Any) -> None:
    from kampai.plugins.pyg.graph_model import MODELS, OWN_MODELS

    for name in MODELS:
        where = f"kampai.plugins.pyg.modules:{OWN_MODELS[name]}" if name in OWN_MODELS else \
            f"torch_geometric.nn.models:{name}"
        registry.add(name, where)
