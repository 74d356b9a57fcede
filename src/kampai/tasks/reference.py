"""The tasks' reference models (``Task.baseline``): trivial, quick, fitted on a fold's
training part and predicting its test part.

* the majority class (with the training class shares as probabilities) and the mean;
* a linear model on a table: numbers imputed with the median and standardized, every
  other column one-hot encoded (at most :data:`MAX_CATEGORIES` levels, missing as a
  level), dates left out; logistic regression for labels, ridge for numbers;
* a linear model on TF-IDF features (text) and on pixels (images).

Fitted baselines see at most :data:`MAX_ROWS` training rows (a random sample), so their
cost stays a small share of a run on large data.  scikit-learn is imported inside the
functions.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kampai.plugin import Prediction, TaskData

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    import pandas as pd

#: the most training rows a fitted baseline sees (a random sample beyond it)
MAX_ROWS = 20_000
#: one-hot levels per column of the linear baseline (the rarer ones share one column)
MAX_CATEGORIES = 20
#: the pixel baseline's image side (grey, squished): 8 x 8 = 64 features (the scikit-learn
#: framework's own pixel model reads the same, through RBF features)
PIXELS = 8


def sample(train: TaskData, seed: int, rows: int = MAX_ROWS) -> TaskData:
    """``train``, or a random ``rows`` of it when it is larger."""
    if len(train) <= rows:
        return train
    import numpy as np

    keep = np.sort(np.random.default_rng(seed).choice(len(train), rows, replace=False))
    return train.take(keep)


def majority(y: Any, n: int) -> Prediction:
    """The most frequent training label for ``n`` rows; the training class shares as probabilities."""
    import numpy as np
    import pandas as pd

    counts = pd.Series(y).value_counts(sort=False)
    with contextlib.suppress(TypeError):
        counts = counts.sort_index()
    classes = _labels(counts.index)
    top = classes[int(np.argmax(counts.to_numpy()))]
    shares = counts.to_numpy(float) / counts.sum()
    return Prediction(y=np.full(n, top, dtype=classes.dtype), proba=np.tile(shares, (n, 1)),
                      classes=list(classes))


def mean(y: Any, n: int) -> Prediction:
    """The training mean for ``n`` rows."""
    import numpy as np

    return Prediction(y=np.full(n, float(np.mean(np.asarray(y, dtype=float)))))


def _columns(X: pd.DataFrame) -> tuple[list[Any], list[Any]]:
    """(numeric, categorical) columns of a table; dates and durations are left out."""
    import pandas as pd

    numeric, categorical = [], []
    for column, dtype in X.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            categorical.append(column)
        elif pd.api.types.is_numeric_dtype(dtype):
            numeric.append(column)
        elif not (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)):
            categorical.append(column)
    return numeric, categorical


def _as_text(X: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as plain strings, a missing value as its own level."""
    return X.astype(object).where(X.notna(), "<missing>").astype(str)


def _as_float(X: pd.DataFrame) -> Any:
    import numpy as np

    return X.to_numpy(dtype=float, na_value=np.nan)


def table_features(X: pd.DataFrame) -> Any:
    """An unfitted scikit-learn transformer turning a table into the linear baseline's features."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric, categorical = _columns(X)
    parts = []
    if numeric:
        parts.append(("num", make_pipeline(FunctionTransformer(_as_float),
                                           SimpleImputer(strategy="median", keep_empty_features=True),
                                           StandardScaler()), numeric))
    if categorical:
        parts.append(("cat", make_pipeline(FunctionTransformer(_as_text),
                                           OneHotEncoder(handle_unknown="infrequent_if_exist",
                                                         max_categories=MAX_CATEGORIES)), categorical))
    if not parts:
        raise ValueError("no numeric or categorical column for a linear baseline")
    return ColumnTransformer(parts, sparse_threshold=0.0)


def linear_classifier(features: Any, train_X: Any, train_y: Any, test_X: Any, seed: int) -> Prediction:
    """Logistic regression on ``features`` (an unfitted transformer)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(features, LogisticRegression(max_iter=200, random_state=seed))
    import warnings

    with warnings.catch_warnings(), one_thread():  # a reference model that did not fully converge is still one
        warnings.simplefilter("ignore")
        model.fit(train_X, _labels(train_y))
        proba = model.predict_proba(test_X)  # once (an image baseline reads the files per transform)
    import numpy as np

    classes = _labels(model.classes_)
    return Prediction(y=classes[np.argmax(proba, axis=1)], proba=proba, classes=list(classes))


