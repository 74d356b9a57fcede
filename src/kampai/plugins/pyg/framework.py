"""The PyTorch Geometric adapter: GCN, GraphSAGE, GAT, GIN (``torch_geometric.nn.models``)
or any ``torch.nn.Module`` taking ``(x, edge_index)`` by import path, for node and graph
classification.

Full-batch training for node classification (the whole graph each epoch; ``batch_size``
switches to neighbour-sampled mini-batches: PyG's ``NeighborLoader`` with pyg-lib or torch-sparse,
else kampai's plain-torch sampler in PyG's ``NodeLoader``), mini-batches
of whole graphs for graph classification.  Early stopping on a stratified validation part
of the training labels keeps the best epoch.  Saved as a ``state_dict`` + JSON config (+ the
training graph as ``.npz`` for node classification), loaded with ``weights_only=True``.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kampai.plugin import (
    BuildContext,
    ConfigError,
    DataError,
    Framework,
    Prediction,
    RunError,
    TaskData,
    did_you_mean,
    file_sha256,
    open_checked,
)
from kampai.plugins.pyg.features import Encoder

NODE_TASK, GRAPH_TASK = "node-classification", "graph-classification"
MODELS = {"GCN": "GCNConv", "GraphSAGE": "SAGEConv", "GAT": "GATConv", "GIN": "GINConv", "EdgeCNN": None}
DEFAULT_MODEL = {NODE_TASK: "GCN", GRAPH_TASK: "GIN"}
#: training settings in model.params (the rest go to the network)
TRAIN = {"epochs": 200, "lr": 0.01, "weight_decay": 5e-4, "patience": 50, "val_size": "auto",
         "batch_size": None, "num_neighbors": [10, 10], "readout": "mean", "amp": "auto"}
NET = {"hidden_channels": 64, "num_layers": 2, "dropout": 0.5}
READOUTS = ("mean", "add", "max")
LARGE_GRAPH_EDGES = 2_000_000
WEIGHTS, CONFIG, GRAPH = "weights.pt", "model.json", "graph.npz"
SEARCH = {
    "hidden_channels": [16, 32, 64, 128],
    "num_layers": {"type": "int", "low": 1, "high": 3},
    "dropout": {"type": "float", "low": 0.0, "high": 0.7},
    "lr": {"type": "float", "low": 1e-3, "high": 5e-2, "log": True},
    "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
}
SEARCH_EXTRA = {"GAT": {"heads": [1, 2, 4, 8]}, "GraphSAGE": {"aggr": ["mean", "max", "sum"]},
                "GIN": {"train_eps": [False, True]}}


def _extension() -> str | None:
    import torch_geometric.typing as t

    return "pyg-lib" if t.WITH_PYG_LIB else "torch-sparse" if t.WITH_TORCH_SPARSE else None


def model_class(name: str) -> Any:
    models = _pyg_models()
    if name in MODELS:
        return getattr(models, name)
    if ":" in name or "." in name:
        import torch

        from kampai.plugin import import_class

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


class PyGFramework(Framework):
    name = "pyg"
    description = "PyTorch Geometric GNNs (GCN, GraphSAGE, GAT, GIN, any (x, edge_index) module)"
    tasks = (NODE_TASK, GRAPH_TASK)
    extra = "pyg"
    requires = ("torch", "torch_geometric")
    packages = ("torch", "torch-geometric", "networkx")
    capabilities = frozenset({"device", "search_space", "incremental"})

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

    # ------------------------------------------------------------------ build
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
        for key in params:
            if key not in valid:
                allowed = sorted(valid | set(TRAIN))
                raise ConfigError(f"Unknown parameter 'model.params.{key}' for PyG model '{name}'."
                                  f"{did_you_mean(key, allowed)} Valid: {', '.join(allowed)}.")
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
        device = _device(ctx.device)
        model = GraphModel(task=task.name, estimator=name, params=params, train=train, seed=int(ctx.seed),
                           device=device)
        if task.name == NODE_TASK:
            graph = data.X
            model.node_encoder.fit(graph.features)
            model.in_channels = model.node_encoder.width + graph.structural.shape[1]
        else:
            gs = data.X
            model.node_encoder.fit(_node_frame(gs))
            model.graph_encoder.fit(gs.features)
            model.in_channels = model.node_encoder.width + (gs.graphs[0].structural.shape[1] if gs.graphs else 0)
            model.graph_channels = model.graph_encoder.width
        if model.in_channels == 0:
            raise DataError("The graph has no node features and data.structural is none: the model has no "
                            "input. Set data.structural to auto (degree,rwpe) or add feature columns.")
        model.classes = sorted({_plain(v) for v in data.y.dropna()}, key=str) if data.y is not None else []
        if len(model.classes) < 2:
            raise DataError("Training needs at least 2 classes among the labelled rows.")
        model.net = make_net(model)
        torch.manual_seed(model.seed)
        return model

    # ------------------------------------------------------------------ tensors
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
                d.y = torch.tensor([index[_plain(y.iloc[i])]])
            out.append(d)
        return out

    # ------------------------------------------------------------------ fit
    def fit(self, model: GraphModel, data: TaskData, task: Any) -> GraphModel:
        return self.fit_incremental(model, data, task, lambda step, current: None)

    def fit_incremental(self, model: GraphModel, data: TaskData, task: Any,
                        report: Callable[[int, Any], None]) -> GraphModel:
        import numpy as np
        import torch

        torch.manual_seed(model.seed)
        device = torch.device(model.device)
        net = model.net.to(device)
        opt = _adam(net, float(model.train["lr"]), float(model.train["weight_decay"]))
        amp = _amp(model)
        index = {c: i for i, c in enumerate(model.classes)}
        labelled = np.flatnonzero(data.y.notna().to_numpy())
        labels = np.array([index[_plain(v)] for v in data.y.iloc[labelled]], dtype=np.int64)
        train_pos, val_pos = _validation(labelled, labels, model.train["val_size"], model.seed)
        train_pos, val_pos = labelled[train_pos], labelled[val_pos]  # positions into data
        if task.name == NODE_TASK:
            graph = data.X
            x, ei, w = (t.to(device) if t is not None else None for t in self._node_tensors(model, graph))
            y_all = torch.full((graph.num_nodes,), -1, dtype=torch.long)
            y_all[torch.as_tensor(graph.select[labelled])] = torch.as_tensor(labels)
            y_all = y_all.to(device)
            tr = torch.as_tensor(graph.select[train_pos]).to(device)
            va = torch.as_tensor(graph.select[val_pos]).to(device)
            has_labels = graph.info.get("labelled")  # over the whole graph, not only this fold
            if has_labels is None:
                has_labels = np.zeros(graph.num_nodes, dtype=bool)
                has_labels[graph.select[labelled]] = True
            model.graph = {"x": x.cpu().numpy(), "edge_index": graph.edge_index, "ids": graph.node_ids,
                           "edge_weight": graph.edge_weight, "labelled": has_labels,
                           "node_id": graph.info.get("node_id")}
            loader = None
            weighted = w is not None and _takes_weight(net)
            if graph.num_edges > LARGE_GRAPH_EDGES and model.train["batch_size"] is None:
                hint = ("set model.params.batch_size for NeighborLoader mini-batches" if _extension() else
                        "set model.params.batch_size for neighbour-sampled mini-batches (pip install pyg-lib "
                        "to sample faster)")
                from kampai.plugin import warn

                warn(f"The graph has {graph.num_edges} edges and trains full-batch: {hint}.", once=True)
            if model.train["batch_size"] is not None:
                loader = _neighbor_loader(model, x.cpu(), ei.cpu(), y_all.cpu(), None if w is None else w.cpu(),
                                          tr.cpu())

            def epoch_step() -> float:
                net.train()
                if loader is None:
                    opt.zero_grad()
                    with amp:
                        out = net(x, ei, edge_weight=w) if weighted else net(x, ei)
                        loss = torch.nn.functional.cross_entropy(out[tr].float(), y_all[tr])
                    loss.backward()
                    opt.step()
                    return float(loss.detach())
                total = 0.0
                for batch in loader:
                    batch = batch.to(device)
                    opt.zero_grad()
                    with amp:
                        if weighted:
                            out = net(batch.x, batch.edge_index, edge_weight=batch.edge_weight)
                        else:
                            out = net(batch.x, batch.edge_index)
                        out = out[:batch.batch_size]
                        loss = torch.nn.functional.cross_entropy(out.float(), batch.y[:batch.batch_size])
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * batch.batch_size
                return total / max(1, len(tr))

            def val_loss() -> float:
                net.eval()
                with torch.no_grad(), amp:
                    out = net(x, ei, edge_weight=w) if weighted else net(x, ei)
                    return float(torch.nn.functional.cross_entropy(out[va].float(), y_all[va]))
        else:
            from torch_geometric.loader import DataLoader

            items = self._graph_list(model, data.X, data.y)
            size = int(model.train["batch_size"] or 32)
            gen = torch.Generator().manual_seed(model.seed)
            loader = DataLoader([items[i] for i in train_pos], batch_size=size, shuffle=True, generator=gen)
            val_loader = DataLoader([items[i] for i in val_pos], batch_size=size)

            def epoch_step() -> float:
                net.train()
                total = 0.0
                for batch in loader:
                    batch = batch.to(device)
                    opt.zero_grad()
                    with amp:
                        loss = torch.nn.functional.cross_entropy(net(batch).float(), batch.y)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * batch.num_graphs
                return total / max(1, len(train_pos))

            def val_loss() -> float:
                net.eval()
                total = 0.0
                with torch.no_grad(), amp:
                    for batch in val_loader:
                        batch = batch.to(device)
                        total += float(torch.nn.functional.cross_entropy(net(batch).float(), batch.y,
                                                                         reduction="sum"))
                return total / max(1, len(val_pos))

        # full batch: the graph is the same every epoch, so GCN's normalised adjacency is
        # computed once (PyG's cached=True, meant for transductive training), not per forward
        cached = _cache_normalisation(net) if task.name == NODE_TASK and loader is None else []
        try:
            self._epochs(model, net, epoch_step, val_loss, len(val_pos), report)
        finally:
            _uncache_normalisation(cached)
        net.eval()
        return model

    def _epochs(self, model: GraphModel, net: Any, epoch_step: Callable[[], float], val_loss: Callable[[], float],
                n_val: int, report: Callable[[int, Any], None]) -> None:
        from kampai.plugin import epoch_progress

        best, best_state, waited = float("inf"), None, 0
        model.history = []
        progress = epoch_progress(int(model.train["epochs"]))  # silent outside runner train's log
        for epoch in range(int(model.train["epochs"])):
            loss = epoch_step()
            row = {"epoch": epoch, "loss": round(loss, 6)}
            if n_val:
                v = val_loss()
                row["val_loss"] = round(v, 6)
                if v < best - 1e-6:
                    best, waited, model.best_epoch = v, 0, epoch
                    best_state = {k: t.detach().clone() for k, t in net.state_dict().items()}
                else:
                    waited += 1
            model.history.append(row)
            progress.update(epoch + 1, loss=row["loss"], val_loss=row.get("val_loss"))
            report(epoch, model)
            if n_val and model.train["patience"] and waited >= int(model.train["patience"]):
                break
        if best_state is not None:
            net.load_state_dict(best_state)

    # ------------------------------------------------------------------ predict
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

    # ------------------------------------------------------------------ save / load
    def save(self, model: GraphModel, path: Path) -> None:
        import numpy as np
        import torch

        state = {k: v.detach().cpu() for k, v in model.net.state_dict().items()}
        torch.save(state, path / WEIGHTS)
        if model.graph is not None:
            g = model.graph
            arrays = {"x": g["x"], "edge_index": g["edge_index"], "ids": np.asarray(g["ids"]).astype(str),
                      "labelled": g["labelled"]}
            if g["edge_weight"] is not None:
                arrays["edge_weight"] = g["edge_weight"]
            np.savez(path / GRAPH, **arrays)
        config = {"format": "kampai-pyg", "version": 1, "task": model.task, "estimator": model.estimator,
                  "params": model.params, "train": model.train, "seed": model.seed, "classes": model.classes,
                  "node_encoder": model.node_encoder.spec, "graph_encoder": model.graph_encoder.spec,
                  "in_channels": model.in_channels, "graph_channels": model.graph_channels,
                  "best_epoch": model.best_epoch, "history": model.history,
                  "node_id": (model.graph or {}).get("node_id"),
                  "sha256": {name: file_sha256(path / name) for name in (WEIGHTS, GRAPH) if (path / name).exists()}}
        (path / CONFIG).write_text(json.dumps(config, indent=2, default=_plain))

    def load(self, path: Path) -> GraphModel:
        import numpy as np

        _pyg_models()
        import torch

        try:
            config = json.loads((Path(path) / CONFIG).read_text())
        except (OSError, ValueError) as exc:
            raise RunError(f"Cannot read the PyG model in {path}: {exc}") from None
        if config.get("format") != "kampai-pyg":
            raise RunError(f"{path / CONFIG} is not a kampai PyG model.")
        digests = config.get("sha256") or {}
        with contextlib.ExitStack() as files:  # each file hashed as read, before anything is built
            weights = files.enter_context(open_checked(path / WEIGHTS, digests.get(WEIGHTS)))
            graph = files.enter_context(open_checked(path / GRAPH, digests[GRAPH])) if GRAPH in digests else None
            model = GraphModel(task=config["task"], estimator=config["estimator"], params=config["params"],
                               train=config["train"], seed=config["seed"], device=_device("auto"),
                               classes=config["classes"], node_encoder=Encoder(config["node_encoder"]),
                               graph_encoder=Encoder(config["graph_encoder"]), in_channels=config["in_channels"],
                               graph_channels=config["graph_channels"], history=config.get("history") or [],
                               best_epoch=config.get("best_epoch"))
            model.net = make_net(model)
            try:  # from the handle that was hashed, not the path opened again
                model.net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            except Exception as exc:
                raise RunError(f"Cannot load the PyG weights {path / WEIGHTS}: {exc}") from None
            model.net.eval()
            if graph is not None:
                with np.load(graph, allow_pickle=False) as z:
                    model.graph = {"x": z["x"], "edge_index": z["edge_index"], "ids": z["ids"],
                                   "labelled": z["labelled"], "edge_weight": z.get("edge_weight"),
                                   "node_id": config.get("node_id")}
        return model


def _custom_batches_ok(cls: Any) -> bool:
    try:
        params = list(inspect.signature(cls.forward).parameters)[1:]
    except (TypeError, ValueError, AttributeError):
        return True
    return len(params) >= 2


def _neighbor_loader(model: GraphModel, x: Any, ei: Any, y: Any, w: Any, seeds: Any) -> Any:
    """Mini-batches of seed nodes with their sampled neighbourhoods: PyG's NeighborLoader
    when pyg-lib or torch-sparse is there, else kampai's plain-torch sampler in PyG's
    NodeLoader (same batches' shape; sampling slower on large graphs)."""
    import torch
    from torch_geometric.data import Data

    from kampai.plugin import warn

    pyg = Data(x=x, edge_index=ei, y=y, num_nodes=x.shape[0])
    if w is not None:
        pyg.edge_weight = w
    neighbors = [int(n) for n in model.train["num_neighbors"]]
    size = int(model.train["batch_size"])
    gen = torch.Generator().manual_seed(model.seed)
    if _extension() is not None:
        from torch_geometric.loader import NeighborLoader

        try:
            return NeighborLoader(pyg, num_neighbors=neighbors, batch_size=size, input_nodes=seeds, shuffle=True,
                                  generator=gen)
        except (ValueError, ImportError, RuntimeError) as exc:
            raise ConfigError(f"NeighborLoader cannot work with these settings: {exc}") from None
    from torch_geometric.loader import NodeLoader

    from kampai.plugins.pyg.sampler import TorchNeighborSampler

    warn("Neighbour sampling without pyg-lib or torch-sparse: kampai samples in plain torch "
         "(pip install pyg-lib for faster sampling on large graphs).", once=True)
    sampler = TorchNeighborSampler(ei, x.shape[0], neighbors, generator=gen)
    return NodeLoader(pyg, node_sampler=sampler, input_nodes=seeds, batch_size=size, shuffle=True, generator=gen)


def _takes_weight(net: Any) -> bool:
    from torch_geometric.nn.models.basic_gnn import BasicGNN

    return isinstance(net, BasicGNN) and net.supports_edge_weight


def _adam(net: Any, lr: float, weight_decay: float) -> Any:
    """Adam, fused (one kernel for all parameters) where torch has it for these tensors:
    the same update, less Python per step."""
    import torch

    params = [p for p in net.parameters() if p.requires_grad]
    if params and all(p.dtype in (torch.float32, torch.float64) and p.device.type in ("cpu", "cuda")
                      for p in params):
        try:
            return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _cache_normalisation(net: Any) -> list[Any]:
    """Switch on PyG's ``cached`` normalisation of the convolutions that have one (GCNConv):
    right while one graph trains full-batch; :func:`_uncache_normalisation` undoes it."""
    convs = [m for m in net.modules() if hasattr(m, "cached") and hasattr(m, "_cached_edge_index")
             and not m.cached]
    for conv in convs:
        conv.cached = True
    return convs


def _uncache_normalisation(convs: list[Any]) -> None:
    for conv in convs:
        conv.cached = False
        conv._cached_edge_index = None
        if hasattr(conv, "_cached_adj_t"):
            conv._cached_adj_t = None


def _validation(labelled: Any, labels: Any, val_size: Any, seed: int) -> tuple[Any, Any]:
    """Positions (into ``labelled``) that train and that validate for early stopping."""
    import numpy as np

    n = len(labelled)
    if val_size == "auto":
        val_size = 0.2 if n >= 50 else 0.0
    if not val_size:
        return np.arange(n), np.arange(0)
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    counts = np.bincount(labels)
    cls = StratifiedShuffleSplit if counts[counts > 0].min() >= 2 else ShuffleSplit
    try:
        tr, va = next(cls(1, test_size=val_size, random_state=seed).split(np.zeros(n), labels))
    except ValueError as exc:
        raise ConfigError(f"model.params.val_size={val_size}: {exc}") from None
    return np.sort(tr), np.sort(va)


def _device(device: str) -> str:
    from kampai.plugin import torch_device

    return torch_device(device)


def _amp(model: GraphModel) -> Any:
    """bf16 autocast on GPUs that support it (``amp: auto``/``true``); nothing on CPU."""
    import contextlib

    import torch

    amp = model.train.get("amp", "auto")
    if model.device.startswith("cuda") and amp in ("auto", True) and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _node_frame(gs: Any) -> Any:
    import pandas as pd

    frames = [g.features for g in gs.graphs]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
