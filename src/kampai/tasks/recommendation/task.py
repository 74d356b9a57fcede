"""The :class:`Recommendation` task: prepare, the predict options (``--users``, ``--k``,
``--similar-to`` ...), the evaluation split, the predictions table, signature and artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from kampai.plugin import ConfigError, DataError, Prediction, Task, TaskData, did_you_mean
from kampai.plugin.io import to_python
from kampai.tasks.recommendation.data import find_column, has_items, interactions_from
from kampai.tasks.recommendation.datasets import movielens
from kampai.tasks.recommendation.metrics import ranked
from kampai.tasks.recommendation.names import DEFAULT_K, MAX_K, NAME

if TYPE_CHECKING:
    import pandas as pd

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
    target_kind = "items"
    plots = ("ranking_at_k",)
    predict_keys = ("users", "k", "similar_to", "filter_seen", "fallback")
    data_keys = ("user", "item", "rating", "feedback", "threshold", "duplicates")
    split_keys = ("k", "holdout", "min_interactions", "cutoff")
    capabilities = frozenset({"predict_options", "artifacts", "evaluation_split"})

    def prepare(self, frame: pd.DataFrame, data_cfg: dict[str, Any], *, training: bool) -> TaskData:
        if training or has_items(frame, data_cfg):
            data, facts = interactions_from(frame, data_cfg)
            return TaskData(X=data, info=dict(facts))
        import pandas as pd

        if frame.empty:
            raise DataError("The users table holds no rows.")
        user = find_column(frame, data_cfg, "user", True)
        return TaskData(X=pd.DataFrame({"user": frame[user].dropna().unique()}), info={"user": user})

    def predict_input(self, data: TaskData | None, options: dict[str, Any], config: dict[str, Any]) -> TaskData:
        from kampai.plugin import RecommendQuery

        known = set(self.predict_keys)
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
        from kampai.tasks.recommendation.metrics import popularity

        if test.y is None or not hasattr(test.X, "matrix"):
            return None
        users = np.unique(test.y.users)
        recs, scores = rank_popular(popularity(test.X), int(test.info.get("k") or DEFAULT_K),
                                    test.X.matrix()[users])
        return "popularity", Prediction(y=recs, extra={"users": users, "scores": scores})

    def evaluation_split(self, data: TaskData, split_cfg: dict[str, Any]) -> TaskData:
        """``runner evaluate RUN --data new.csv``: the run's split of the new table; its test
        side is scored, its train side is the history left out of the ranking."""
        from kampai.plugin.experiments import registry_of

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
            r = ranked(inter, prediction)
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
                "predict_options": list(self.predict_keys)}

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

