"""Building a :class:`~.graph_model.GraphModel` from ``model.*``: the training settings and
network parameters checked, the feature encoders fitted, the network made.
"""

from __future__ import annotations

import inspect
from typing import Any

from kampai.plugin import BuildContext, ConfigError, DataError, TaskData, check_params
from kampai.plugin.io import to_python
from kampai.plugins.pyg.graph_model import (
    MODELS,
    NET,
    NODE_TASK,
    READOUTS,
    TRAIN,
    GraphModel,
    _pyg_models,
    make_net,
    model_class,
    valid_net_params,
)
from kampai.plugins.pyg.structural import width as structural_width


class Building:
    """The PyG adapter's ``build``."""

    def build(self, task: Any, model_cfg: dict[str, Any], data: TaskData, ctx: BuildContext) -> GraphModel:
        _pyg_models()  # torch_geometric imported once, quietly
        import torch

        if task.name not in self.tasks:
            raise ConfigError(f"Framework 'pyg' does not train task '{task.name}'.")
        name = str(model_cfg.get("estimator") or self.default_estimator(task))
        cls = model_class(name)
        params = dict(model_cfg.get("params") or {})
        train = {k: params.pop(k) for k in list(params) if k in TRAIN}
        valid = valid_net_params(name, cls)
        check_params(params, valid, f"PyG model '{name}'", suggest=valid | set(TRAIN),
                     hint=f"Valid: {', '.join(sorted(valid | set(TRAIN)))}.")
        layers = params.get("num_layers", NET["num_layers"])
        if "num_neighbors" not in train and isinstance(layers, int) and layers > 0:
            train["num_neighbors"] = [10] * layers  # the default fan-out follows the depth (tuning varies it)
        train = {**TRAIN, **train}
        if train["readout"] not in READOUTS:
            raise ConfigError(f"model.params.readout={train['readout']!r}: use one of {', '.join(READOUTS)}.")
        for key in ("epochs", "patience"):
            if not isinstance(train[key], int) or train[key] < (1 if key == "epochs" else 0):
                raise ConfigError(f"model.params.{key} must be a positive integer, got {train[key]!r}.")
        size = train["batch_size"]
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ConfigError(f"model.params.batch_size must be a positive integer (or null), got {size!r}.")
        if size is not None and task.name == NODE_TASK:
            if name not in MODELS and not _custom_batches_ok(cls):
                raise ConfigError(f"model.params.batch_size: NeighborLoader mini-batches need a model whose "
                                  f"forward takes (x, edge_index); '{name}' does not.")
            neighbors = train["num_neighbors"]
            if not (isinstance(neighbors, list) and neighbors and all(isinstance(n, int) and (n > 0 or n == -1)
                                                                       for n in neighbors)):
                raise ConfigError(f"model.params.num_neighbors={neighbors!r}: a list of positive ints (or -1 for "
                                  "all), one per layer.")
            if len(neighbors) != layers:
                raise ConfigError(f"model.params.num_neighbors has {len(neighbors)} entries but the model has "
                                  f"{layers} layers: give one per layer.")
        device = ctx.device.torch()
        model = GraphModel(task=task.name, estimator=name, params=params, train=train, seed=int(ctx.seed),
                           device=device, distributed=ctx.distributed)
        info = data.X.info or {}
        model.structural, model.pe_steps = list(info.get("structural") or []), int(info.get("pe_steps") or 0)
        extra = structural_width(model.structural, model.pe_steps)
        if task.name == NODE_TASK:
            graph = data.X
            model.node_encoder.fit(graph.features)
            model.in_channels = model.node_encoder.width + graph.structural.shape[1] + extra
        else:
            gs = data.X
            model.node_encoder.fit(_node_frame(gs))
            model.graph_encoder.fit(gs.features)
            given = gs.graphs[0].structural.shape[1] if gs.graphs else 0
            model.in_channels = model.node_encoder.width + given + extra
            model.graph_channels = model.graph_encoder.width
        if model.in_channels == 0:
            raise DataError("The graph has no node features and data.structural is none: the model has no "
                            "input. Set data.structural to auto (degree,rwpe,...) or add feature columns.")
        model.classes = sorted({to_python(v) for v in data.y.dropna()}, key=str) if data.y is not None else []
        if len(model.classes) < 2:
            raise DataError("Training needs at least 2 classes among the labelled rows.")
        model.net = make_net(model)
        torch.manual_seed(model.seed)
        return model


def _custom_batches_ok(cls: Any) -> bool:
    try:
        params = list(inspect.signature(cls.forward).parameters)[1:]
    except (TypeError, ValueError, AttributeError):
        return True
    return len(params) >= 2


def _node_frame(gs: Any) -> Any:
    import pandas as pd

    frames = [g.features for g in gs.graphs]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
