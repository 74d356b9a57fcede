"""kampai's PyG framework vs a plain PyTorch Geometric script: node classification.

Graphs: PyG's KarateClub (``pyg:karate``, 34 nodes, featureless: structural features) and
a larger real graph built offline: scikit-learn's handwritten digits (1,797 images, 64
pixel features, 10 classes) as a 10-nearest-neighbour graph (17,970 edges before
symmetrising).  Both sides do the whole job: read the nodes and edges tables, build the
undirected edge index, the node features (karate: log degree + random-walk + Laplacian
encodings with kampai's numpy functions; digits: standardised pixels), split the labelled
nodes 80/20 stratified (same seed), train the same GCN (2 layers, 64 hidden, dropout 0.5,
Adam lr 0.01, weight decay 5e-4) full-batch for the same epochs, score test accuracy and
save the state_dict.  kampai also writes its run folder.  Runs alternate; medians of the
wall times are compared (target: kampai / plain <= 1.10).  Memory: the process RSS at epoch
1 and epoch 20 of kampai's fit on the digits graph (full batch; mini-batches need pyg-lib or
torch-sparse, which this machine lacks).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/graphs.py [--repeats 3] [--epochs 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", category=FutureWarning)
SEED = 42


def digits_graph(k: int = 10):
    import pandas as pd
    from sklearn.datasets import load_digits
    from sklearn.neighbors import NearestNeighbors

    digits = load_digits()
    nodes = pd.DataFrame(digits.data, columns=[f"p{i}" for i in range(64)])
    nodes.insert(0, "id", range(len(nodes)))
    nodes["label"] = digits.target
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(digits.data).kneighbors(digits.data)
    edges = pd.DataFrame({"source": idx[:, :1].repeat(k, 1).ravel(), "target": idx[:, 1:].ravel()})
    return nodes, edges


def karate_graph():
    from kampai.tasks.graphs import karate_pyg

    nodes = karate_pyg()
    edges = nodes.attrs["edges"]
    nodes.attrs = {}
    return nodes, edges


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def plain(nodes_csv: Path, edges_csv: Path, epochs: int, featureless: bool, out: Path) -> float:
    """The plain PyG script: returns test accuracy."""
    import numpy as np
    import pandas as pd
    import torch
    from sklearn.model_selection import StratifiedShuffleSplit
    from torch_geometric.nn.models import GCN
    from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

    from kampai.tasks.graphs import structural_features

    nodes, edges = pd.read_csv(nodes_csv), pd.read_csv(edges_csv)
    pos = pd.Index(nodes["id"].astype(str))
    ei = torch.tensor(np.vstack([pos.get_indexer(edges["source"].astype(str)),
                                 pos.get_indexer(edges["target"].astype(str))]), dtype=torch.long)
    ei = coalesce(to_undirected(remove_self_loops(ei)[0]), num_nodes=len(nodes))
    if featureless:
        x = structural_features(len(nodes), ei.numpy(), ("degree", "rwpe", "laplacian"), 8)
    else:
        f = nodes.drop(columns=["id", "label"]).to_numpy(float)
        std = f.std(0)
        x = ((f - f.mean(0)) / np.where(std > 0, std, 1)).astype(np.float32)
    x = torch.as_tensor(x, dtype=torch.float32)
    classes = sorted(nodes["label"].unique())
    y = torch.as_tensor(nodes["label"].map({c: i for i, c in enumerate(classes)}).to_numpy())
    train, test = next(StratifiedShuffleSplit(1, test_size=0.2, random_state=SEED).split(np.zeros(len(y)), y))
    train, test = torch.as_tensor(np.sort(train)), torch.as_tensor(np.sort(test))
    torch.manual_seed(SEED)
    net = GCN(x.shape[1], 64, 2, out_channels=len(classes), dropout=0.5)
    opt = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=5e-4)
    torch.manual_seed(SEED)
    for _ in range(epochs):
        net.train()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x, ei)[train], y[train])
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        acc = float((net(x, ei)[test].argmax(1) == y[test]).float().mean())
    torch.save(net.state_dict(), out / "plain.pt")
    return acc


def with_kampai(nodes_csv: Path, edges_csv: Path, epochs: int, runs: Path) -> tuple[float, float]:
    import kampai

    run = kampai.train(task="node-classification", framework="pyg", data=str(nodes_csv), target="label",
                       model="GCN", params={"epochs": epochs, "val_size": 0, "hidden_channels": 64,
                                            "num_layers": 2, "dropout": 0.5, "lr": 0.01, "weight_decay": 5e-4},
                       split={"method": "node_holdout", "test_size": 0.2, "seed": SEED},
                       overrides=[f"data.edges={edges_csv}", f"output.runs_dir={runs}", "device=cpu"],
                       verbose=False)
    return run.metrics["accuracy"], run.meta["fit_seconds"]


def memory(nodes, edges) -> tuple[float, float]:
    from kampai.core.host import get_host  # the benchmark may look inside; plugins may not
    from kampai.plugin import BuildContext
    from kampai.plugins.pyg.framework import PyGFramework
    from kampai.tasks.graphs import NodeClassification, with_edges

    task = NodeClassification()
    data = task.prepare(with_edges(nodes, edges), {"target": "label"}, training=True)
    fw = PyGFramework()
    model = fw.build(task, {"estimator": "GCN", "params": {"epochs": 20, "val_size": 0}}, data,
                     BuildContext(seed=SEED, device="cpu", resolve=get_host().estimators().resolve))
    seen: dict[int, float] = {}
    fw.fit_incremental(model, data, task, lambda step, m: seen.__setitem__(step, rss_mib()))
    return seen[0], seen[19]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("KAMPAI_BLOCK_PLUGINS", "mlflow")
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = []
        for name, (nodes, edges), featureless in (("karate", karate_graph(), True),
                                                  ("digits-knn", digits_graph(), False)):
            nodes_csv, edges_csv = folder / f"{name}_nodes.csv", folder / f"{name}_edges.csv"
            nodes.to_csv(nodes_csv, index=False)
            edges.to_csv(edges_csv, index=False)
            with_kampai(nodes_csv, edges_csv, 2, folder / "warm")  # imports and caches warm
            plain(nodes_csv, edges_csv, 2, featureless, folder)
            k_wall, p_wall, k_acc, p_acc = [], [], 0.0, 0.0
            for _ in range(args.repeats):
                start = time.perf_counter()
                k_acc, _fit = with_kampai(nodes_csv, edges_csv, args.epochs, folder / "runs")
                k_wall.append(time.perf_counter() - start)
                start = time.perf_counter()
                p_acc = plain(nodes_csv, edges_csv, args.epochs, featureless, folder)
                p_wall.append(time.perf_counter() - start)
            k, p = statistics.median(k_wall), statistics.median(p_wall)
            rows.append((name, len(nodes), len(edges), k, p, k / p, k_acc, p_acc))
        print(f"GCN, {args.epochs} epochs full batch, 80/20 stratified split, median of {args.repeats}, "
              f"torch threads {torch.get_num_threads()}")
        print(f"{'graph':<12}{'nodes':>7}{'edges':>8}{'kampai s':>10}{'plain s':>9}{'ratio':>7}"
              f"{'kampai acc':>12}{'plain acc':>11}")
        for name, n, e, k, p, r, ka, pa in rows:
            print(f"{name:<12}{n:>7}{e:>8}{k:>10.3f}{p:>9.3f}{r:>7.2f}{ka:>12.4f}{pa:>11.4f}")
        first, twentieth = memory(*digits_graph())
        print(f"RSS during kampai's fit on digits-knn: epoch 1 {first:.1f} MiB, epoch 20 {twentieth:.1f} MiB")


if __name__ == "__main__":
    main()