def linear_regressor(features: Any, train_X: Any, train_y: Any, test_X: Any) -> Prediction:
    """Ridge regression (alpha 1) on ``features`` (an unfitted transformer)."""
    import numpy as np
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(features, Ridge(alpha=1.0))
    with one_thread():
        model.fit(train_X, np.asarray(train_y, dtype=float))
        return Prediction(y=model.predict(test_X))


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """BLAS and OpenMP on one thread: a reference model's problems are small, and on them
    threads cost more than they give (L-BFGS on 1,000 texts: 0.28 s on two OpenBLAS threads
    of a busy 2-core machine, 0.04 s on one)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _labels(y: Any) -> np.ndarray:
    """Labels as a NumPy array in their own dtype (ints, bools and floats stay numbers, anything
    else is an object array), as the models' own predictions are (the metrics compare them)."""
    import numpy as np

    array = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
    return array if array.dtype.kind in "iubf" else array.astype(object)


def classification(train: TaskData, test: TaskData, seed: int, features: Any) -> list[tuple[str, Prediction]]:
    """``[(linear description, its prediction), ("majority class", ...)]``; the majority alone
    when the linear model cannot be fitted (one class in the sample, no usable column).

    Within ``test.info["baseline_seconds"]`` (the engine's budget): on more than
    :data:`PILOT_ROWS` training rows the linear model is first fitted on that many, timed, and
    refitted on as many rows as the rest of the budget allows (the description then says how
    many), and it predicts at most :data:`TEST_ROWS` test rows, a random sample that the
    majority class is scored on too; where a text or image model is itself a linear model, its
    baseline would otherwise cost as much as the run."""
    out = []
    fit = sample(train, seed)
    if len(set(_labels(fit.y).tolist())) > 1:
        name, transformer = features
        with contextlib.suppress(ValueError):
            out.append(_linear_within(name, transformer, fit, test, seed, test.info.get("baseline_seconds")))
    rows = out[0][1].extra.get("rows") if out else None
    if rows is None:
        out.append(("majority class", majority(train.y, len(test))))
    else:  # on the linear baseline's test sample too: the two references scored alike, and cheaply
        out.append(("majority class", replace(majority(train.y, len(rows)), extra={"rows": rows})))
    return out


#: training rows of the timed first fit of a linear baseline that has a time budget
PILOT_ROWS = 1_000
#: test rows a linear baseline with a time budget predicts at most (a random sample beyond
#: it, scored by the engine on those rows: ``Prediction.extra["rows"]``): reading and scoring
#: 10,000 test texts cost more than fitting on 1,000; 2,000 rows put an accuracy within about
#: a point of the whole test part's (one standard error)
TEST_ROWS = 2_000


