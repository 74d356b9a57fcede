"""The two graph tasks: :class:`NodeClassification` (a label per node of one graph) and
:class:`GraphClassification` (a label per graph of a collection)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from kampai.plugin import DataError, Prediction, Task, TaskData
from kampai.plugin.io import check_columns, to_python
from kampai.tasks.graphs.data import (
    DATA_KEYS,
    DEFAULT_PE_STEPS,
    GRAPH_ID_NAMES,
    GRAPH_TASK,
    NODE_TASK,
    as_key,
    build_edges,
    check_labels,
    edge_columns,
    edges_table,
    empty_frame,
    feature_frame,
    is_directed,
    no_columns,
    pick_column,
    prediction_table,
    read_table,
    shared_id,
    structural_kinds,
)
from kampai.tasks.graphs.datasets import atlas, karate_pyg

if TYPE_CHECKING:
    import pandas as pd

    from kampai.plugin import Graph


class _GraphLabels(Task):
    """What both graph tasks declare alike: a label to predict from graph tables, scored and
    drawn as classification is."""

    needs_target = True
    default_metrics = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")
    input_kind = "graph"
    target_kind = "labels"
    plots = ("confusion", "roc")
    data_keys = DATA_KEYS


class NodeClassification(_GraphLabels):
    """Predict a label per node of one graph; unlabelled nodes are trained on transductively."""

    name = NODE_TASK
    description = "predict a label per node of a graph (nodes + edges tables; transductive)"
    default_split: ClassVar[dict[str, Any]] = {"method": "node_holdout"}
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
        node_id = pick_column(frame, data_cfg.get("node_id"), ("id", "node", "node_id", "name"), "node id", "node_id",
                              0, (target,))
        edges = edges_table(frame, data_cfg)
        src, dst, weight = edge_columns(edges, data_cfg)
        directed = is_directed(data_cfg)
        ids = frame[node_id].to_numpy()
        if pd.isna(frame[node_id]).any():
            raise DataError(f"The node id column '{node_id}' has {int(frame[node_id].isna().sum())} missing values.")
        edge_index, edge_weight, stats = build_edges(ids, edges[src], edges[dst],
                                                     edges[weight] if weight else None, directed=directed)
        features = feature_frame(frame, {node_id, target}, data_cfg)
        kinds = structural_kinds(data_cfg, features.shape[1] > 0, weighted=weight is not None)
        steps = int(data_cfg.get("pe_steps") or DEFAULT_PE_STEPS)
        graph = Graph(node_ids=as_key(ids), features=features, structural=no_columns(len(ids)), edge_index=edge_index,
                      edge_weight=edge_weight, directed=directed,
                      info={"node_id": node_id, "structural": list(kinds), "pe_steps": steps, **stats})
        y = frame[target].reset_index(drop=True) if target and target in frame.columns else None
        if y is not None and training:
            check_labels(self.name, y)
        if y is not None:
            graph.info["labelled"] = y.notna().to_numpy()
        named = [src, dst, *([weight] if weight else [])]
        return TaskData(X=graph, y=y, info={"features": [str(c) for c in features.columns], "node_id": node_id,
                                            "structural": list(kinds), "edges": named, **stats})

    def format_predictions(self, data: TaskData, prediction: Prediction) -> pd.DataFrame:
        graph: Graph = data.X
        return prediction_table(graph.selected_ids, graph.info.get("node_id") or "node", data, prediction)

    def signature(self, data: TaskData) -> dict[str, Any]:
        graph = data.X
        out: dict[str, Any] = {"input_kind": self.input_kind,
                               "inputs": [{"name": str(c), "dtype": str(t)} for c, t in graph.features.dtypes.items()],
                               "node_id": graph.info.get("node_id"), "edges": data.info.get("edges"),
                               "structural": graph.info.get("structural"), "directed": graph.directed}
        if data.y is not None:
            out["classes"] = sorted({to_python(v) for v in data.y.dropna()}, key=str)
        return out

    def baseline(self, train: TaskData, test: TaskData, *, seed: int) -> tuple[str, Prediction] | None:
        """Label spreading over the edges from the training labels (see :mod:`.baselines`)."""
        from kampai.tasks.graphs.baselines import node_baseline

        return node_baseline(train, test, seed=seed)

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
            wanted = None if only_unlabelled or nodes is None else as_key(nodes)
            graph = Graph(node_ids=np.asarray(wanted if wanted is not None else [], dtype=str),
                          features=empty_frame(0), structural=np.zeros((0, 0), np.float32),
                          edge_index=np.zeros((2, 0), np.int64), reference=True,
                          info={"node_id": config.get("data", {}).get("node_id") or "node",
                                "all": wanted is None, "unlabelled": only_unlabelled})
            return TaskData(X=graph)
        graph = data.X
        keep = np.ones(graph.num_nodes, dtype=bool)
        if nodes is not None:
            wanted = set(as_key(nodes))
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



class GraphClassification(_GraphLabels):
    """Predict one label per graph of a collection (molecules, brain networks)."""

    name = GRAPH_TASK
    description = "predict a label per graph (graphs table + edges table with a graph id)"
    default_split: ClassVar[dict[str, Any]] = {"method": "stratified"}

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
        edges = edges_table(frame, data_cfg)
        named = data_cfg.get("graph_id") or shared_id(frame, edges, target)
        gid = pick_column(frame, named, GRAPH_ID_NAMES, "graph id", "graph_id", 0, (target,))
        graph_keys = as_key(frame[gid])
        if len(set(graph_keys)) != len(graph_keys):
            raise DataError(f"Graph ids in '{gid}' are not unique: one row per graph in the graphs table.")
        egid = pick_column(edges, named if named in edges.columns else None,
                           ("graph_id", "graph"), "graph id of the edges", "graph_id", None)
        src, dst, weight = edge_columns(edges, data_cfg, (egid,))
        edge_graphs = as_key(edges[egid])
        unknown = sorted(set(edge_graphs) - set(graph_keys))
        if unknown:
            raise DataError(f"The edges table names {len(unknown)} graph ids that the graphs table lacks "
                            f"(e.g. {', '.join(unknown[:5])}).")
        nodes_source = frame.attrs.get("nodes") if frame.attrs.get("nodes") is not None else data_cfg.get("nodes")
        node_table = None
        node_cols: list[str] = []
        if nodes_source is not None:
            node_table = read_table(nodes_source, "nodes")
            ngid = pick_column(node_table, None, (egid.lower(), "graph_id", "graph"), "graph id of the nodes",
                               "graph_id")
            nid = pick_column(node_table, data_cfg.get("node_id"), ("node_id", "node", "id"), "node id", "node_id",
                              0, (ngid,))
            node_cols = [c for c in node_table.columns if c not in (ngid, nid)]
            node_groups = dict(tuple(node_table.groupby(as_key(node_table[ngid]), sort=False)))
            extra = sorted(set(node_groups) - set(graph_keys))
            if extra:
                raise DataError(f"The nodes table names {len(extra)} graph ids that the graphs table lacks "
                                f"(e.g. {', '.join(extra[:5])}).")
        has_features = bool(node_cols)
        kinds = structural_kinds(data_cfg, has_features, GRAPH_TASK, weighted=weight is not None)
        steps = int(data_cfg.get("pe_steps") or DEFAULT_PE_STEPS)
        directed = is_directed(data_cfg)
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
                ids = pd.unique(np.concatenate([as_key(e[src]), as_key(e[dst])]))
                feats = empty_frame(len(ids))
            if e is None:
                edge_index, edge_weight, stats = np.zeros((2, 0), np.int64), None, {}
            else:
                edge_index, edge_weight, stats = build_edges(ids, e[src], e[dst], e[weight] if weight else None,
                                                             directed=directed, where=f" of graph '{key}'")
            for k, v in stats.items():
                totals[k] += v
            graphs.append(Graph(node_ids=as_key(ids), features=feats,
                                structural=no_columns(len(ids)), info={"structural": list(kinds), "pe_steps": steps},
                                edge_index=edge_index, edge_weight=edge_weight, directed=directed))
        graph_features = feature_frame(frame, {gid, target}, data_cfg)
        info = {"graph_id": gid, "node_features": [str(c) for c in node_cols], "structural": list(kinds),
                "pe_steps": steps, **totals}
        gs = GraphSet(graphs=graphs, graph_ids=graph_keys, features=graph_features, info=info)
        y = frame[target].reset_index(drop=True) if target and target in frame.columns else None
        if y is not None and training:
            if y.isna().any():
                raise DataError(f"Label column '{target}' has {int(y.isna().sum())} missing values.")
            check_labels(self.name, y)
        return TaskData(X=gs, y=y, info={"features": [str(c) for c in graph_features.columns], **info,
                                         "edges": [egid, src, dst, *([weight] if weight else [])]})

    def baseline(self, train: TaskData, test: TaskData, *, seed: int) -> tuple[str, Prediction] | None:
        """Logistic regression on graph statistics and edge weights (see :mod:`.baselines`)."""
        from kampai.tasks.graphs.baselines import graph_baseline

        return graph_baseline(train, test, seed=seed)

    def format_predictions(self, data: TaskData, prediction: Prediction) -> pd.DataFrame:
        return prediction_table(data.X.graph_ids, data.X.info.get("graph_id") or "graph", data, prediction)

    def signature(self, data: TaskData) -> dict[str, Any]:
        gs = data.X
        out: dict[str, Any] = {"input_kind": self.input_kind,
                               "inputs": [{"name": str(c), "dtype": str(t)} for c, t in gs.features.dtypes.items()],
                               "graph_id": gs.info.get("graph_id"), "node_features": gs.info.get("node_features"),
                               "edges": data.info.get("edges"), "structural": gs.info.get("structural")}
        if data.y is not None:
            out["classes"] = sorted({to_python(v) for v in data.y}, key=str)
        return out
