"""torch modules of the PyG plugin (imported only when a model is built)."""

from __future__ import annotations

from typing import Any

import torch
from torch_geometric.nn import GraphConv, global_add_pool, global_max_pool, global_mean_pool
from torch_geometric.nn.models.basic_gnn import BasicGNN

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


class GraphConvGNN(BasicGNN):
    """The GNN of "Weisfeiler and Leman Go Neural" (Morris et al., 2019) with PyG's
    :class:`~torch_geometric.nn.GraphConv`: each layer adds the edge-weighted sum of the
    neighbours' states to the node's own (``aggr`` add by default), so edge weights change
    what it learns (GIN ignores them).  Any ``BasicGNN`` parameter applies (``hidden_channels``,
    ``num_layers``, ``dropout``, ``norm``, ``jk``) and GraphConv's (``aggr``)."""

    supports_edge_weight = True
    supports_edge_attr = False

    def init_conv(self, in_channels: int, out_channels: int, **kwargs: Any) -> GraphConv:
        return GraphConv(in_channels, out_channels, **kwargs)
