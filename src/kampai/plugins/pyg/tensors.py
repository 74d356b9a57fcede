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
        import numpy as np
        import torch

        x = np.hstack([model.node_encoder.transform(graph.features), graph.structural]).astype(np.float32)
        if x.shape[1] != model.in_channels:
            raise DataError(f"The graph gives {x.shape[1]} node inputs; the model was trained on {model.in_channels}.")
        w = None if graph.edge_weight is None else torch.as_tensor(graph.edge_weight)
        return torch.as_tensor(x), torch.as_tensor(graph.edge_index), w

    def _graph_list(self, model: GraphModel, gs: Any, y: Any = None) -> list[Any]:
        import numpy as np
        import torch
        from torch_geometric.data import Data

        gfeat = model.graph_encoder.transform(gs.features)
        index = {c: i for i, c in enumerate(model.classes)}
        out = []
        for i, g in enumerate(gs.graphs):
            x = np.hstack([model.node_encoder.transform(g.features), g.structural]).astype(np.float32)
            d = Data(x=torch.as_tensor(x), edge_index=torch.as_tensor(g.edge_index),
                     u=torch.as_tensor(gfeat[i:i + 1]))
            if g.edge_weight is not None:
                d.edge_weight = torch.as_tensor(g.edge_weight)
            if y is not None:
                d.y = torch.tensor([index[to_python(y.iloc[i])]])
            out.append(d)
        return out
