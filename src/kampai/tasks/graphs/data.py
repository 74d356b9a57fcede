"""The graph tasks' data contract: reading the nodes/graphs and edges tables, finding the
id, source, target and weight columns, cleaning edges (unknown ids an error, self-loops
dropped, duplicates merged, both directions when undirected), choosing the structural
features a featureless graph gets (the PyG plugin computes them), and the predictions table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampai.plugin import ConfigError, DataError, Prediction, TaskData
from kampai.plugin.io import check_columns

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NODE_TASK = "node-classification"
GRAPH_TASK = "graph-classification"
TASKS = (NODE_TASK, GRAPH_TASK)
STRUCTURAL = ("degree", "strength", "rwpe", "laplacian")
#: what ``data.structural: auto`` gives a featureless graph, per task (``strength`` only
#: when the edges have weights; Laplacian eigenvectors do not compare across graphs)
AUTO = {"node-classification": ("degree", "strength", "rwpe", "laplacian"),
        "graph-classification": ("degree", "strength", "rwpe")}
DEFAULT_PE_STEPS = 8
#: the keys of the ``data`` section both graph tasks read
DATA_KEYS = ("edges", "nodes", "node_id", "source", "target_node", "edge_weight", "graph_id", "directed",
             "structural", "pe_steps")



def read_table(path: Any, role: str) -> pd.DataFrame:
    import pandas as pd

    from kampai.plugin.io import read_frame

    if isinstance(path, pd.DataFrame):
        return path
    try:
        return read_frame(path)
    except DataError as exc:
        raise DataError(f"The {role} table: {exc}") from None


def pick_column(frame: pd.DataFrame, named: Any, guesses: tuple[str, ...], role: str, key: str,
                position: int | None = None, avoid: tuple[Any, ...] = ()) -> str:
    """The column for ``role``: the configured one, else an obvious name, else by position."""
    if named:
        if named not in frame.columns:
            from kampai.plugin import did_you_mean

            raise DataError(f"The {role} column '{named}' (data.{key}) is not in the table."
                            f"{did_you_mean(str(named), [str(c) for c in frame.columns])} "
                            f"Columns: {', '.join(map(str, frame.columns[:20]))}.")
        return str(named)
    lower = {str(c).lower(): str(c) for c in frame.columns}
    for guess in guesses:
        if guess in lower and lower[guess] not in avoid:
            return lower[guess]
    if position is not None:
        free = [str(c) for c in frame.columns if c not in avoid]
        if len(free) > position:
            return free[position]
    raise DataError(f"No {role} column found (columns: {', '.join(map(str, frame.columns[:20]))}): "
                    f"name it with data.{key}.")


#: the names a graphs table's id column is found by (case-insensitive)
GRAPH_ID_NAMES = ("graph_id", "graph", "id")


def shared_id(frame: pd.DataFrame, edges: pd.DataFrame, target: Any) -> str | None:
    """The graph id when data.graph_id is not set and the edges table has no column named
    like one: the one column the graphs and edges tables share (``scan`` in both), said in
    a line.  None when a name is found anyway, or when no single column is shared."""
    lower = {str(c).lower() for c in edges.columns}
    if "graph_id" in lower or "graph" in lower:
        return None
    shared = [str(c) for c in frame.columns if c in edges.columns and c != target]
    if len(shared) != 1:
        return None
    from kampai.plugin.cli import warn

    warn(f"Graph id: column '{shared[0]}', the one column the graphs and edges tables share "
         "(set data.graph_id to choose another).", once=True)
    return shared[0]


def edges_table(frame: pd.DataFrame, data_cfg: dict[str, Any]) -> pd.DataFrame:
    source = frame.attrs.get("edges")  # a frame that brings its own edges (with_edges) wins
    if source is None:
        source = data_cfg.get("edges")
    if source is None:
        raise DataError("No edges table: pass --edges FILE (CSV/Parquet with source and target node ids), "
                        "or set data.edges.")
    edges = read_table(source, "edges")
    if not len(edges):
        raise DataError("The edges table holds no rows.")
    return edges


def edge_columns(edges: pd.DataFrame, data_cfg: dict[str, Any],
                  skip: tuple[Any, ...] = ()) -> tuple[str, str, str | None]:
    src = pick_column(edges, data_cfg.get("source"), ("source", "src", "from", "u", "node1", "head"), "edge source",
                      "source", 0, skip)
    dst = pick_column(edges, data_cfg.get("target_node"), ("target", "dst", "to", "v", "node2", "tail"), "edge target",
                      "target_node", 0, (*skip, src))
    weight = data_cfg.get("edge_weight")
    if weight:
        check_columns(edges, [weight], "edge weight")
    elif "weight" in edges.columns:
        weight = "weight"
    return src, dst, weight


def with_edges(table: pd.DataFrame, edges: pd.DataFrame, nodes: pd.DataFrame | None = None) -> pd.DataFrame:
    """``table`` (nodes, or graphs) carrying its edges table (and a per-node table for graph
    classification), for the Python API: ``kampai.train(data=with_edges(nodes, edges), ...)``;
    these win over ``data.edges``/``data.nodes``."""
    out = table.copy()
    out.attrs["edges"] = edges
    if nodes is not None:
        out.attrs["nodes"] = nodes
    return out


def as_key(values: Any) -> np.ndarray:
    """Ids compared as strings, so 1 in a nodes table and '1' in an edges table match."""
    import numpy as np

    return np.asarray(values).astype(str)


def build_edges(ids: np.ndarray, src_ids: Any, dst_ids: Any, weight: Any, *, directed: bool,
                where: str = "") -> tuple[np.ndarray, np.ndarray | None, dict[str, int]]:
    """Edge positions for edges given by node id: unknown ids are an error, self-loops
    dropped, duplicates merged (weights summed), both directions when undirected."""
    import numpy as np
    import pandas as pd

    position = pd.Index(as_key(ids))
    if not position.is_unique:
        dupes = position[position.duplicated()].unique()[:5]
        raise DataError(f"Node ids are not unique{where}: {', '.join(map(str, dupes))} appear more than once.")
    src, dst = as_key(src_ids), as_key(dst_ids)
    s, d = position.get_indexer(src), position.get_indexer(dst)
    unknown = (s < 0) | (d < 0)
    if unknown.any():
        names = pd.unique(np.concatenate([src[s < 0], dst[d < 0]]))
        raise DataError(f"{int(unknown.sum())} edges{where} name {len(names)} node ids that the nodes table "
                        f"lacks (e.g. {', '.join(map(str, names[:5]))}). Add the nodes or drop those edges.")
    w = None if weight is None else np.asarray(weight, dtype=float)
    if w is not None and not np.isfinite(w).all():
        raise DataError(f"The edge weights{where} hold {int((~np.isfinite(w)).sum())} missing or infinite values.")
    stats = {"self_loops_dropped": int((s == d).sum())}
    keep = s != d
    s, d = s[keep], d[keep]
    w = None if w is None else w[keep]
    if not directed:
        s, d = np.concatenate([s, d]), np.concatenate([d, s])
        w = None if w is None else np.concatenate([w, w])
    table = pd.DataFrame({"s": s, "d": d, "w": 1.0 if w is None else w})
    merged = table.groupby(["s", "d"], sort=True, as_index=False)["w"].sum()
    stats["duplicates_merged"] = int(len(table) - len(merged))
    if not directed:  # each undirected duplicate shows twice above
        stats["duplicates_merged"] //= 2
    edge_index = np.vstack([merged["s"].to_numpy(np.int64), merged["d"].to_numpy(np.int64)])
    return edge_index, None if w is None else merged["w"].to_numpy(np.float32), stats


def structural_kinds(data_cfg: dict[str, Any], has_features: bool, task: str = "node-classification",
                     weighted: bool = False) -> tuple[str, ...]:
    """The structural features a graph gets (``data.structural``): ``auto`` gives a
    featureless graph those of :data:`AUTO` (``strength`` only when ``weighted``)."""
    value = data_cfg.get("structural", "auto")
    if value is None or value == "auto":
        return () if has_features else tuple(k for k in AUTO[task] if weighted or k != "strength")
    if value in ("none", False, "", []):
        return ()
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    for name in names:
        if name not in STRUCTURAL:
            from kampai.plugin import did_you_mean

            raise ConfigError(f"data.structural: unknown structural feature '{name}'.{did_you_mean(name, STRUCTURAL)}"
                              f" Use auto, none, or a list of {', '.join(STRUCTURAL)}.")
    return tuple(names)


def feature_frame(frame: pd.DataFrame, skip: set[Any], data_cfg: dict[str, Any]) -> pd.DataFrame:
    features = data_cfg.get("features")
    if features:
        check_columns(frame, list(features), "features")
        return frame[list(features)].reset_index(drop=True)
    drop = list(data_cfg.get("drop") or [])
    check_columns(frame, drop, "drop")
    return frame[[c for c in frame.columns if c not in skip and c not in drop]].reset_index(drop=True)


def is_directed(data_cfg: dict[str, Any]) -> bool:
    return bool(data_cfg.get("directed") or False)


def check_labels(task: str, y: pd.Series) -> None:
    labelled = y.dropna()
    if labelled.nunique() < 2:
        raise DataError(f"Task '{task}' needs at least 2 classes among the labelled rows; "
                        f"found {labelled.nunique()}.")



def prediction_table(ids: Any, id_name: str, data: TaskData, prediction: Prediction) -> pd.DataFrame:
    import pandas as pd

    out = pd.DataFrame({id_name: ids})
    if data.y is not None:
        out["target"] = data.y.to_numpy()
    out["prediction"] = prediction.y
    if prediction.proba is not None and prediction.classes is not None:
        for i, label in enumerate(prediction.classes):
            out[f"proba_{label}"] = prediction.proba[:, i]
    return out



def empty_frame(n: int) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(index=range(n))



def no_columns(n: int) -> np.ndarray:
    """An (n, 0) array: the task leaves ``Graph.structural`` empty and names the kinds in
    ``info["structural"]`` (with ``info["pe_steps"]``); the framework plugin computes them."""
    import numpy as np

    return np.zeros((n, 0), dtype=np.float32)
