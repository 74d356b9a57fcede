"""The PyTorch Geometric adapter: GCN, GraphSAGE, GAT, GIN (``torch_geometric.nn.models``)
or any ``torch.nn.Module`` taking ``(x, edge_index)`` by import path, for node and graph
classification.

Full-batch training for node classification (the whole graph each epoch; ``batch_size``
switches to neighbour-sampled mini-batches: PyG's ``NeighborLoader`` with pyg-lib or torch-sparse,
else kampai's plain-torch sampler in PyG's ``NodeLoader``), mini-batches
of whole graphs for graph classification.  Early stopping on a stratified validation part
of the training labels keeps the best epoch.  Saved as a ``state_dict`` + JSON config (+ the
training graph as ``.npz`` for node classification), loaded with ``weights_only=True``.

Each job lives in its own module; :class:`PyGFramework` is assembled from them.
"""

from __future__ import annotations

import inspect
from typing import Any

from kampai.plugin import BuildContext, Framework
from kampai.plugins.pyg.building import Building
from kampai.plugins.pyg.graph_model import (
    GRAPH_TASK,
    MODELS,
    NET,
    NODE_TASK,
    TRAIN,
    _init_params,
    model_class,
    valid_net_params,
)
from kampai.plugins.pyg.model_file import ModelFile
from kampai.plugins.pyg.predicting import Predicting
from kampai.plugins.pyg.tensors import Tensors
from kampai.plugins.pyg.training import Training

DEFAULT_MODEL = {NODE_TASK: "GCN", GRAPH_TASK: "GraphConv"}  # graph default: takes edge weights
SEARCH = {
    "hidden_channels": [16, 32, 64, 128],
    "num_layers": {"type": "int", "low": 1, "high": 3},
    "dropout": {"type": "float", "low": 0.0, "high": 0.7},
    "lr": {"type": "float", "low": 1e-3, "high": 5e-2, "log": True},
    "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
}
SEARCH_EXTRA = {"GAT": {"heads": [1, 2, 4, 8]}, "GraphSAGE": {"aggr": ["mean", "max", "sum"]},
                "GIN": {"train_eps": [False, True]}, "GraphConv": {"aggr": ["add", "mean", "max"]}}


class PyGFramework(Building, Tensors, Training, Predicting, ModelFile, Framework):
    name = "pyg"
    description = "PyTorch Geometric GNNs (GCN, GraphSAGE, GAT, GIN, GraphConv, any (x, edge_index) module)"
    tasks = (NODE_TASK, GRAPH_TASK)
    extra = "pyg"
    requires = ("torch", "torch_geometric")
    packages = ("torch", "torch-geometric", "networkx")
    capabilities = frozenset({"device", "search_space", "incremental", "distributed"})

    def default_estimator(self, task: Any) -> str:
        return DEFAULT_MODEL.get(task.name, "GCN")

    def describe(self, estimator: str, ctx: BuildContext) -> dict[str, Any]:
        cls = model_class(estimator)
        out = {**TRAIN, **(NET if estimator in MODELS else {})}
        known = dict(_init_params(cls))
        if estimator in MODELS:
            import torch_geometric.nn as gnn

            for conv in filter(None, [MODELS[estimator]]):
                for key, param in _init_params(getattr(gnn, conv)).items():
                    known.setdefault(key, param)
        for key in sorted(valid_net_params(estimator, cls)):
            param = known.get(key)
            out.setdefault(key, None if param is None or param.default is inspect.Parameter.empty else param.default)
        return {k: v for k, v in out.items() if isinstance(v, (int, float, str, bool, list, type(None)))}

    def default_search_space(self, estimator: str, task: Any) -> dict[str, Any]:
        if estimator not in MODELS:
            return {k: v for k, v in SEARCH.items() if k in ("lr", "weight_decay")}
        return {**SEARCH, **SEARCH_EXTRA.get(estimator, {})}
