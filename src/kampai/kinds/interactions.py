"""User-item interactions: what the recommendation task gives its frameworks.

An :class:`Interactions` holds one row per (user, item) pair as integer codes into the
id maps ``user_ids``/``item_ids`` (code -> the id in the data: ints or strings), with a
confidence ``weight`` and, when the data has one, a ``time``.  Every subset (a split's
train or test side) shares the id maps of the whole table, so codes mean the same thing
on both sides and a framework can size its matrices once.

A :class:`RecommendQuery` is what ``runner predict`` asks for: top-``k`` items for some
users, or items similar to some items.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp


@dataclass
class Interactions:
    """(user, item, weight[, time]) rows as codes into shared id maps."""

    users: np.ndarray          # int32 user codes, one per row
    items: np.ndarray          # int32 item codes, one per row
    weights: np.ndarray        # float32 confidence of each row
    user_ids: np.ndarray       # code -> user id in the data
    item_ids: np.ndarray       # code -> item id in the data
    times: np.ndarray | None = None  # float64 seconds (or any orderable number), or None
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, index: Any) -> Interactions:
        """Rows ``index`` (positions or a mask), same id maps."""
        return replace(self, users=self.users[index], items=self.items[index], weights=self.weights[index],
                       times=None if self.times is None else self.times[index])

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def matrix(self) -> sp.csr_matrix:
        """The (n_users, n_items) CSR matrix of weights (pairs are unique after prepare)."""
        import numpy as np
        import scipy.sparse as sp

        m = sp.csr_matrix((self.weights.astype(np.float32), (self.users, self.items)),
                          shape=(self.n_users, self.n_items), dtype=np.float32)
        m.sum_duplicates()
        return m

    def user_codes(self, ids: Any) -> np.ndarray:
        """Codes of user ``ids`` (-1 for ids not in the map)."""
        return _codes(self.user_ids, ids)

    def item_codes(self, ids: Any) -> np.ndarray:
        """Codes of item ``ids`` (-1 for ids not in the map)."""
        return _codes(self.item_ids, ids)


def _codes(id_map: Any, ids: Any) -> np.ndarray:
    import numpy as np
    import pandas as pd

    index = pd.Index(id_map)
    values = pd.Series(list(ids), dtype=object)
    if pd.api.types.is_integer_dtype(index.dtype):  # "42" from the CLI finds user 42
        values = pd.to_numeric(values, errors="coerce")
    else:
        values = values.astype(str)
    return np.asarray(index.get_indexer(values), dtype=np.int64)


@dataclass
class RecommendQuery:
    """What to recommend: top ``k`` items for ``users`` (ids as in the data), with items
    the user has seen in training left out unless ``filter_seen`` is False; users unknown
    at training time get the most popular items when ``fallback`` (else an error).  With
    ``similar_to`` (item ids), the ``k`` most similar items to each of them instead."""

    users: list[Any] = field(default_factory=list)
    k: int = 10
    filter_seen: bool = True
    fallback: bool = True
    similar_to: list[Any] | None = None

    def __len__(self) -> int:
        return len(self.similar_to) if self.similar_to else len(self.users)


def rank_popular(popularity: np.ndarray, k: int, exclude: sp.csr_matrix | None = None,
                 n_rows: int | None = None, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` items by ``popularity`` for each row of ``exclude`` (a CSR of the items to
    leave out per user; None: ``n_rows`` identical rows), in chunks of users, vectorised:
    ``(items (n, k) int64 with -1 pads, scores (n, k) float32)``."""
    import numpy as np

    popularity = np.asarray(popularity, dtype=np.float32)
    n_items = len(popularity)
    n = exclude.shape[0] if exclude is not None else int(n_rows or 0)
    k_eff = min(k, n_items)
    items = np.full((n, k), -1, dtype=np.int64)
    scores = np.full((n, k), -np.inf, dtype=np.float32)
    if exclude is None:  # one ranking for everybody
        top = np.argsort(-popularity, kind="stable")[:k_eff]
        items[:, :k_eff], scores[:, :k_eff] = top, popularity[top]
        return items, scores
    ranking = np.argsort(-popularity, kind="stable")  # most popular first, ties by item code
    for start in range(0, n, chunk):
        block = exclude[start:start + chunk].tocsr()
        # only the k + (most items a user of the block has seen) most popular can make a top k
        width = min(n_items, k + int(np.diff(block.indptr).max(initial=0)))
        candidates = ranking[:width]
        seen = block[:, candidates].toarray() != 0
        free = ~seen & np.isfinite(popularity[candidates])
        place = np.cumsum(free, axis=1)
        rows, cols = np.nonzero(free & (place <= k))
        slots = place[rows, cols] - 1
        items[start + rows, slots] = candidates[cols]
        scores[start + rows, slots] = popularity[candidates[cols]]
    return items, scores