def _linear_within(name: str, transformer: Any, fit: TaskData, test: TaskData, seed: int,
                   budget: float | None) -> tuple[str, Prediction]:
    """The linear classifier on ``fit``, or on the sample of it that ``budget`` seconds allow;
    with a budget, on at most :data:`TEST_ROWS` test rows."""
    import time

    if budget is None:
        return name, linear_classifier(transformer(fit.X), fit.X, fit.y, test.X, seed)
    rows, n_test = None, len(test)
    if n_test > TEST_ROWS:
        rows = _stratified(test.y, TEST_ROWS, seed)
        test = test.take(rows)
    if len(fit) <= PILOT_ROWS * 2:
        found = linear_classifier(transformer(fit.X), fit.X, fit.y, test.X, seed)
        return _described(name, len(fit), len(fit), rows, n_test, found)
    pilot = sample(fit, seed, PILOT_ROWS)
    start = time.perf_counter()
    best = linear_classifier(transformer(pilot.X), pilot.X, pilot.y, test.X, seed)
    took = max(time.perf_counter() - start, 1e-6)
    wanted = min(len(fit), int(PILOT_ROWS * (budget - took) / took))  # cost grows about with the rows
    if wanted < PILOT_ROWS * 2 or len(set(_labels(sample(fit, seed, wanted).y).tolist())) < 2:
        return _described(name, PILOT_ROWS, len(fit), rows, n_test, best)
    part = sample(fit, seed, wanted)
    return _described(name, wanted, len(fit), rows, n_test,
                      linear_classifier(transformer(part.X), part.X, part.y, test.X, seed))


def _stratified(y: Any, rows: int, seed: int) -> np.ndarray:
    """About ``rows`` sorted positions of ``y``, each label's share kept (the test sample's
    majority-class accuracy is then the whole part's, and every score varies less)."""
    import numpy as np
    import pandas as pd

    codes, _ = pd.factorize(pd.Series(np.asarray(y, dtype=object)))
    rng = np.random.default_rng(seed)
    parts = [rng.choice(where, round(len(where) * rows / len(codes)), replace=False)
             for where in (np.flatnonzero(codes == c) for c in np.unique(codes))]
    return np.sort(np.concatenate(parts))


def _described(name: str, used: int, train_rows: int, rows: Any, n_test: int,
               prediction: Prediction) -> tuple[str, Prediction]:
    """``(name (what it saw), prediction)``: the training rows it fitted on where fewer than the
    fold's, the test rows it predicted (``extra["rows"]``) where fewer than the fold's."""
    seen = [] if used == train_rows else [f"{used:,} of {train_rows:,} training rows"]
    if rows is not None:
        prediction.extra["rows"] = rows
        seen.append(f"{len(rows):,} of {n_test:,} test rows")
    return (f"{name} ({', '.join(seen)})" if seen else name), prediction


def regression(train: TaskData, test: TaskData, seed: int) -> list[tuple[str, Prediction]]:
    """``[("ridge regression", ...), ("mean", ...)]`` (the mean alone when ridge cannot fit)."""
    out = []
    fit = sample(train, seed)
    with contextlib.suppress(ValueError):
        out.append(("ridge regression", linear_regressor(table_features(fit.X), fit.X, fit.y, test.X)))
    out.append(("mean", mean(train.y, len(test))))
    return out


def kmeans(train: TaskData, test: TaskData, seed: int, k: int) -> Prediction:
    """k-means with ``k`` clusters on the linear baseline's features."""
    from sklearn.cluster import KMeans

    fit = sample(train, seed)
    features = table_features(fit.X)
    model = KMeans(n_clusters=k, n_init=10, random_state=seed)
    model.fit(features.fit_transform(fit.X))
    return Prediction(y=model.predict(features.transform(test.X)))


def tfidf() -> Any:
    """TF-IDF of the ``text`` column: single words seen at least twice (the scikit-learn
    framework's own text model adds word pairs; this is cheaper and nearly as good)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer

    return ColumnTransformer([("tfidf", TfidfVectorizer(sublinear_tf=True, min_df=2, max_features=50_000), "text")])


def pixels() -> Any:
    """Grey :data:`PIXELS` x :data:`PIXELS` pixels of the ``image`` column's files, standardized."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return make_pipeline(FunctionTransformer(_pixels), StandardScaler())


def _pixels(X: pd.DataFrame) -> Any:
    from kampai.plugin import Images

    return Images.pixels(X["image"], size=PIXELS, mode="L")
