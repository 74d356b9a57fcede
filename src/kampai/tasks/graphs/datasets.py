"""Graphs that ship inside PyG and networkx (no download): ``pyg:karate``,
``networkx:karate`` and ``networkx:atlas``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampai.plugin import DataError

if TYPE_CHECKING:
    import pandas as pd

NODE_TASK, GRAPH_TASK = "node-classification", "graph-classification"


def karate_pyg() -> pd.DataFrame:
    """PyG's KarateClub (ships inside torch_geometric): 34 members, 4 communities."""
    import warnings

    import pandas as pd

    try:
        with warnings.catch_warnings():  # torch_geometric's import scripts a module with torch.jit
            warnings.simplefilter("ignore", FutureWarning)
            from torch_geometric.datasets import KarateClub
    except ImportError:
        raise DataError("pyg:karate ships with PyTorch Geometric: pip install 'kampai[pyg]'.") from None
    data = KarateClub()[0]
    nodes = pd.DataFrame({"id": range(data.num_nodes), "label": data.y.numpy()})
    ei = data.edge_index.numpy()
    upper = ei[0] < ei[1]
    nodes.attrs["edges"] = pd.DataFrame({"source": ei[0][upper], "target": ei[1][upper]})
    return nodes


def _networkx() -> Any:
    try:
        import networkx as nx
    except ImportError:
        raise DataError("The networkx graphs ship with networkx: pip install 'kampai[pyg]'.") from None
    return nx


def karate_networkx() -> pd.DataFrame:
    """networkx's Zachary karate club: 34 members, club Mr. Hi or Officer, weighted edges."""
    import pandas as pd

    g = _networkx().karate_club_graph()
    nodes = pd.DataFrame({"id": list(g.nodes), "club": [g.nodes[n]["club"] for n in g.nodes]})
    nodes.attrs["edges"] = pd.DataFrame([(u, v, d.get("weight", 1)) for u, v, d in g.edges(data=True)],
                                        columns=["source", "target", "weight"])
    return nodes


def atlas(max_nodes: int = 7) -> pd.DataFrame:
    """The connected graphs with 3..max_nodes nodes of networkx's bundled Atlas of Graphs,
    labelled ``bipartite`` or ``not_bipartite``; graph features: none (structure only)."""
    import pandas as pd

    nx = _networkx()
    rows, edges = [], []
    for i, g in enumerate(nx.graph_atlas_g()):
        if not 3 <= g.number_of_nodes() <= max_nodes or not nx.is_connected(g):
            continue
        rows.append({"graph_id": i, "label": "bipartite" if nx.is_bipartite(g) else "not_bipartite"})
        edges += [(i, u, v) for u, v in g.edges]
    graphs = pd.DataFrame(rows)
    graphs.attrs["edges"] = pd.DataFrame(edges, columns=["graph_id", "source", "target"])
    return graphs


def register_datasets(registry: Any) -> None:
    registry.add("pyg:karate", karate_pyg, task=NODE_TASK, target="label",
                 description="PyG's KarateClub: 34 nodes, 78 edges, 4 communities (id, label; edges bundled)")
    registry.add("networkx:karate", karate_networkx, task=NODE_TASK, target="club",
                 description="networkx's Zachary karate club: 34 nodes, weighted edges, Mr. Hi vs Officer")
    registry.add("networkx:atlas", atlas, task=GRAPH_TASK, target="label",
                 description="networkx's Atlas of Graphs: 994 connected graphs of 3-7 nodes, bipartite or not")
