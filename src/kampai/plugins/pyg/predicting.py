"""Predicting with a trained PyG network: nodes of a new graph, nodes of the training graph
(``--nodes``, unlabelled, all), or whole graphs.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import DataError, Prediction, RunError, TaskData
from kampai.plugins.pyg.graph_model import NODE_TASK, GraphModel, _takes_weight


class Predicting:
    """The PyG adapter's ``predict`` (``self._node_tensors``/``_graph_list`` are
    :class:`~.tensors.Tensors`')."""
    def predict(self, model: GraphModel, data: TaskData, task: Any) -> Prediction:
        import numpy as np
        import torch

        device = torch.device(model.device)
        net = model.net.to(device)
        was_training = net.training
        net.eval()
        with torch.no_grad():
            if model.task == NODE_TASK:
                graph = data.X
                if graph.reference:
                    x, ei, w, select = self._training_view(model, graph)
                else:
                    _check_inductive(model, graph)
                    x, ei, w = self._node_tensors(model, graph)
                    select = np.asarray(graph.select)
                x, ei = x.to(device), ei.to(device)
                w = None if w is None else w.to(device)
                logits = net(x, ei, edge_weight=w) if _takes_weight(net) else net(x, ei)
                logits = logits[torch.as_tensor(select, dtype=torch.long).to(device)]
            else:
                from torch_geometric.loader import DataLoader

                items = self._graph_list(model, data.X)
                outs = [net(b.to(device)) for b in DataLoader(items, batch_size=256)]
                logits = torch.cat(outs) if outs else torch.zeros((0, len(model.classes)))
            proba = torch.softmax(logits.double(), dim=1).cpu().numpy()
        if was_training:
            net.train()
        labels = np.asarray(model.classes)[proba.argmax(axis=1)] if len(proba) else np.asarray(model.classes)[:0]
        return Prediction(y=labels, proba=proba, classes=list(model.classes))

    def _training_view(self, model: GraphModel, graph: Any) -> tuple[Any, Any, Any, Any]:
        import numpy as np
        import pandas as pd
        import torch

        g = model.graph
        if g is None:
            raise RunError("This model holds no training graph to predict nodes of.")
        ids = np.asarray(g["ids"]).astype(str)
        if graph.info.get("unlabelled"):
            select = np.flatnonzero(~np.asarray(g["labelled"]))
        elif graph.info.get("all"):
            select = np.arange(len(ids))
        else:
            select = pd.Index(ids).get_indexer(np.asarray(graph.node_ids).astype(str))
            if (select < 0).any():
                missing = np.asarray(graph.node_ids)[select < 0]
                raise DataError(f"--nodes names {len(missing)} ids that the training graph lacks "
                                f"(e.g. {', '.join(map(str, missing[:5]))}).")
        graph.node_ids, graph.select = ids, select  # format_predictions names these nodes
        graph.info["node_id"] = g.get("node_id") or graph.info.get("node_id")
        w = None if g["edge_weight"] is None else torch.as_tensor(g["edge_weight"])
        return torch.as_tensor(g["x"]), torch.as_tensor(g["edge_index"]), w, select


def _check_inductive(model: GraphModel, graph: Any) -> None:
    """A model whose inputs describe its training graph only (Laplacian eigenvectors: their
    basis changes with any new node) predicts that graph, never a new or grown one."""
    import numpy as np

    from kampai.plugins.pyg.structural import INDUCTIVE

    own = [k for k in model.structural or () if k not in INDUCTIVE]
    g = model.graph
    if not own or g is None:
        return
    same = np.array_equal(np.asarray(g["ids"]).astype(str), np.asarray(graph.node_ids).astype(str)) \
        and np.array_equal(g["edge_index"], graph.edge_index)
    if not same:
        raise DataError(f"This model is transductive: its inputs include {', '.join(own)} structural features, "
                        "which describe its training graph only, so it predicts that graph's nodes (runner predict "
                        "RUN [--nodes/--unlabelled]), not a new or grown graph; to predict new graphs, train with "
                        f"--structural {','.join(k for k in INDUCTIVE)} (or node feature columns).")
