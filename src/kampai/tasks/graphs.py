"""Graph tasks: ``node-classification`` and ``graph-classification`` (entry point ``graphs``).

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
both directions.  Graphs without node features get structural ones (log degree and a
random-walk positional encoding, ``data.structural``).

Bundled graphs (no download): ``pyg:karate`` (PyG's KarateClub, 4 communities),
``networkx:karate`` (networkx's Zachary club, Mr. Hi vs Officer, weighted edges),
``networkx:atlas`` (graph classification: the connected graphs of 3 to 7 nodes from
networkx's bundled *Atlas of Graphs*, labelled bipartite or not).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from kampai.plugin import ConfigError, DataError, Metric, Prediction, Task, TaskData, hookimpl, section_of
from kampai.plugin.io import check_columns, to_python

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from kampai.plugin import Graph

NODE_TASK = "node-classification"
GRAPH_TASK = "graph-classification"
TASKS = (NODE_TASK, GRAPH_TASK)
STRUCTURAL = ("degree", "rwpe", "laplacian")
#: what ``data.structural: auto`` gives a featureless graph, per task
AUTO = {"node-classification": ("degree", "rwpe", "laplacian"), "graph-classification": ("degree", "rwpe")}
DEFAULT_PE_STEPS = 8
#: the keys of the ``data`` section both graph tasks read
DATA_KEYS = ("edges", "nodes", "node_id", "source", "target_node", "edge_weight", "graph_id", "directed",
             "structural", "pe_steps")


# --------------------------------------------------------------------------------------
# Reading and checking tables
# --------------------------------------------------------------------------------------


def _read(path: Any, role: str) -> pd.DataFrame:
    import pandas as pd

    from kampai.plugin.io import read_frame

    if isinstance(path, pd.DataFrame):
        return path
    try:
        return read_frame(path)
    except DataError as exc:
        raise DataError(f"The {role} table: {exc}") from None


def _pick(frame: pd.DataFrame, named: Any, guesses: tuple[str, ...], role: str, key: str,
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


def _shared_id(frame: pd.DataFrame, edges: pd.DataFrame, target: Any) -> str | None:
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


def _edges_of(frame: pd.DataFrame, data_cfg: dict[str, Any]) -> pd.DataFrame:
    source = frame.attrs.get("edges")  # a frame that brings its own edges (with_edges) wins
    if source is None:
        source = data_cfg.get("edges")
    if source is None:
        raise DataError("No edges table: pass --edges FILE (CSV/Parquet with source and target node ids), "
                        "or set data.edges.")
    edges = _read(source, "edges")
    if not len(edges):
        raise DataError("The edges table holds no rows.")
    return edges


def _edge_columns(edges: pd.DataFrame, data_cfg: dict[str, Any],
                  skip: tuple[Any, ...] = ()) -> tuple[str, str, str | None]:
    src = _pick(edges, data_cfg.get("source"), ("source", "src", "from", "u", "node1", "head"), "edge source",
                "source", 0, skip)
    dst = _pick(edges, data_cfg.get("target_node"), ("target", "dst", "to", "v", "node2", "tail"), "edge target",
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


def _as_key(values: Any) -> np.ndarray:
    """Ids compared as strings, so 1 in a nodes table and '1' in an edges table match."""
    import numpy as np

    return np.asarray(values).astype(str)


def build_edges(ids: np.ndarray, src_ids: Any, dst_ids: Any, weight: Any, *, directed: bool,
                where: str = "") -> tuple[np.ndarray, np.ndarray | None, dict[str, int]]:
    """Edge positions for edges given by node id: unknown ids are an error, self-loops
    dropped, duplicates merged (weights summed), both directions when undirected."""
    import numpy as np
    import pandas as pd

    position = pd.Index(_as_key(ids))
    if not position.is_unique:
        dupes = position[position.duplicated()].unique()[:5]
        raise DataError(f"Node ids are not unique{where}: {', '.join(map(str, dupes))} appear more than once.")
    src, dst = _as_key(src_ids), _as_key(dst_ids)
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


def structural_features(n: int, edge_index: np.ndarray, kinds: tuple[str, ...], steps: int) -> np.ndarray:
    """Per-node structural features: ``degree`` is log(1 + in-degree), ``rwpe`` the
    probabilities of a random walk returning to its start after 1..steps steps."""
    import numpy as np

    columns = []
    if "degree" in kinds:
        degree = np.bincount(edge_index[1], minlength=n).astype(np.float64)
        columns.append(np.log1p(degree)[:, None])
    if "rwpe" in kinds and steps > 0:
        from scipy import sparse

        a = sparse.csr_matrix((np.ones(edge_index.shape[1]), (edge_index[0], edge_index[1])), shape=(n, n))
        out_degree = np.asarray(a.sum(axis=1)).ravel()
        inv = np.divide(1.0, out_degree, out=np.zeros(n), where=out_degree > 0)
        walk = sparse.diags(inv) @ a
        if n <= 4000:
            walk, power = walk.toarray(), np.eye(n)
        else:
            power = sparse.identity(n, format="csr")
        pe = []
        for _ in range(steps):
            power = power @ walk
            pe.append(np.asarray(power.diagonal()).ravel())
        columns.append(np.stack(pe, axis=1))
    if "laplacian" in kinds and steps > 0:
        columns.append(laplacian_pe(n, edge_index, steps))
    if not columns:
        return np.zeros((n, 0), dtype=np.float32)
    return np.hstack(columns).astype(np.float32)


def laplacian_pe(n: int, edge_index: np.ndarray, k: int) -> np.ndarray:
    """The eigenvectors of the ``k`` smallest non-trivial eigenvalues of the symmetric
    normalised Laplacian (signs fixed: each vector's largest entry is positive); zeros
    where the graph is too small."""
    import numpy as np
    from scipy import sparse
    from scipy.sparse.csgraph import laplacian

    out = np.zeros((n, k), dtype=np.float64)
    if n < 3:
        return out
    a = sparse.csr_matrix((np.ones(edge_index.shape[1]), (edge_index[0], edge_index[1])), shape=(n, n))
    a = ((a + a.T) > 0).astype(float)
    lap = laplacian(a, normed=True)
    m = min(k + 1, n - 1)
    if n <= 2000:
        values, vectors = np.linalg.eigh(lap.toarray())
    else:
        from scipy.sparse.linalg import eigsh

        values, vectors = eigsh(lap, k=m, which="SM", tol=1e-4)
    order = np.argsort(values)[1:m]
    vectors = vectors[:, order]
    signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])])
    out[:, :vectors.shape[1]] = vectors * np.where(signs == 0, 1, signs)
    return out


def structural_kinds(data_cfg: dict[str, Any], has_features: bool,
                     task: str = "node-classification") -> tuple[str, ...]:
    value = data_cfg.get("structural", "auto")
    if value is None or value == "auto":
        return () if has_features else AUTO[task]
    if value in ("none", False, "", []):
        return ()
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    for name in names:
        if name not in STRUCTURAL:
            from kampai.plugin import did_you_mean

            raise ConfigError(f"data.structural: unknown structural feature '{name}'.{did_you_mean(name, STRUCTURAL)}"
                              f" Use auto, none, or a list of {', '.join(STRUCTURAL)}.")
    return tuple(names)


def _feature_frame(frame: pd.DataFrame, skip: set[Any], data_cfg: dict[str, Any]) -> pd.DataFrame:
    features = data_cfg.get("features")
    if features:
        check_columns(frame, list(features), "features")
        return frame[list(features)].reset_index(drop=True)
    drop = list(data_cfg.get("drop") or [])
    check_columns(frame, drop, "drop")
    return frame[[c for c in frame.columns if c not in skip and c not in drop]].reset_index(drop=True)


def _directed(data_cfg: dict[str, Any]) -> bool:
    return bool(data_cfg.get("directed") or False)


def _check_labels(task: str, y: pd.Series) -> None:
    labelled = y.dropna()
    if labelled.nunique() < 2:
        raise DataError(f"Task '{task}' needs at least 2 classes among the labelled rows; "
                        f"found {labelled.nunique()}.")


# --------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------


def _format(ids: Any, id_name: str, data: TaskData, prediction: Prediction) -> pd.DataFrame:
    import pandas as pd

    out = pd.DataFrame({id_name: ids})
    if data.y is not None:
        out["target"] = data.y.to_numpy()
    out["prediction"] = prediction.y
    if prediction.proba is not None and prediction.classes is not None:
        for i, label in enumerate(prediction.classes):
            out[f"proba_{label}"] = prediction.proba[:, i]
    return out


class NodeClassification(Task):
    """Predict a label per node of one graph; unlabelled nodes are trained on transductively."""

    name = NODE_TASK
    description = "predict a label per node of a graph (nodes + edges tables; transductive)"
    needs_target = True
    default_split: ClassVar[dict[str, Any]] = {"method": "node_holdout"}
    default_metrics = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")
    input_kind = "graph"
    data_keys = DATA_KEYS
    capabilities = frozenset({"predict_options", "evaluation_split"})

    def example(self) -> tuple[pd.DataFrame, dict[str, Any]]:
        return karate_pyg(), {"target": "label"}

    def evaluation_split(self, data: TaskData, split_cfg: dict[str, Any]) -> TaskData:
        """``runner evaluate`` scores the labelled nodes only (the whole graph is predicted)."""
        import numpy as np

        if data.y is None:
            raise DataError("Evaluating needs the label column in the nodes table.")
        return data.take(np.flatnonzero(data.y.notna().to_numpy()))

    def prepare(self, frame: pd.DataFrame, data_cfg: dict[str, Any], *, training: bool) -> TaskData:
        import pandas as pd

        from kampai.plugin import Graph
        from kampai.plugin.io import default_target

        target = data_cfg.get("target") or default_target(data_cfg.get("path"))
        if training and not target:
            raise DataError(f"Task '{self.name}' needs a label column: set data.target or --target.")
        if target and training:
            check_columns(frame, [target], "label")
        node_id = _pick(frame, data_cfg.get("node_id"), ("id", "node", "node_id", "name"), "node id", "node_id",
                        0, (target,))
        edges = _edges_of(frame, data_cfg)
        src, dst, weight = _edge_columns(edges, data_cfg)
        directed = _directed(data_cfg)
        ids = frame[node_id].to_numpy()
        if pd.isna(frame[node_id]).any():
            raise DataError(f"The node id column '{node_id}' has {int(frame[node_id].isna().sum())} missing values.")
        edge_index, edge_weight, stats = build_edges(ids, edges[src], edges[dst],
                                                     edges[weight] if weight else None, directed=directed)
        features = _feature_frame(frame, {node_id, target}, data_cfg)
        kinds = structural_kinds(data_cfg, features.shape[1] > 0)
        steps = int(data_cfg.get("pe_steps") or DEFAULT_PE_STEPS)
        structural = structural_features(len(ids), edge_index, kinds, steps)
        graph = Graph(node_ids=_as_key(ids), features=features, structural=structural, edge_index=edge_index,
                      edge_weight=edge_weight, directed=directed,
                      info={"node_id": node_id, "structural": list(kinds), "pe_steps": steps, **stats})
        y = frame[target].reset_index(drop=True) if target and target in frame.columns else None
        if y is not None and training:
            _check_labels(self.name, y)
        if y is not None:
            graph.info["labelled"] = y.notna().to_numpy()
        edge_columns = [src, dst, *([weight] if weight else [])]
        return TaskData(X=graph, y=y, info={"features": [str(c) for c in features.columns], "node_id": node_id,
                                            "structural": list(kinds), "edges": edge_columns, **stats})

    def format_predictions(self, data: TaskData, prediction: Prediction) -> pd.DataFrame:
        graph: Graph = data.X
        return _format(graph.selected_ids, graph.info.get("node_id") or "node", data, prediction)

    def signature(self, data: TaskData) -> dict[str, Any]:
        graph = data.X
        out: dict[str, Any] = {"input_kind": self.input_kind,
                               "inputs": [{"name": str(c), "dtype": str(t)} for c, t in graph.features.dtypes.items()],
                               "node_id": graph.info.get("node_id"), "edges": data.info.get("edges"),
                               "structural": graph.info.get("structural"), "directed": graph.directed}
        if data.y is not None:
            out["classes"] = sorted({to_python(v) for v in data.y.dropna()}, key=str)
        return out

    def predict_input(self, data: TaskData | None, options: dict[str, Any], config: dict[str, Any]) -> TaskData:
        """Without data: the nodes of the training graph (``--nodes a,b``, ``--unlabelled``
        or all); with data: its nodes, narrowed the same way."""
        import numpy as np

        from kampai.plugin import Graph

        nodes = options.get("nodes")
        if isinstance(nodes, str):
            nodes = [n.strip() for n in nodes.split(",") if n.strip()]
        if nodes is not None and not len(nodes):  # --nodes '' is a mistake, not "no rows, exit 0"
            raise DataError("--nodes names no node ids: give ids such as --nodes 0,33, or leave --nodes out "
                            "to predict every node.")
        only_unlabelled = bool(options.get("unlabelled"))
        if data is None:
            # --unlabelled: the framework knows which training nodes had no label
            wanted = None if only_unlabelled or nodes is None else _as_key(nodes)
            graph = Graph(node_ids=np.asarray(wanted if wanted is not None else [], dtype=str),
                          features=_empty_frame(0), structural=np.zeros((0, 0), np.float32),
                          edge_index=np.zeros((2, 0), np.int64), reference=True,
                          info={"node_id": config.get("data", {}).get("node_id") or "node",
                                "all": wanted is None, "unlabelled": only_unlabelled})
            return TaskData(X=graph)
        graph = data.X
        keep = np.ones(graph.num_nodes, dtype=bool)
        if nodes is not None:
            wanted = set(_as_key(nodes))
            missing = wanted - set(graph.node_ids)
            if missing:
                raise DataError(f"--nodes names {len(missing)} ids that the graph lacks "
                                f"(e.g. {', '.join(sorted(missing)[:5])}).")
            keep &= np.isin(graph.node_ids, list(wanted))
        if only_unlabelled:
            if data.y is None:
                raise DataError("--unlabelled needs the label column in the data to tell which nodes lack one.")
            keep &= data.y.isna().to_numpy()
        index = np.flatnonzero(keep)
        return data.take(index)


def _empty_frame(n: int) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(index=range(n))


class GraphClassification(Task):
    """Predict one label per graph of a collection (molecules, brain networks)."""

    name = GRAPH_TASK
    description = "predict a label per graph (graphs table + edges table with a graph id)"
    needs_target = True
    default_split: ClassVar[dict[str, Any]] = {"method": "stratified"}
    default_metrics = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")
    input_kind = "graph"
    data_keys = DATA_KEYS

    def example(self) -> tuple[pd.DataFrame, dict[str, Any]]:
        return atlas(max_nodes=6), {"target": "label"}

    def prepare(self, frame: pd.DataFrame, data_cfg: dict[str, Any], *, training: bool) -> TaskData:
        import numpy as np
        import pandas as pd

        from kampai.plugin import Graph, GraphSet
        from kampai.plugin.io import default_target

        target = data_cfg.get("target") or default_target(data_cfg.get("path"))
        if training and not target:
            raise DataError(f"Task '{self.name}' needs a label column: set data.target or --target.")
        if target and training:
            check_columns(frame, [target], "label")
        edges = _edges_of(frame, data_cfg)
        named = data_cfg.get("graph_id") or _shared_id(frame, edges, target)
        gid = _pick(frame, named, GRAPH_ID_NAMES, "graph id", "graph_id", 0, (target,))
        graph_keys = _as_key(frame[gid])
        if len(set(graph_keys)) != len(graph_keys):
            raise DataError(f"Graph ids in '{gid}' are not unique: one row per graph in the graphs table.")
        egid = _pick(edges, named if named in edges.columns else None,
                     ("graph_id", "graph"), "graph id of the edges", "graph_id", None)
        src, dst, weight = _edge_columns(edges, data_cfg, (egid,))
        edge_graphs = _as_key(edges[egid])
        unknown = sorted(set(edge_graphs) - set(graph_keys))
        if unknown:
            raise DataError(f"The edges table names {len(unknown)} graph ids that the graphs table lacks "
                            f"(e.g. {', '.join(unknown[:5])}).")
        nodes_source = frame.attrs.get("nodes") if frame.attrs.get("nodes") is not None else data_cfg.get("nodes")
        node_table = None
        node_cols: list[str] = []
        if nodes_source is not None:
            node_table = _read(nodes_source, "nodes")
            ngid = _pick(node_table, None, (egid.lower(), "graph_id", "graph"), "graph id of the nodes", "graph_id")
            nid = _pick(node_table, data_cfg.get("node_id"), ("node_id", "node", "id"), "node id", "node_id",
                        0, (ngid,))
            node_cols = [c for c in node_table.columns if c not in (ngid, nid)]
            node_groups = dict(tuple(node_table.groupby(_as_key(node_table[ngid]), sort=False)))
            extra = sorted(set(node_groups) - set(graph_keys))
            if extra:
                raise DataError(f"The nodes table names {len(extra)} graph ids that the graphs table lacks "
                                f"(e.g. {', '.join(extra[:5])}).")
        has_features = bool(node_cols)
        kinds = structural_kinds(data_cfg, has_features, GRAPH_TASK)
        steps = int(data_cfg.get("pe_steps") or DEFAULT_PE_STEPS)
        directed = _directed(data_cfg)
        edge_groups = dict(tuple(edges.groupby(edge_graphs, sort=False)))
        graphs = []
        totals = {"self_loops_dropped": 0, "duplicates_merged": 0}
        for key in graph_keys:
            e = edge_groups.get(key)
            if node_table is not None:
                nodes = node_groups.get(key)
                if nodes is None:
                    raise DataError(f"Graph '{key}' has no rows in the nodes table.")
                ids = nodes[nid].to_numpy()
                feats = nodes[node_cols].reset_index(drop=True)
            else:
                if e is None:
                    raise DataError(f"Graph '{key}' has no edges and no nodes table gives its nodes: add a "
                                    "nodes table (data.nodes) or drop the graph.")
                ids = pd.unique(np.concatenate([_as_key(e[src]), _as_key(e[dst])]))
                feats = _empty_frame(len(ids))
            if e is None:
                edge_index, edge_weight, stats = np.zeros((2, 0), np.int64), None, {}
            else:
                edge_index, edge_weight, stats = build_edges(ids, e[src], e[dst], e[weight] if weight else None,
                                                             directed=directed, where=f" of graph '{key}'")
            for k, v in stats.items():
                totals[k] += v
            graphs.append(Graph(node_ids=_as_key(ids), features=feats,
                                structural=structural_features(len(ids), edge_index, kinds, steps),
                                edge_index=edge_index, edge_weight=edge_weight, directed=directed))
        graph_features = _feature_frame(frame, {gid, target}, data_cfg)
        info = {"graph_id": gid, "node_features": [str(c) for c in node_cols], "structural": list(kinds),
                "pe_steps": steps, **totals}
        gs = GraphSet(graphs=graphs, graph_ids=graph_keys, features=graph_features, info=info)
        y = frame[target].reset_index(drop=True) if target and target in frame.columns else None
        if y is not None and training:
            if y.isna().any():
                raise DataError(f"Label column '{target}' has {int(y.isna().sum())} missing values.")
            _check_labels(self.name, y)
        return TaskData(X=gs, y=y, info={"features": [str(c) for c in graph_features.columns], **info,
                                         "edges": [egid, src, dst, *([weight] if weight else [])]})

    def format_predictions(self, data: TaskData, prediction: Prediction) -> pd.DataFrame:
        return _format(data.X.graph_ids, data.X.info.get("graph_id") or "graph", data, prediction)

    def signature(self, data: TaskData) -> dict[str, Any]:
        gs = data.X
        out: dict[str, Any] = {"input_kind": self.input_kind,
                               "inputs": [{"name": str(c), "dtype": str(t)} for c, t in gs.features.dtypes.items()],
                               "graph_id": gs.info.get("graph_id"), "node_features": gs.info.get("node_features"),
                               "edges": data.info.get("edges"), "structural": gs.info.get("structural")}
        if data.y is not None:
            out["classes"] = sorted({to_python(v) for v in data.y}, key=str)
        return out


# --------------------------------------------------------------------------------------
# Splits over labelled nodes
# --------------------------------------------------------------------------------------


def _labelled(data: TaskData) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    if data.y is None:
        raise ConfigError("Node splits need labels: set data.target.")
    mask = data.y.notna().to_numpy()
    return np.flatnonzero(mask), np.flatnonzero(~mask)


def _stratify_ok(y: Any, parts: int) -> bool:
    counts = y.value_counts()
    return bool(counts.min() >= parts)


def node_holdout(data: TaskData, cfg: dict[str, Any]) -> list:
    """Stratified holdout of labelled nodes; unlabelled ones stay on the train side (unscored)."""
    import numpy as np
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    labelled, unlabelled = _labelled(data)
    y = data.y.iloc[labelled]
    split = section_of("split", cfg)
    size, seed = split.test_size, split.seed
    splitter = (StratifiedShuffleSplit if _stratify_ok(y, 2) else ShuffleSplit)(1, test_size=size, random_state=seed)
    try:
        train, test = next(splitter.split(np.zeros(len(y)), y))
    except ValueError as exc:
        raise DataError(f"Cannot split the labelled nodes: {exc}") from None
    return [(np.sort(np.concatenate([labelled[train], unlabelled])), labelled[test])]


def node_kfold(data: TaskData, cfg: dict[str, Any]) -> list:
    """Stratified k-fold over labelled nodes; every fold trains on the whole graph."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    labelled, unlabelled = _labelled(data)
    y = data.y.iloc[labelled]
    split = section_of("split", cfg)
    folds, shuffle, seed = split.folds, split.shuffle, split.seed
    cls = StratifiedKFold if _stratify_ok(y, folds) else KFold
    splitter = cls(folds, shuffle=shuffle, random_state=seed if shuffle else None)
    try:
        pairs = list(splitter.split(np.zeros(len(y)), y))
    except ValueError as exc:
        raise DataError(f"Cannot split the labelled nodes: {exc}") from None
    return [(np.sort(np.concatenate([labelled[tr], unlabelled])), labelled[te]) for tr, te in pairs]


# --------------------------------------------------------------------------------------
# Bundled graphs
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------


def _metrics() -> list[Metric]:
    from kampai.tasks import classification as c

    return [Metric(m.name, m.fn, TASKS, greater_is_better=m.greater_is_better, needs_proba=m.needs_proba,
                   description=m.description) for m in c.METRICS]


@hookimpl
def kampai_register_tasks(registry: Any) -> None:
    registry.add(NodeClassification())
    registry.add(GraphClassification())


@hookimpl
def kampai_register_metrics(registry: Any) -> None:
    for metric in _metrics():
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
    from kampai.plugin import Setting

    add = settings.add
    add(Setting("data.edges", None, "graphs: edges table (CSV/Parquet: source, target[, weight][, graph_id])",
                type=str, option="--edges"))
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
                "or a list of degree,rwpe,laplacian", type=(str, list), option="--structural"))
    add(Setting("data.pe_steps", DEFAULT_PE_STEPS, "graphs: random-walk positional encoding steps", type=int))
    add(Setting("predict.nodes", None, "node classification: predict these node ids (comma-separated)",
                type=str, option="--nodes", commands=("predict",)))
    add(Setting("predict.unlabelled", None, "node classification: predict only the nodes without a label",
                type=bool, option="--unlabelled", option_value=True, commands=("predict",)))
