"""Transformers for the tuning tests: they count their fits in a file (across processes)
or sleep, so tests can see the preprocessing cache work and kill a study mid-trial."""

from __future__ import annotations

import os
import time

from sklearn.base import BaseEstimator, TransformerMixin

#: a 2 x 4 grid study on iris (8 points: exact totals with several workers)
GRID = """
name: grid
task: classification
data: {path: "sklearn:iris"}
split: {method: stratified_kfold, folds: 2}
model:
  estimator: DecisionTreeClassifier
  search:
    max_depth: {type: int, low: 1, high: 4}
    criterion: [gini, entropy]
tune: {sampler: grid, plots: false}
"""


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


class BusyIdentity(TransformerMixin, BaseEstimator):
    """Identity whose fit spends ``seconds`` in ONE C call that ignores signals (PBKDF2,
    which releases the GIL), as a libsvm or BLAS fit does, when $KAMPAI_TEST_BUSY is set:
    a SIGTERM's Python handler cannot run until it returns."""

    def __init__(self, seconds: float = 4.0) -> None:
        self.seconds = seconds

    def fit(self, X, y=None):
        if os.environ.get("KAMPAI_TEST_BUSY"):
            import hashlib

            start = time.perf_counter()
            hashlib.pbkdf2_hmac("sha256", b"k", b"s", 20_000)
            rate = 20_000 / max(time.perf_counter() - start, 1e-6)
            hashlib.pbkdf2_hmac("sha256", b"k", b"s", int(rate * self.seconds))
        self.fitted_ = True
        return self

    def transform(self, X):
        return X


class FitMarker(TransformerMixin, BaseEstimator):
    """Identity that creates ``<folder>/<pid>`` when its fit starts: a test waits for that
    file (not a fixed sleep) to know the process is inside a real fit before signalling it."""

    def __init__(self, folder: str = "") -> None:
        self.folder = folder

    def fit(self, X, y=None):
        if self.folder:
            os.makedirs(self.folder, exist_ok=True)
            with open(os.path.join(self.folder, str(os.getpid())), "a"):
                pass
        self.fitted_ = True
        return self

    def transform(self, X):
        return X
