"""fast.ai tabular on a raw table: timestamp text becomes date parts (add_datepart), not
thousands of embedded categories; early stopping stops and keeps the best epoch's weights."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastai")
pd = pytest.importorskip("pandas")


def _raw_table(n: int = 600) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2021-01-01")
    when = start + pd.to_timedelta(rng.integers(0, 3 * 365 * 24 * 3600, n), unit="s")
    X = pd.DataFrame({
        "sent": when.strftime("%Y-%m-%d %H:%M:%S"),  # text, nearly every value distinct
        "sender": rng.choice(["alice", "bob", "carol"], n),
        "length": rng.normal(100, 20, n),
    })
    y = pd.Series(np.where(when.month.to_numpy() >= 7, "late", "early"))  # the signal is in the date
    X.loc[::50, "sent"] = None
    return X, y


def test_a_timestamp_text_column_is_expanded_and_predicted_the_same_way() -> None:
    from kampai.plugins.fastai.dates import detect
    from kampai.plugins.fastai.tabular import PARAMS, TabularNet

    X, y = _raw_table()
    assert detect(X, ["sent", "sender"]) == ["sent"]
    net = TabularNet("classification", {**PARAMS, "epochs": 3}, seed=0).fit(X, y)
    st = net.state
    assert "sent" not in st["cat_names"] and "sent" not in st["cont_names"]
    assert {"sent_Year", "sent_Month", "sent_Dayofyear", "sent_Hour", "sent_Elapsed"} <= set(st["cont_names"])
    assert st["cat_names"] == ["sender"] and net.info["date_columns"] == ["sent"]
    # prediction expands new rows with the parts found in training (a missing date included)
    new = X.iloc[:5].copy()
    new.loc[new.index[0], "sent"] = None
    probs = net.forward(new)
    assert probs.shape == (5, 2) and np.isfinite(probs).all()
    # the month decides the label: the network learns it from the parts
    assert (np.asarray(net.labels)[net.forward(X).argmax(1)] == y.to_numpy()).mean() > 0.7


def test_dates_false_keeps_the_column_as_a_category() -> None:
    from kampai.plugins.fastai.tabular import PARAMS, TabularNet

    X, y = _raw_table(200)
    net = TabularNet("classification", {**PARAMS, "epochs": 1, "dates": False}, seed=0).fit(X, y)
    assert "sent" in net.state["cat_names"] and not net.state["dates"]


def test_early_stopping_stops_and_restores_the_best_epoch() -> None:
    """A learning rate far too high makes the validation loss worse after its best epoch:
    the fit stops `patience` epochs later and the weights are those of the best epoch."""
    from kampai.plugins.fastai.tabular import PARAMS, TabularNet

    X, y = _raw_table(400)
    epochs: list[int] = []
    net = TabularNet("classification", {**PARAMS, "epochs": 25, "patience": 2, "lr": 3.0, "valid_frac": 0.25},
                     seed=0)
    net.fit(X, y, report=epochs.append)
    info = net.info
    assert info["epochs_run"] < 25 and info["epochs_run"] == info["best_epoch"] + 3 == len(epochs)
    assert np.isfinite(net.forward(X.iloc[:3])).all()  # the best epoch's weights, restored
