"""The task's graphs as the tensors a network takes: one graph's node inputs, or a list of
PyG ``Data`` (graph classification).
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import DataError
from kampai.plugin.io import to_python
from kampai.plugins.pyg.graph_model import GraphModel


class Tensors:
    """The tensors of a node graph, or the ``Data`` list of a graph set."""

    def _node_tensors(self, model: GraphModel, graph: Any) -> tuple[Any, Any, Any]:
        import torch

        x = node_inputs(model, graph)
        if x.shape[1] != model.in_channels:
            raise DataError(f"The graph gives {x.shape[1]} node inputs; the model was trained on {model.in_channels}.")
        w = None if graph.edge_weight is None else torch.as_tensor(graph.edge_weight)
        return torch.as_tensor(x), torch.as_tensor(graph.edge_index), w

    def _graph_list(self, model: GraphModel, gs: Any, y: Any = None) -> list[Any]:
        import torch
        from torch_geometric.data import Data

        gfeat = model.graph_encoder.transform(gs.features)
        index = {c: i for i, c in enumerate(model.classes)}
        out = []
        for i, g in enumerate(gs.graphs):
            x = node_inputs(model, g)
            d = Data(x=torch.as_tensor(x), edge_index=torch.as_tensor(g.edge_index),
                     u=torch.as_tensor(gfeat[i:i + 1]))
            if g.edge_weight is not None:
                d.edge_weight = torch.as_tensor(g.edge_weight)
            if y is not None:
                d.y = torch.tensor([index[to_python(y.iloc[i])]])
            out.append(d)
        return out


def node_inputs(model: GraphModel, graph: Any) -> Any:
    """A graph's node inputs: the encoded feature columns, any structural columns the task
    gave, and the structural features the model was trained with (computed here)."""
    import numpy as np

    from kampai.plugins.pyg.structural import structural_of

    kinds, steps, weighted = structural_setting(model, graph)
    computed = structural_of(graph, kinds, steps, weighted=weighted)
    return np.hstack([model.node_encoder.transform(graph.features), graph.structural, computed]).astype(np.float32)


def structural_setting(model: GraphModel, graph: Any) -> tuple[tuple[str, ...], int, bool]:
    """The structural kinds, steps and whether they follow edge weights: the model's own
    (saved with it); for a model saved before they were recorded, the graph's (``info`` of
    the task's data) as they were computed then (no ``strength``, unweighted walks)."""
    if model.structural is not None:
        return tuple(model.structural), int(model.pe_steps), True
    info = graph.info or {}
    kinds = tuple(k for k in info.get("structural") or () if k != "strength")
    return kinds, int(info.get("pe_steps") or 0), False
