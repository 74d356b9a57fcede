"""Built-in split strategies, registered as a plugin like any other.

Holdout methods return one ``(train, test)`` pair, cross-validation methods several.
Every method is seeded by ``split.seed`` (falling back to the experiment ``seed``).  A method
gets the ``split`` section and reads it typed (:func:`kampai.core.typed.section_of`: the
declared defaults fill a partial mapping, and every value is checked there, once).
"""

from __future__ import annotations

from typing import Any

from kampai.core.contract import TaskData
from kampai.core.errors import ConfigError, DataError
from kampai.core.markers import hookimpl
from kampai.core.typed import section_of


def _need(data: TaskData, part: str, method: str, key: str) -> Any:
    value = getattr(data, part)
    if value is None:
        raise ConfigError(f"Split method '{method}' needs data.{key} (a column name).")
    return value


def _pairs(splitter: Any, data: TaskData, y: Any = None, groups: Any = None) -> list:
    import numpy as np

    n = len(data)
    try:
        return list(splitter.split(np.zeros(n), y, groups))
    except ValueError as exc:
        raise DataError(f"Cannot split the data: {exc}") from None


def none(data: TaskData, cfg: Any) -> list:
    """Train and evaluate on all rows (clustering, or a final fit)."""
    import numpy as np

    idx = np.arange(len(data))
    return [(idx, idx)]


def random(data: TaskData, cfg: Any) -> list:
    from sklearn.model_selection import ShuffleSplit
    split = section_of("split", cfg)

    return _pairs(ShuffleSplit(1, test_size=split.test_size, random_state=split.seed), data)


def stratified(data: TaskData, cfg: Any) -> list:
    from sklearn.model_selection import StratifiedShuffleSplit
    split = section_of("split", cfg)

    y = _need(data, "y", "stratified", "target")
    splitter = StratifiedShuffleSplit(1, test_size=split.test_size, random_state=split.seed)
    return _pairs(splitter, data, y)


def group(data: TaskData, cfg: Any) -> list:
    from sklearn.model_selection import GroupShuffleSplit
    split = section_of("split", cfg)

    groups = _need(data, "groups", "group", "group")
    splitter = GroupShuffleSplit(1, test_size=split.test_size, random_state=split.seed)
    return _pairs(splitter, data, groups=groups)


def _time_order(data: TaskData, method: str) -> Any:
    import numpy as np

    order = _need(data, "order", method, "time")
    return np.argsort(np.asarray(order), kind="stable")


def time(data: TaskData, cfg: Any) -> list:
    """The last ``test_size`` share of rows, by the time column, is the test set."""
    import numpy as np
    split = section_of("split", cfg)

    ordered = _time_order(data, "time")
    size = split.test_size
    n_test = round(size * len(data)) if isinstance(size, float) else int(size)
    if not 0 < n_test < len(data):
        raise ConfigError(f"split.test_size={size} leaves no train or no test rows.")
    return [(np.sort(ordered[:-n_test]), np.sort(ordered[-n_test:]))]


def kfold(data: TaskData, cfg: Any) -> list:
    from sklearn.model_selection import KFold
    split = section_of("split", cfg)

    splitter = KFold(split.folds, shuffle=split.shuffle, random_state=split.seed if split.shuffle else None)
    return _pairs(splitter, data)


def stratified_kfold(data: TaskData, cfg: Any) -> list:
    from sklearn.model_selection import StratifiedKFold
    split = section_of("split", cfg)

    y = _need(data, "y", "stratified_kfold", "target")
    splitter = StratifiedKFold(split.folds, shuffle=split.shuffle,
                               random_state=split.seed if split.shuffle else None)
    return _pairs(splitter, data, y)


def group_kfold(data: TaskData, cfg: Any) -> list:
    import pandas as pd
    from sklearn.model_selection import GroupKFold

    split = section_of("split", cfg)
    groups = _need(data, "groups", "group_kfold", "group")

    # 3 islands cannot make the default 5 folds: one fold per group then (the step says so)
    folds = min(split.folds, int(pd.Series(groups).nunique()))
    return _pairs(GroupKFold(max(folds, 2)), data, groups=groups)


def timeseries(data: TaskData, cfg: Any) -> list:
    """Expanding-window folds in time order: each fold tests on the rows after its train."""
    import numpy as np
    from sklearn.model_selection import TimeSeriesSplit
    split = section_of("split", cfg)

    ordered = _time_order(data, "timeseries")
    folds = TimeSeriesSplit(split.folds).split(ordered)
    return [(np.sort(ordered[tr]), np.sort(ordered[te])) for tr, te in folds]


@hookimpl
def kampai_register_splitters(registry: Any) -> None:
    registry.add("none", none, cv=False, description="train and evaluate on all rows")
    registry.add("random", random, cv=False, description="shuffled holdout (test_size)")
    registry.add("stratified", stratified, cv=False, description="holdout keeping class shares")
    registry.add("group", group, cv=False, description="holdout with whole groups (data.group)")
    registry.add("time", time, cv=False, description="last rows by data.time are the test set")
    registry.add("kfold", kfold, cv=True, description="k-fold cross-validation (folds)")
    registry.add("stratified_kfold", stratified_kfold, cv=True,
                 description="k-fold keeping class shares")
    registry.add("group_kfold", group_kfold, cv=True, description="k-fold with whole groups")
    registry.add("timeseries", timeseries, cv=True,
                 description="expanding-window folds in data.time order")
