"""Structural node features for graphs without (enough) node features, computed by the
PyG plugin from a graph's edges: the kinds a task asks for (``data.structural``) and the
random-walk / eigenvector steps (``data.pe_steps``).

* ``degree``: log(1 + in-degree);
* ``strength``: the weighted degree (sum of the edge weights into a node, sign-kept
  log(1 + |s|)) and the mean weight of its edges: the edge weights as node inputs;
* ``rwpe``: the probabilities of a random walk returning to its start after 1..steps steps
  (the walk follows the edge weights' magnitudes when the graph has weights);
* ``laplacian``: the eigenvectors of the ``steps`` smallest non-trivial eigenvalues of the
  normalised Laplacian (specific to one graph: a model with them predicts its training
  graph only).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

#: the kinds whose values mean the same on another graph (a model trained on them is inductive)
INDUCTIVE = ("degree", "strength", "rwpe")


#: recently computed features, by graph (a node task's train and test views share one graph)
_CACHE: dict[int, tuple[Any, tuple[Any, ...], Any]] = {}
_CACHE_SIZE = 8
_LOCK = threading.Lock()  # a server predicts in threads


def structural_of(graph: Any, kinds: tuple[str, ...], steps: int, *, weighted: bool = True) -> np.ndarray:
    """The structural features of a :class:`~kampai.plugin.Graph` (computed once per graph
    and setting while the graph's edge array lives); ``weighted=False`` ignores its weights."""
    import weakref

    import numpy as np

    if not kinds:
        return np.zeros((graph.num_nodes, 0), dtype=np.float32)
    weight = graph.edge_weight if weighted else None
    key = (tuple(kinds), steps, graph.num_nodes, id(weight))
    with _LOCK:
        hit = _CACHE.get(id(graph.edge_index))
    if hit is not None and hit[0]() is graph.edge_index and hit[1] == key:
        return hit[2]
    out = structural_features(graph.num_nodes, graph.edge_index, kinds, steps, weight)
    with _LOCK:
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[id(graph.edge_index)] = (weakref.ref(graph.edge_index), key, out)
    return out


def width(kinds: Any, steps: int) -> int:
    """How many columns :func:`structural_features` gives for these kinds."""
    per = {"degree": 1, "strength": 2, "rwpe": steps, "laplacian": steps}
    return sum(per.get(k, 0) for k in kinds)


def structural_features(n: int, edge_index: np.ndarray, kinds: tuple[str, ...], steps: int,
                        edge_weight: np.ndarray | None = None) -> np.ndarray:
    """Per-node structural features, in the order degree, strength, rwpe, laplacian (see
    the module docstring); ``edge_weight`` None means every edge weighs 1."""
    import numpy as np

    columns = []
    degree = np.bincount(edge_index[1], minlength=n).astype(np.float64)
    if "degree" in kinds:
        columns.append(np.log1p(degree)[:, None])
    if "strength" in kinds:
        w = np.ones(edge_index.shape[1]) if edge_weight is None else np.asarray(edge_weight, dtype=np.float64)
        strength = np.bincount(edge_index[1], weights=w, minlength=n)
        mean = np.divide(strength, degree, out=np.zeros(n), where=degree > 0)
        columns.append(np.stack([np.sign(strength) * np.log1p(np.abs(strength)), mean], axis=1))
    if "rwpe" in kinds and steps > 0:
        columns.append(random_walk_pe(n, edge_index, steps, edge_weight))
    if "laplacian" in kinds and steps > 0:
        columns.append(laplacian_pe(n, edge_index, steps))
    if not columns:
        return np.zeros((n, 0), dtype=np.float32)
    return np.hstack(columns).astype(np.float32)


def random_walk_pe(n: int, edge_index: np.ndarray, steps: int, edge_weight: np.ndarray | None = None) -> np.ndarray:
    """The probabilities of a random walk returning to its start after 1..steps steps; the
    walk moves along an edge in proportion to its weight's magnitude (uniformly without weights)."""
    import numpy as np
    from scipy import sparse

    w = np.ones(edge_index.shape[1]) if edge_weight is None else np.abs(np.asarray(edge_weight, dtype=np.float64))
    a = sparse.csr_matrix((w, (edge_index[0], edge_index[1])), shape=(n, n))
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
    return np.stack(pe, axis=1)


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

