"""Graphs in numpy/pandas form: what the graph tasks give their frameworks.

A :class:`Graph` is one whole graph (all its nodes and edges) plus ``select``, the
positions of the nodes a :class:`kampai.plugin.TaskData` is about: node classification is
transductive, so a train fold and a test fold share the same graph and differ only in
``select`` (``TaskData.take`` indexes ``select``, never the graph).  A :class:`GraphSet`
is a collection of graphs (graph classification), indexed per graph.

Nothing here imports torch: a framework turns these arrays into its own tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass
class Graph:
    """One graph.

    ``node_ids`` (n,) the node ids as given; ``features`` the raw node feature columns
    (a DataFrame of n rows, possibly with no columns); ``structural`` an (n, k) float array
    of ready structural columns (k may be 0: kampai's graph tasks leave it empty and name the
    kinds a framework computes in ``info["structural"]``/``info["pe_steps"]``); ``edge_index`` a
    (2, e) int64 array of node positions (both directions when the graph is undirected);
    ``edge_weight`` (e,) floats or None; ``select`` the node positions this view is about.
    ``reference`` is True for a view that names nodes of the *training* graph by id only
    (``runner predict --nodes``): ``node_ids[select]`` are then the ids asked for and the
    framework uses the graph it saved.
    """

    node_ids: np.ndarray
    features: pd.DataFrame
    structural: np.ndarray
    edge_index: np.ndarray
    edge_weight: np.ndarray | None = None
    select: np.ndarray | None = None
    directed: bool = False
    reference: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import numpy as np

        if self.select is None:
            self.select = np.arange(len(self.node_ids))

    @property
    def num_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    def __len__(self) -> int:
        return len(self.select)

    def __getitem__(self, index: Any) -> Graph:
        import numpy as np

        return replace(self, select=np.asarray(self.select)[index])

    @property
    def selected_ids(self) -> np.ndarray:
        return self.node_ids[self.select]


@dataclass
class GraphSet:
    """Graphs with one label each: ``graphs[i]`` is a whole :class:`Graph`, ``graph_ids``
    their ids, ``features`` optional graph-level feature columns (one row per graph)."""

    graphs: list[Graph]
    graph_ids: np.ndarray
    features: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, index: Any) -> GraphSet:
        import numpy as np

        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return GraphSet(graphs=[self.graphs[int(i)] for i in index], graph_ids=self.graph_ids[index],
                        features=self.features.iloc[index], info=self.info)
