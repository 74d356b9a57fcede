"""The model the engine handles: a :class:`GraphModel` (a PyG network with its classes,
feature encoders, training graph and settings), the networks known by name, their valid
parameters, and building the network.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from kampai.plugin import ConfigError, did_you_mean
from kampai.plugins.pyg.features import Encoder

NODE_TASK, GRAPH_TASK = "node-classification", "graph-classification"
MODELS = {"GCN": "GCNConv", "GraphSAGE": "SAGEConv", "GAT": "GATConv", "GIN": "GINConv", "GraphConv": "GraphConv",
          "EdgeCNN": None}
#: the models PyG does not name: kampai's own BasicGNN subclasses (in modules.py)
OWN_MODELS = {"GraphConv": "GraphConvGNN"}
#: training settings in model.params (the rest go to the network)
TRAIN = {"epochs": 200, "lr": 0.01, "weight_decay": 5e-4, "patience": 50, "val_size": "auto",
         "batch_size": None, "num_neighbors": [10, 10], "readout": "mean", "amp": "auto"}
NET = {"hidden_channels": 64, "num_layers": 2, "dropout": 0.5}
READOUTS = ("mean", "add", "max")


def model_class(name: str) -> Any:
    models = _pyg_models()
    if name in OWN_MODELS:
        from kampai.plugins.pyg import modules

        return getattr(modules, OWN_MODELS[name])
    if name in MODELS:
        return getattr(models, name)
    if ":" in name or "." in name:
        import torch

        from kampai.plugin.io import import_class

        try:  # a class of the framework's own model type, checked before anything calls it
            return import_class(name, check=lambda cls: issubclass(cls, torch.nn.Module),
                                what="a torch.nn.Module class",
                                hint="Name your own module class as pkg.mod:Class.")
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(f"Cannot import model '{name}': {exc}") from None
    raise ConfigError(f"Unknown PyG model '{name}'.{did_you_mean(name, MODELS)} Known: {', '.join(MODELS)}, "
                      "or a torch.nn.Module by import path (pkg.mod:Class) taking (x, edge_index).")


def _pyg_models() -> Any:
    import warnings

    with warnings.catch_warnings():  # torch_geometric's import scripts a module with torch.jit
        warnings.simplefilter("ignore", FutureWarning)
        import torch_geometric.nn.models as models
    return models


def _init_params(obj: Any) -> dict[str, inspect.Parameter]:
    return {n: p for n, p in inspect.signature(obj.__init__).parameters.items()
            if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def valid_net_params(name: str, cls: Any) -> set[str]:
    if name not in MODELS:
        return set(_init_params(cls)) - {"in_channels", "out_channels"}
    import torch_geometric.nn as gnn

    keys = set(_init_params(cls)) - {"in_channels", "out_channels"}
    convs = [MODELS[name]] + (["GATv2Conv"] if name == "GAT" else [])
    for conv in filter(None, convs):
        keys |= set(_init_params(getattr(gnn, conv))) - {"in_channels", "out_channels", "nn"}
    keys |= {"aggr", "flow"} | ({"v2"} if name == "GAT" else set())
    return keys


@dataclass
class GraphModel:
    """A PyG network with what predicting needs: classes, feature encoders, the training
    graph (node classification), the settings and the epoch history."""

    task: str
    estimator: str
    params: dict[str, Any]
    train: dict[str, Any]
    seed: int
    device: str = "cpu"
    net: Any = None
    classes: list[Any] = field(default_factory=list)
    node_encoder: Encoder = field(default_factory=Encoder)
    graph_encoder: Encoder = field(default_factory=Encoder)
    in_channels: int = 0
    graph_channels: int = 0
    #: node classification: the training graph as tensors (x, edge_index, edge_weight, ids, labelled)
    graph: dict[str, Any] | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    #: the structural features computed for each graph (``data.structural``) and their steps
    structural: list[str] | None = None
    pe_steps: int = 0
    #: the torch.distributed process group ``fit`` trains in (``ctx.distributed``), or None
    distributed: Any = None


def make_net(m: GraphModel) -> Any:
    import torch

    from kampai.plugins.pyg.modules import GraphClassifier

    cls = model_class(m.estimator)
    n_classes = len(m.classes)
    params = dict(m.params)
    if m.estimator in MODELS:
        params = {**NET, **params}
    torch.manual_seed(m.seed)
    try:
        if m.task == NODE_TASK:
            if m.estimator in MODELS:
                return cls(in_channels=m.in_channels, out_channels=n_classes, **params)
            return _custom(cls, m.in_channels, n_classes, params)
        if m.estimator in MODELS:
            body = cls(in_channels=m.in_channels, **params)
            width = body.out_channels
        else:
            width = int(params.get("hidden_channels", NET["hidden_channels"]))
            body = _custom(cls, m.in_channels, width, params)
        return GraphClassifier(body, width, m.graph_channels, n_classes, m.train["readout"])
    except (TypeError, ValueError, AssertionError) as exc:
        raise ConfigError(f"Cannot create PyG model '{m.estimator}' with {params}: {exc}") from None


def _custom(cls: Any, in_channels: int, out_channels: int, params: dict[str, Any]) -> Any:
    accepted = _init_params(cls)
    kwargs = dict(params)
    if "in_channels" in accepted:
        kwargs["in_channels"] = in_channels
    if "out_channels" in accepted:
        kwargs["out_channels"] = out_channels
    return cls(**kwargs)


def _takes_weight(net: Any) -> bool:
    from torch_geometric.nn.models.basic_gnn import BasicGNN

    return isinstance(net, BasicGNN) and net.supports_edge_weight


