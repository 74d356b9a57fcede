"""kampai's PyG framework vs a plain PyTorch Geometric script: node classification.

Graphs: PyG's KarateClub (``pyg:karate``, 34 nodes, featureless: structural features) and
a larger real graph built offline: scikit-learn's handwritten digits (1,797 images, 64
pixel features, 10 classes) as a 10-nearest-neighbour graph (17,970 edges before
symmetrising).  Both sides do the whole job: read the nodes and edges tables, build the
undirected edge index, the node features (karate: log degree + random-walk + Laplacian
encodings with kampai's numpy functions; digits: standardised pixels), split the labelled
nodes 80/20 stratified (same seed), train the same GCN (2 layers, 64 hidden, dropout 0.5,
Adam lr 0.01, weight decay 5e-4) full-batch for the same epochs, score test accuracy and
save the state_dict.  kampai also writes its run folder (5 metrics, predictions, config,
manifest, signature).

Three sides, run in turn (interleaved), medians of wall and CPU seconds:
``plain`` is the PyG tutorial loop; ``plain-tuned`` is that loop with the two settings
kampai's loop uses (``GCN(cached=True)``: the normalised adjacency computed once, as PyG
documents for transductive training; ``Adam(fused=True)``), so ``kampai / plain-tuned``
is kampai's own overhead.  ``--cold`` also runs each side as a fresh process, imports and
interpreter exit included, kampai first and plain first in turn: ``python -m kampai train``
with the same two CSV files, 100 epochs, ``val_size=0`` and the same split (it writes its
run folder: model, ``graph.npz``, metrics, predictions, config, manifest; its ``report.html``
comes from the detached low-priority process ``runner train`` starts, whose CPU is not in
the kampai column, as the user does not wait for it) vs this file's ``--plain-script``
(reads the CSVs, trains, writes ``plain.pt``).  Both run with MLflow tracking blocked
(``KAMPAI_BLOCK_PLUGINS=mlflow``) and torch at ``OMP_NUM_THREADS`` threads.
Memory: a fresh process trains GCN on digits-knn in neighbour-sampled mini-batches
(batch 256, fan-out [10, 10]) and prints its RSS and peak RSS at epoch 1 and epoch 20.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/graphs.py [--repeats 5] [--epochs 100] [--cold]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
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


def plain(nodes_csv: Path, edges_csv: Path, epochs: int, featureless: bool, out: Path, tuned: bool = False) -> float:
    """The plain PyG script: returns test accuracy (``tuned``: cached GCN normalisation, fused Adam)."""
    import numpy as np
    import pandas as pd
    import torch
    from sklearn.model_selection import StratifiedShuffleSplit
    from torch_geometric.nn.models import GCN
    from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

    from kampai.plugins.pyg.structural import structural_features

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
    y = torch.as_tensor(nodes["label"].map({c: i for i, c in enumerate(classes)}).to_numpy().copy())
    train, test = next(StratifiedShuffleSplit(1, test_size=0.2, random_state=SEED).split(np.zeros(len(y)), y))
    train, test = torch.as_tensor(np.sort(train)), torch.as_tensor(np.sort(test))
    torch.manual_seed(SEED)
    net = GCN(x.shape[1], 64, 2, out_channels=len(classes), dropout=0.5, **({"cached": True} if tuned else {}))
    opt = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=5e-4, **({"fused": True} if tuned else {}))
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


def memory(epochs: int = 20) -> list[tuple[int, float, float]]:
    """RSS and peak RSS (MiB) after each epoch of kampai's mini-batch fit on digits-knn."""
    from kampai.core.host import get_host  # the benchmark may look inside; plugins may not
    from kampai.plugin import BuildContext
    from kampai.plugins.pyg.framework import PyGFramework
    from kampai.tasks.graphs import NodeClassification, with_edges

    nodes, edges = digits_graph()
    task = NodeClassification()
    data = task.prepare(with_edges(nodes, edges), {"target": "label"}, training=True)
    fw = PyGFramework()
    params = {"epochs": epochs, "val_size": 0, "batch_size": 256, "num_neighbors": [10, 10]}
    model = fw.build(task, {"estimator": "GCN", "params": params}, data,
                     BuildContext(seed=SEED, device="cpu", resolve=get_host().estimators().resolve))
    seen: list[tuple[int, float, float]] = []
    fw.fit_incremental(model, data, task, lambda step, m: seen.append((step + 1, rss_mib(), peak_mib())))
    return seen


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def timed_process(cmd: list[str]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), child_cpu()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - wall, child_cpu() - cpu


SIDES = ("kampai", "plain", "plain-tuned")


