"""The config keys the graph tasks declare (``data.*`` and the predict options)."""

from __future__ import annotations

from typing import Any

from kampai.tasks.graphs.data import DEFAULT_PE_STEPS


def add_settings(settings: Any) -> None:
    from kampai.plugin import Setting

    add = settings.add
    add(Setting("data.edges", None, "graphs: edges table (CSV/Parquet: source, target[, weight][, graph_id]); "
                "predict: the edges of the graph --data gives", type=str, option="--edges",
                commands=("train", "tune", "predict")))
    add(Setting("data.nodes", None, "graph classification: per-node features table (graph_id, node_id, ...)",
                type=str, option="--nodes-table"))
    add(Setting("data.node_id", None, "graphs: node id column (default: id/node/first column)", type=str,
                option="--node-id"))
    add(Setting("data.source", None, "graphs: edge source column (default: source/src/from/first)", type=str,
                option="--source"))
    add(Setting("data.target_node", None, "graphs: edge target column (default: target/dst/to/second)", type=str,
                option="--target-node"))
    add(Setting("data.edge_weight", None, "graphs: edge weight column (default: 'weight' when present)",
                type=str, option="--edge-weight"))
    add(Setting("data.graph_id", None, "graph classification: graph id column (graphs and edges tables)",
                type=str, option="--graph-id"))
    add(Setting("data.directed", False, "graphs: edges are directed (default: undirected, both directions)",
                type=bool, option="--directed", option_value=True))
    add(Setting("data.structural", "auto", "graphs: structural node features: auto (when no features), none, "
                "or a list of degree,strength,rwpe,laplacian", type=(str, list), option="--structural"))
    add(Setting("data.pe_steps", DEFAULT_PE_STEPS, "graphs: random-walk positional encoding steps", type=int))
    add(Setting("predict.nodes", None, "node classification: predict these node ids (comma-separated)",
                type=str, option="--nodes", commands=("predict",)))
    add(Setting("predict.unlabelled", None, "node classification: predict only the nodes without a label",
                type=bool, option="--unlabelled", option_value=True, commands=("predict",)))
