"""Every split method: sizes, seeded reproducibility, groups kept apart, time order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import churn_frame, invoke, no_tracker  # noqa: F401  (autouse)
from kampai.core.contract import TaskData
from kampai.core.errors import ConfigError
from kampai.core.host import get_host

N = 120


@pytest.fixture
def data() -> TaskData:
    frame = churn_frame(N)
    frame["day"] = pd.to_datetime(frame["day"]).sample(frac=1, random_state=3).to_numpy()  # shuffled times
    return TaskData(X=frame[["age", "income"]], y=frame["churn"], groups=frame["customer"],
                    order=frame["day"])


def split(name: str, data: TaskData, **cfg) -> list:
    return get_host().splitters().get(name).fn(data, {"test_size": 0.25, "folds": 4, "seed": 42,
                                                      "shuffle": True, **cfg})


def as_sets(folds: list) -> list[tuple[frozenset, frozenset]]:
    return [(frozenset(tr.tolist()), frozenset(te.tolist())) for tr, te in folds]


def test_every_registered_method_is_covered() -> None:
    assert {"none", "random", "stratified", "group", "time", "kfold", "stratified_kfold",
            "group_kfold", "timeseries"} <= set(get_host().splitters())


def test_none_uses_every_row_for_both(data: TaskData) -> None:
    [(train, test)] = split("none", data)
    assert list(train) == list(test) == list(range(N))


@pytest.mark.parametrize("method", ["random", "stratified", "group", "time"])
def test_holdouts_are_one_disjoint_pair_covering_all_rows(method: str, data: TaskData) -> None:
    folds = split(method, data)
    assert len(folds) == 1
    train, test = as_sets(folds)[0]
    assert not train & test
    assert train | test == set(range(N))
    if method != "group":  # whole groups make the share approximate
        assert len(test) == N // 4


@pytest.mark.parametrize("method", ["random", "stratified", "group", "kfold", "stratified_kfold"])
def test_seeded_and_reproducible(method: str, data: TaskData) -> None:
    first, again = split(method, data, seed=1), split(method, data, seed=1)
    assert as_sets(first) == as_sets(again)
    assert as_sets(first) != as_sets(split(method, data, seed=2))


def test_stratified_keeps_class_shares(data: TaskData) -> None:
    [(train, test)] = split("stratified", data)
    share = data.y.value_counts(normalize=True)
    assert (data.y.iloc[test].value_counts(normalize=True) - share).abs().max() < 0.03
    assert (data.y.iloc[train].value_counts(normalize=True) - share).abs().max() < 0.03


def test_group_holdout_keeps_groups_apart(data: TaskData) -> None:
    [(train, test)] = split("group", data)
    assert not set(data.groups.iloc[train]) & set(data.groups.iloc[test])
    assert len(set(data.groups.iloc[test])) >= 2


def test_time_holdout_tests_on_the_latest_rows(data: TaskData) -> None:
    [(train, test)] = split("time", data)
    assert data.order.iloc[train].max() < data.order.iloc[test].min()
    # an int test_size is a row count
    [(train, test)] = split("time", data, test_size=10)
    assert len(test) == 10
    assert set(data.order.iloc[test]) == set(data.order.sort_values().iloc[-10:])


@pytest.mark.parametrize("method", ["kfold", "stratified_kfold", "group_kfold"])
def test_cv_tests_every_row_exactly_once(method: str, data: TaskData) -> None:
    folds = as_sets(split(method, data))
    assert len(folds) == 4
    tested = [i for _, test in folds for i in test]
    assert sorted(tested) == list(range(N))
    for train, test in folds:
        assert not train & test and train | test == set(range(N))


def test_kfold_without_shuffle_is_contiguous(data: TaskData) -> None:
    folds = split("kfold", data, shuffle=False)
    assert list(folds[0][1]) == list(range(N // 4))


def test_group_kfold_keeps_groups_apart(data: TaskData) -> None:
    for train, test in split("group_kfold", data):
        assert not set(data.groups.iloc[train]) & set(data.groups.iloc[test])


def test_stratified_kfold_keeps_class_shares(data: TaskData) -> None:
    share = data.y.value_counts(normalize=True)
    for _, test in split("stratified_kfold", data):
        assert (data.y.iloc[test].value_counts(normalize=True) - share).abs().max() < 0.05


def test_timeseries_folds_test_after_their_train(data: TaskData) -> None:
    folds = split("timeseries", data)
    assert len(folds) == 4
    sizes = []
    for train, test in folds:
        assert data.order.iloc[train].max() < data.order.iloc[test].min()
        sizes.append(len(train))
    assert sizes == sorted(sizes) and len(set(sizes)) == 4  # expanding window


@pytest.mark.parametrize(("method", "missing"), [("stratified", "target"), ("group", "group"),
                                                 ("group_kfold", "group"), ("time", "time"),
                                                 ("timeseries", "time")])
def test_methods_name_the_column_they_need(method: str, missing: str) -> None:
    bare = TaskData(X=pd.DataFrame({"a": np.arange(20.0)}))
    with pytest.raises(ConfigError, match=f"needs data.{missing}"):
        split(method, bare)


def test_bad_test_size() -> None:
    bare = TaskData(X=pd.DataFrame({"a": np.arange(20.0)}), order=pd.Series(np.arange(20)))
    with pytest.raises(ConfigError, match="test_size"):
        split("random", bare, test_size=1.5)
    with pytest.raises(ConfigError, match="leaves no train or no test rows"):
        split("time", bare, test_size=20)


def test_group_and_time_splits_end_to_end(tmp_path: Path) -> None:
    frame = churn_frame(N)
    frame.to_csv("churn.csv", index=False)
    base = ["train", "--task", "classification", "--data", "churn.csv", "--target", "churn", "--json",
            "model.params.n_estimators=10"]
    grouped = invoke(*base, "data.group=customer", "split.method=group", "data.drop=[day]")
    assert grouped.code == 0, grouped.stderr
    preds = pd.read_csv(Path(grouped.json()["run_dir"]) / "predictions.csv")
    test_groups = set(frame.loc[preds["row"], "customer"])
    train_groups = set(frame.drop(index=preds["row"])["customer"])
    assert test_groups and not test_groups & train_groups
    # the group column is not a feature
    meta_features = pd.read_json(Path(grouped.json()["run_dir"]) / "meta.json", typ="series")["data"]["features"]
    assert "customer" not in meta_features and "day" not in meta_features

    timed = invoke(*base, "data.time=day", "split.method=time", "data.drop=[customer]")
    assert timed.code == 0, timed.stderr
    preds = pd.read_csv(Path(timed.json()["run_dir"]) / "predictions.csv")
    assert sorted(preds["row"]) == list(range(N - N // 5, N))  # the last 20% of days

    cv = invoke(*base, "data.time=day", "split.method=timeseries", "split.folds=3", "data.drop=[customer]")
    assert cv.code == 0, cv.stderr
    preds = pd.read_csv(Path(cv.json()["run_dir"]) / "predictions.csv")
    assert sorted(preds["fold"].unique()) == [0, 1, 2]
    assert preds.groupby("fold")["row"].min().is_monotonic_increasing
