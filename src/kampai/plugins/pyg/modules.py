"""torch modules of the PyG plugin (imported only when a model is built)."""

from __future__ import annotations

from typing import Any

import torch
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

POOLS = {"mean": global_mean_pool, "add": global_add_pool, "max": global_max_pool}


class GraphClassifier(torch.nn.Module):
    """A node-level GNN body, a readout over each graph's nodes, the graph-level features
    concatenated, and a linear head to the classes."""

    def __init__(self, body: torch.nn.Module, width: int, graph_channels: int, n_classes: int,
                 readout: str = "mean") -> None:
        super().__init__()
        self.body = body
        self.readout = readout
        self.head = torch.nn.Linear(width + graph_channels, n_classes)

    def forward(self, batch: Any) -> torch.Tensor:
        weight = getattr(batch, "edge_weight", None)
        if weight is not None and getattr(self.body, "supports_edge_weight", False):
            h = self.body(batch.x, batch.edge_index, edge_weight=weight)
        else:
            h = self.body(batch.x, batch.edge_index)
        pooled = POOLS[self.readout](h, batch.batch, size=batch.num_graphs)
        if batch.u.shape[1]:
            pooled = torch.cat([pooled, batch.u], dim=1)
        return self.head(pooled)
