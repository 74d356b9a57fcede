"""Transformers for the tuning tests: they count their fits in a file (across processes)
or sleep, so tests can see the preprocessing cache work and kill a study mid-trial."""

from __future__ import annotations

import os
import time

from sklearn.base import BaseEstimator, TransformerMixin


class CountingScaler(TransformerMixin, BaseEstimator):
    """Identity; appends one line to $KAMPAI_TEST_FIT_LOG on every fit."""

    def __init__(self, tag: str = "x") -> None:
        self.tag = tag

    def fit(self, X, y=None):
        log = os.environ.get("KAMPAI_TEST_FIT_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{self.tag}\n")
        self.fitted_ = True
        return self

    def transform(self, X):
        return X


class SlowIdentity(TransformerMixin, BaseEstimator):
    """Identity that sleeps ``seconds`` in fit."""

    def __init__(self, seconds: float = 0.3) -> None:
        self.seconds = seconds

    def fit(self, X, y=None):
        time.sleep(self.seconds)
        self.fitted_ = True
        return self

    def transform(self, X):
        return X
