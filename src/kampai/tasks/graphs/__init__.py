"""Graph tasks: ``node-classification`` and ``graph-classification`` (entry point ``graphs``);
one module per job: :mod:`.data` the data contract, :mod:`.task` the two tasks, :mod:`.splits`,
:mod:`.metrics`, :mod:`.datasets` (bundled graphs), :mod:`.settings` (config keys),
:mod:`.baselines` (the non-GNN baselines).

Node classification
    A nodes table (an id column, a label column, any feature columns) and an edges table
    (source and target id columns, an optional weight column): ``--data nodes.csv --edges
    edges.csv --target label``.  Nodes with a missing label are *unlabelled*: they are in
    the graph the model trains on (transductive) and are predicted, never scored.  The
    splits ``node_holdout`` (default) and ``node_kfold`` stratify over the labelled nodes
    only; the whole graph is seen, only labels are held out.

Graph classification
    A graphs table (graph id, label, optional graph-level features) and an edges table with
    a graph-id column, optionally a per-node features table (``data.nodes``).  Splits are
    the usual ``stratified``/``stratified_kfold`` over graphs.

Edges naming unknown nodes are an error (how many, and examples); self-loops are dropped;
duplicate edges are merged (their weights summed); undirected graphs (the default) get
both directions.  Graphs without node features get structural ones (``data.structural``:
the task chooses which, the framework plugin computes them; PyG: log degree, weighted degree,
a random-walk positional encoding, Laplacian eigenvectors).

Bundled graphs (no download): ``pyg:karate`` (PyG's KarateClub, 4 communities),
``networkx:karate`` (networkx's Zachary club, Mr. Hi vs Officer, weighted edges),
``networkx:atlas`` (graph classification: the connected graphs of 3 to 7 nodes from
networkx's bundled *Atlas of Graphs*, labelled bipartite or not).
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl
from kampai.tasks.graphs.data import GRAPH_TASK, NODE_TASK, TASKS, build_edges, with_edges
from kampai.tasks.graphs.datasets import atlas, karate_networkx, karate_pyg, register_datasets
from kampai.tasks.graphs.splits import node_holdout, node_kfold
from kampai.tasks.graphs.task import GraphClassification, NodeClassification

__all__ = ["GRAPH_TASK", "NODE_TASK", "TASKS", "GraphClassification", "NodeClassification", "atlas",
           "build_edges", "karate_networkx", "karate_pyg", "node_holdout", "node_kfold", "with_edges"]


@hookimpl
def kampai_register_tasks(registry: Any) -> None:
    registry.add(NodeClassification())
    registry.add(GraphClassification())


@hookimpl
def kampai_register_metrics(registry: Any) -> None:
    from kampai.tasks.graphs.metrics import metrics

    for metric in metrics():
        registry.add(metric)


@hookimpl
def kampai_register_splitters(registry: Any) -> None:
    registry.add("node_holdout", node_holdout, cv=False,
                 description="graphs: stratified holdout of labelled nodes (whole graph seen)")
    registry.add("node_kfold", node_kfold, cv=True,
                 description="graphs: stratified k-fold over labelled nodes (whole graph seen)")


@hookimpl
def kampai_register_datasets(registry: Any) -> None:
    register_datasets(registry)


@hookimpl
def kampai_add_settings(settings: Any) -> None:
    from kampai.tasks.graphs.settings import add_settings

    add_settings(settings)
