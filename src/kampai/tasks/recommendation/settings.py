"""Recommendation's settings: its data columns and its predict options."""

from __future__ import annotations

from typing import Any


def add_settings(settings: Any) -> None:
    """The data columns (``--user``, ``--item``, ``--rating``, ``--time``) and the predict
    options (``--users``, ``--k``, ``--similar-to``, ``--include-seen``, ``--no-fallback``)."""
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
