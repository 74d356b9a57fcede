"""Recommendation's splits: (train, test) TaskData pairs whose test side holds the train
interactions in ``X`` (the history left out of the ranking) and the held-out ones in ``y``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampai.plugin import ConfigError, DataError, TaskData, section_of
from kampai.tasks.recommendation.names import DEFAULT_K, MAX_K

if TYPE_CHECKING:
    import numpy as np

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

