"""Training a PyG network: full-batch or neighbour-sampled mini-batches (node
classification), mini-batches of whole graphs (graph classification), early stopping on a
validation part of the labels that keeps the best epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kampai.plugin import ConfigError, TaskData
from kampai.plugin.io import to_python
from kampai.plugins.pyg.graph_model import NODE_TASK, GraphModel, _takes_weight

LARGE_GRAPH_EDGES = 2_000_000


class Training:
    """The PyG adapter's ``fit`` and ``fit_incremental`` (``self._node_tensors``/``_graph_list``
    are :class:`~.tensors.Tensors`')."""
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
        labels = np.array([index[to_python(v)] for v in data.y.iloc[labelled]], dtype=np.int64)
        train_pos, val_pos = _validation(labelled, labels, model.train["val_size"], model.seed)
        train_pos, val_pos = labelled[train_pos], labelled[val_pos]  # positions into data
        dist, fwd = model.distributed, net  # DDP: this rank's equal share of the training examples
        if dist is not None:
            train_pos, fwd = train_pos[dist.shard(len(train_pos))], dist.wrap(net)
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
                from kampai.plugin.cli import warn

                warn(f"The graph has {graph.num_edges} edges and trains full-batch: {hint}.", once=True)
            if model.train["batch_size"] is not None:
                loader = _neighbor_loader(model, x.cpu(), ei.cpu(), y_all.cpu(), None if w is None else w.cpu(),
                                          tr.cpu())

            def epoch_step() -> float:
                net.train()
                if loader is None:
                    opt.zero_grad()
                    with amp:
                        out = fwd(x, ei, edge_weight=w) if weighted else fwd(x, ei)
                        loss = torch.nn.functional.cross_entropy(out[tr].float(), y_all[tr])
                    loss.backward()
                    opt.step()
                    return float(loss.detach())
                return _minibatch_epoch(net, opt, amp, device, loader, seed_loss, len(tr))

            def seed_loss(batch: Any) -> tuple[Any, int]:  # the loss on the batch's seed nodes
                if weighted:
                    out = fwd(batch.x, batch.edge_index, edge_weight=batch.edge_weight)
                else:
                    out = fwd(batch.x, batch.edge_index)
                out = out[:batch.batch_size]
                return torch.nn.functional.cross_entropy(out.float(), batch.y[:batch.batch_size]), batch.batch_size

            def val_loss() -> float:
                net.eval()
                with torch.no_grad(), amp:
                    out = net(x, ei, edge_weight=w) if weighted else net(x, ei)
                    return float(torch.nn.functional.cross_entropy(out[va].float(), y_all[va]))
        else:
            from torch_geometric.loader import DataLoader

            items = self._graph_list(model, data.X, data.y)
            size = int(model.train["batch_size"] or 32)
            if dist is not None:  # batch_size is the global batch, split over the ranks
                size = max(1, -(-size // dist.world_size))
            gen = torch.Generator().manual_seed(model.seed)
            loader = DataLoader([items[i] for i in train_pos], batch_size=size, shuffle=True, generator=gen)
            val_loader = DataLoader([items[i] for i in val_pos], batch_size=size)

            def epoch_step() -> float:
                return _minibatch_epoch(net, opt, amp, device, loader, graph_loss, len(train_pos))

            def graph_loss(batch: Any) -> tuple[Any, int]:
                return torch.nn.functional.cross_entropy(fwd(batch).float(), batch.y), batch.num_graphs

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
        if dist is not None:  # the same validation loss on every rank: one early-stopping decision
            own_val_loss = val_loss

            def val_loss() -> float:
                return dist.mean(own_val_loss())
        try:
            self._epochs(model, net, epoch_step, val_loss, len(val_pos), report)
        finally:
            _uncache_normalisation(cached)
        net.eval()
        model.distributed = None  # a process group is not part of the model
        return model

    def _epochs(self, model: GraphModel, net: Any, epoch_step: Callable[[], float], val_loss: Callable[[], float],
                n_val: int, report: Callable[[int, Any], None]) -> None:
        from kampai.plugin.cli import epoch_progress

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


def _minibatch_epoch(net: Any, opt: Any, amp: Any, device: Any, loader: Any,
                     batch_loss: Callable[[Any], tuple[Any, int]], n: int) -> float:
    """One training epoch over mini-batches (sampled node neighbourhoods, or whole graphs):
    ``batch_loss(batch)`` gives the batch's mean loss and how many examples it averages;
    returns the mean loss per example over the ``n`` training examples."""
    net.train()
    total = 0.0
    for batch in loader:
        batch = batch.to(device)
        opt.zero_grad()
        with amp:
            loss, count = batch_loss(batch)
        loss.backward()
        opt.step()
        total += float(loss.detach()) * count
    return total / max(1, n)

def _extension() -> str | None:
    import torch_geometric.typing as t

    return "pyg-lib" if t.WITH_PYG_LIB else "torch-sparse" if t.WITH_TORCH_SPARSE else None


def _neighbor_loader(model: GraphModel, x: Any, ei: Any, y: Any, w: Any, seeds: Any) -> Any:
    """Mini-batches of seed nodes with their sampled neighbourhoods: PyG's NeighborLoader
    when pyg-lib or torch-sparse is there, else kampai's plain-torch sampler in PyG's
    NodeLoader (same batches' shape; sampling slower on large graphs)."""
    import torch
    from torch_geometric.data import Data

    from kampai.plugin.cli import warn

    pyg = Data(x=x, edge_index=ei, y=y, num_nodes=x.shape[0])
    if w is not None:
        pyg.edge_weight = w
    neighbors = [int(n) for n in model.train["num_neighbors"]]
    size = int(model.train["batch_size"])
    if model.distributed is not None:  # batch_size is the global batch, split over the ranks
        size = max(1, -(-size // model.distributed.world_size))
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


def _amp(model: GraphModel) -> Any:
    """bf16 autocast on GPUs that support it (``amp: auto``/``true``); nothing on CPU."""
    import contextlib

    import torch

    amp = model.train.get("amp", "auto")
    if model.device.startswith("cuda") and amp in ("auto", True) and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