def table(title: str, rows: list, accuracy: bool) -> None:
    print(title)
    head = f"{'graph':<12}{'nodes':>6}{'edges':>7}"
    for side in SIDES:
        head += f"{side + ' wall':>18}{'cpu':>7}"
    head += f"{'k/plain wall':>13}{'cpu':>6}{'k/tuned wall':>13}{'cpu':>6}"
    if accuracy:
        head += f"{'acc k':>7}{'plain':>7}{'tuned':>7}"
    print(head)
    for name, n, e, med, acc in rows:
        line = f"{name:<12}{n:>6}{e:>7}"
        for side in SIDES:
            line += f"{med[side][0]:>18.3f}{med[side][1]:>7.3f}"
        for ref in ("plain", "plain-tuned"):
            line += f"{med['kampai'][0] / med[ref][0]:>13.2f}{med['kampai'][1] / med[ref][1]:>6.2f}"
        if accuracy:
            line += "".join(f"{acc[side]:>7.3f}" for side in SIDES)
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--cold", action="store_true", help="also time each side as a fresh process")
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plain-script", nargs=4, metavar=("NODES", "EDGES", "FEATURELESS", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("KAMPAI_BLOCK_PLUGINS", "mlflow")
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # both sides, fresh processes too
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if args.plain_script:
        nodes_csv, edges_csv, featureless, out = args.plain_script
        plain(Path(nodes_csv), Path(edges_csv), args.epochs, featureless == "1", Path(out))
        return
    if args.memory_only:
        seen = memory()
        for epoch, rss, peak in seen:
            if epoch in (1, 20):
                print(f"epoch {epoch}: RSS {rss:.1f} MiB, peak RSS {peak:.1f} MiB")
        return
    print(f"load average before: {load()} ({os.cpu_count()} CPUs); torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warm_rows, cold_rows = [], []
        for name, (nodes, edges), featureless in (("karate", karate_graph(), True),
                                                  ("digits-knn", digits_graph(), False)):
            nodes_csv, edges_csv = folder / f"{name}_nodes.csv", folder / f"{name}_edges.csv"
            nodes.to_csv(nodes_csv, index=False)
            edges.to_csv(edges_csv, index=False)
            with_kampai(nodes_csv, edges_csv, 2, folder / "warm")  # imports and caches warm
            plain(nodes_csv, edges_csv, 2, featureless, folder)
            acc: dict[str, float] = {}
            job = (nodes_csv, edges_csv, args.epochs)
            runs = {
                "kampai": lambda job=job, acc=acc: acc.__setitem__("kampai", with_kampai(*job, folder / "runs")[0]),
                "plain": lambda job=job, acc=acc, f=featureless: acc.__setitem__("plain", plain(*job, f, folder)),
                "plain-tuned": lambda job=job, acc=acc, f=featureless: acc.__setitem__(
                    "plain-tuned", plain(*job, f, folder, tuned=True)),
            }
            times: dict[str, list[tuple[float, float]]] = {side: [] for side in SIDES}
            for i in range(args.repeats):
                for side in SIDES[i % 3:] + SIDES[:i % 3]:  # rotate who goes first
                    times[side].append(timed(runs[side]))
            med = {side: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
                   for side, t in times.items()}
            warm_rows.append((name, len(nodes), len(edges), med, acc))
            if args.cold:
                env_py = sys.executable
                cmds = {
                    "kampai": [env_py, "-m", "kampai", "train", "--task", "node-classification", "--framework",
                               "pyg", "--data", str(nodes_csv), "--edges", str(edges_csv), "--target", "label",
                               "--model", "GCN", "--device", "cpu", "--runs-dir", str(folder / "cold"),
                               f"model.params.epochs={args.epochs}", "model.params.val_size=0",
                               "split.method=node_holdout", "split.test_size=0.2", f"split.seed={SEED}"],
                    "plain": [env_py, __file__, "--epochs", str(args.epochs), "--plain-script", str(nodes_csv),
                              str(edges_csv), "1" if featureless else "0", str(folder)],
                }
                cold: dict[str, list[tuple[float, float]]] = {"kampai": [], "plain": []}
                for i in range(args.repeats):
                    for side in (("kampai", "plain") if i % 2 == 0 else ("plain", "kampai")):
                        cold[side].append(timed_process(cmds[side]))
                cold_rows.append((name, {side: (statistics.median(w for w, _ in t),
                                                statistics.median(c for _, c in t)) for side, t in cold.items()}))
        table(f"In-process (warm imports): GCN, {args.epochs} epochs full batch, 80/20 stratified split, "
              f"median of {args.repeats}, seconds", warm_rows, accuracy=True)
        if cold_rows:
            print(f"Fresh processes (imports included), median of {args.repeats}, seconds")
            print(f"{'graph':<12}{'kampai wall':>12}{'cpu':>7}{'plain wall':>12}{'cpu':>7}{'ratio wall':>11}"
                  f"{'cpu':>6}")
            for name, med in cold_rows:
                k, p = med["kampai"], med["plain"]
                print(f"{name:<12}{k[0]:>12.3f}{k[1]:>7.3f}{p[0]:>12.3f}{p[1]:>7.3f}{k[0] / p[0]:>11.2f}"
                      f"{k[1] / p[1]:>6.2f}")
    print(f"load average after: {load()}")
    out = subprocess.run([sys.executable, __file__, "--memory-only"], check=True, capture_output=True, text=True)
    print("Memory, kampai's GCN fit on digits-knn in mini-batches (batch 256, fan-out [10, 10]), fresh process:")
    print(out.stdout.rstrip())


if __name__ == "__main__":
    main()
