"""Recommendation's data contract: an interactions table read into
:class:`kampai.plugin.Interactions` (the columns found by name or named in ``data``, ratings
turned into implicit feedback, repeated pairs merged), see the package docstring."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampai.plugin import ConfigError, DataError, did_you_mean

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

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


def has_items(frame: pd.DataFrame, data_cfg: dict[str, Any]) -> bool:
    """A predict table with an item column too is an interactions table (runner evaluate)."""
    named = data_cfg.get("item")
    if named:
        return named in frame.columns
    return len(frame.columns) > 1 and find_column(frame, data_cfg, "item", False) is not None

