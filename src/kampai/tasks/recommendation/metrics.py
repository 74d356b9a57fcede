"""Recommendation's ranking metrics at ``split.k``: every user ranked at once (no Python loop
per user), against the held-out interactions of a split's test side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampai.plugin import Metric, Prediction
from kampai.tasks.recommendation.names import NAME

if TYPE_CHECKING:
    import numpy as np

def _hits(users: np.ndarray, recs: np.ndarray, y_true: Any) -> np.ndarray:
    """``hits[u, r]``: recommended item ``recs[u, r]`` is a held-out item of user ``users[u]``."""
    import numpy as np

    n_items = max(int(y_true.n_items), 1)
    truth = np.unique(y_true.users.astype(np.int64) * n_items + y_true.items)
    return np.isin(users[:, None] * n_items + recs, truth) & (recs >= 0)


def ranked(y_true: Any, prediction: Prediction) -> dict[str, Any]:
    """Hits of the prediction against the held-out interactions, computed once per prediction."""
    import numpy as np

    cached = prediction.extra.get("ranked")
    if cached is not None:
        return cached
    recs = np.asarray(prediction.y, dtype=np.int64)
    users = np.asarray(prediction.extra["users"], dtype=np.int64)
    relevant = np.bincount(y_true.users, minlength=y_true.n_users)[users]
    out = {"recs": recs, "users": users, "hits": _hits(users, recs, y_true), "relevant": relevant,
           "k": recs.shape[1]}
    prediction.extra["ranked"] = out
    return out


def _discounts(k: int) -> np.ndarray:
    import numpy as np

    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg(hits: np.ndarray, relevant: np.ndarray) -> float:
    """Mean NDCG of binary relevance; ideal DCG from min(relevant, k) hits."""
    import numpy as np

    k = hits.shape[1]
    if not len(hits):
        return 0.0
    disc = _discounts(k)
    dcg = hits @ disc
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(relevant, k)]
    return float(np.mean(np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)))


def _mean(values: Any) -> float:
    import numpy as np

    return float(np.mean(values)) if len(values) else 0.0


def _precision(y: Any, p: Prediction, X: Any) -> float:
    r = ranked(y, p)
    return _mean(r["hits"].sum(1) / r["k"])


def _recall(y: Any, p: Prediction, X: Any) -> float:
    import numpy as np

    r = ranked(y, p)
    return _mean(r["hits"].sum(1) / np.maximum(r["relevant"], 1))


def _map(y: Any, p: Prediction, X: Any) -> float:
    import numpy as np

    r = ranked(y, p)
    hits = r["hits"].astype(np.float64)
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, r["k"] + 1)
    return _mean((precision_at * hits).sum(1) / np.maximum(np.minimum(r["relevant"], r["k"]), 1))


def _ndcg(y: Any, p: Prediction, X: Any) -> float:
    r = ranked(y, p)
    return ndcg(r["hits"], r["relevant"])


def _hit_rate(y: Any, p: Prediction, X: Any) -> float:
    return _mean(ranked(y, p)["hits"].any(1))


def _coverage(y: Any, p: Prediction, X: Any) -> float:
    import numpy as np

    recs = ranked(y, p)["recs"]
    return float(len(np.unique(recs[recs >= 0])) / max(int(y.n_items), 1))


def _users_scored(y: Any, p: Prediction, X: Any) -> float:
    import numpy as np

    scored = p.extra.get("scored")
    return _mean(np.asarray(scored, dtype=float)) if scored is not None else 1.0


def _users_evaluated(y: Any, p: Prediction, X: Any) -> float:
    return float(len(ranked(y, p)["users"]))


def popularity(data: Any) -> np.ndarray:
    """Interactions per item (each user counts once per item)."""
    import numpy as np

    return np.bincount(data.items, minlength=data.n_items).astype(np.float32)


def _baseline_ndcg(y: Any, p: Prediction, X: Any) -> float:
    """NDCG at the same k of the most popular training items the user has not seen."""
    from kampai.plugin import rank_popular

    r = ranked(y, p)
    if X is None or not hasattr(X, "matrix"):
        return float("nan")
    seen = X.matrix()[r["users"]]
    recs, _ = rank_popular(popularity(X), r["k"], seen)
    return ndcg(_hits(r["users"], recs, y), r["relevant"])


METRICS = [
    Metric("ndcg_at_k", _ndcg, (NAME,), description="NDCG@k (binary relevance), mean over test users"),
    Metric("precision_at_k", _precision, (NAME,), description="hits in the top k / k"),
    Metric("recall_at_k", _recall, (NAME,), description="hits in the top k / the user's held-out items"),
    Metric("map_at_k", _map, (NAME,), description="mean average precision at k"),
    Metric("hit_rate_at_k", _hit_rate, (NAME,), description="share of test users with a hit in the top k"),
    Metric("coverage_at_k", _coverage, (NAME,), description="share of the catalogue recommended to anyone"),
    Metric("users_scored", _users_scored, (NAME,),
           description="share of test users the model ranked itself (not the popularity fallback)"),
    Metric("users_evaluated", _users_evaluated, (NAME,), description="number of test users"),
    Metric("baseline_ndcg_at_k", _baseline_ndcg, (NAME,),
           description="NDCG@k of the popularity baseline on the same split"),
]

