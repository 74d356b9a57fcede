"""The graph tasks' non-GNN baselines (``Task.baseline``): what a run's model should beat.

* node classification: **label spreading** over the edges (Zhou et al., 2004): the training
  labels spread along the symmetric-normalised (edge-weighted) adjacency; a node no label
  reaches gets the training class frequencies;
* graph classification: **logistic regression on graph statistics and edge weights**:
  size, density, degree and (weighted graphs) edge-weight and strength statistics, the
  numeric graph-level columns, and, when every graph has the same node ids (brain
  connectomes: one node per region), each graph's edge-weight vector.

numpy, scipy and scikit-learn only; a few seconds at most on the graphs the tasks take.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampai.plugin import Prediction, TaskData
from kampai.plugin.experiments import label_array
from kampai.plugin.io import to_python

if TYPE_CHECKING:
    import numpy as np

#: label spreading: how much a node keeps from its neighbours vs its own label, and the rounds
ALPHA, ROUNDS = 0.9, 30
#: the most edge-weight columns the graph baseline uses (aligned node ids only)
MAX_EDGE_COLUMNS = 20_000


def _classes(y: Any) -> list[Any]:
    return sorted({to_python(v) for v in y.dropna()}, key=str)


def _prediction(proba: np.ndarray, classes: list[Any]) -> Prediction:

    # the labels in their own dtype: an integer target's predictions stay integers, or every
    # metric is undefined (scikit-learn's "Mix of label input types")
    labels = label_array(classes)[proba.argmax(axis=1)] if len(proba) else label_array(classes)[:0]
    return Prediction(y=labels, proba=proba, classes=classes)


def node_baseline(train: TaskData, test: TaskData, *, seed: int) -> tuple[str, Prediction] | None:
    """Label spreading from ``train``'s labelled nodes to ``test``'s nodes (views of one
    graph); None when there is nothing to spread (fewer than 2 classes, another graph)."""
    import numpy as np
    from scipy import sparse

    graph, other = train.X, test.X
    if train.y is None or other.num_nodes != graph.num_nodes or not np.array_equal(other.node_ids, graph.node_ids):
        return None
    classes = _classes(train.y)
    if len(classes) < 2:
        return None
    n = graph.num_nodes
    index = {c: i for i, c in enumerate(classes)}
    labelled = train.y.notna().to_numpy()
    rows = np.asarray(graph.select)[labelled]
    cols = np.array([index[to_python(v)] for v in train.y[labelled]], dtype=np.int64)
    seeds = np.zeros((n, len(classes)))
    seeds[rows, cols] = 1.0
    ei = graph.edge_index
    w = np.ones(ei.shape[1]) if graph.edge_weight is None else np.abs(np.asarray(graph.edge_weight, dtype=float))
    a = sparse.csr_matrix((w, (ei[0], ei[1])), shape=(n, n))
    a = a + a.T  # directed edges spread both ways
    degree = np.asarray(a.sum(axis=1)).ravel()
    inv = np.divide(1.0, np.sqrt(degree), out=np.zeros(n), where=degree > 0)
    s = sparse.diags(inv) @ a @ sparse.diags(inv)
    f = seeds.copy()
    for _ in range(ROUNDS):
        f = ALPHA * (s @ f) + (1 - ALPHA) * seeds
    prior = np.bincount(cols, minlength=len(classes)) / max(1, len(cols))
    f = f[np.asarray(other.select)]
    total = f.sum(axis=1, keepdims=True)
    proba = np.where(total > 1e-12, f / np.where(total > 1e-12, total, 1.0), prior[None, :])
    return "label spreading over the edges", _prediction(proba, classes)


def graph_statistics(g: Any) -> list[float]:
    """One graph's statistics: nodes, edges, density, degree mean/std/max, and edge-weight
    (quantiles, mean, std) and strength (mean, std, max) statistics (1s without weights)."""
    import numpy as np

    n, e = g.num_nodes, g.num_edges
    degree = np.bincount(g.edge_index[1], minlength=n).astype(float) if n else np.zeros(1)
    w = np.ones(e) if g.edge_weight is None else np.asarray(g.edge_weight, dtype=float)
    if not e:
        w = np.zeros(1)
    strength = np.bincount(g.edge_index[1], weights=w[:e], minlength=n) if n else np.zeros(1)
    quantiles = np.quantile(w, [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
    return [np.log1p(n), np.log1p(e), e / max(1, n * (n - 1)), degree.mean(), degree.std(), degree.max(),
            *quantiles, w.mean(), w.std(), strength.mean(), strength.std(), strength.max()]


def _edge_keys(g: Any) -> Any:
    import numpy as np

    ids = np.asarray(g.node_ids).astype(str)
    return np.char.add(np.char.add(ids[g.edge_index[0]], "\x1f"), ids[g.edge_index[1]])


def _aligned(graphs: list[Any]) -> bool:
    """Every graph has the same node ids (one node per brain region, say)."""
    first = set(graphs[0].node_ids) if graphs else set()
    return bool(first) and all(len(g.node_ids) == len(first) and set(g.node_ids) == first for g in graphs[1:])


def graph_baseline(train: TaskData, test: TaskData, *, seed: int) -> tuple[str, Prediction] | None:
    """Logistic regression on graph statistics and edge weights, fitted on ``train``'s
    graphs, predicting ``test``'s; None with fewer than 2 classes."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if train.y is None:
        return None
    classes = _classes(train.y)
    if len(classes) < 2:
        return None
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[to_python(v)] for v in train.y], dtype=np.int64)

    def table(part: TaskData) -> np.ndarray:
        stats = np.array([graph_statistics(g) for g in part.X.graphs], dtype=float).reshape(len(part.X.graphs), -1)
        numeric = part.X.features.select_dtypes("number")
        columns = [stats, numeric.to_numpy(float) if numeric.shape[1] else np.zeros((len(stats), 0))]
        return np.hstack(columns)

    x_train, x_test = table(train), table(test)
    what = "logistic regression on graph statistics"
    graphs = list(train.X.graphs) + list(test.X.graphs)
    weighted = any(g.edge_weight is not None for g in graphs)
    if weighted and _aligned(graphs):
        keys = pd.Index(pd.unique(np.concatenate([_edge_keys(g) for g in train.X.graphs])))
        if 0 < len(keys) <= MAX_EDGE_COLUMNS:
            def vectors(part: TaskData) -> np.ndarray:
                out = np.zeros((len(part.X.graphs), len(keys)))
                for i, g in enumerate(part.X.graphs):
                    at = keys.get_indexer(_edge_keys(g))
                    w = np.ones(g.num_edges) if g.edge_weight is None else np.asarray(g.edge_weight, dtype=float)
                    out[i, at[at >= 0]] = w[at >= 0]
                return out

            x_train, x_test = np.hstack([x_train, vectors(train)]), np.hstack([x_test, vectors(test)])
            what += " and edge-weight vectors"
    if weighted and what.endswith("statistics"):
        what += " and edge weights"
    medians = np.nanmedian(x_train, axis=0) if len(x_train) else np.zeros(x_train.shape[1])
    medians = np.where(np.isnan(medians), 0.0, medians)
    x_train = np.where(np.isnan(x_train), medians, x_train)
    x_test = np.where(np.isnan(x_test), medians, x_test)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    model.fit(x_train, y)
    proba = np.zeros((len(x_test), len(classes)))
    if len(x_test):
        proba[:, model.classes_] = model.predict_proba(x_test)
    return what, _prediction(proba, classes)
