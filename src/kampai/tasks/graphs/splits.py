"""Splits over the labelled nodes of one graph: every fold sees the whole graph; only
labels are held out, and unlabelled nodes always stay on the train side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampai.plugin import ConfigError, DataError, TaskData, section_of

if TYPE_CHECKING:
    import numpy as np


def labelled_positions(data: TaskData) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    if data.y is None:
        raise ConfigError("Node splits need labels: set data.target.")
    mask = data.y.notna().to_numpy()
    return np.flatnonzero(mask), np.flatnonzero(~mask)


def stratify_ok(y: Any, parts: int) -> bool:
    counts = y.value_counts()
    return bool(counts.min() >= parts)


def node_holdout(data: TaskData, cfg: dict[str, Any]) -> list:
    """Stratified holdout of labelled nodes; unlabelled ones stay on the train side (unscored)."""
    import numpy as np
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    labelled, unlabelled = labelled_positions(data)
    y = data.y.iloc[labelled]
    split = section_of("split", cfg)
    size, seed = split.test_size, split.seed
    splitter = (StratifiedShuffleSplit if stratify_ok(y, 2) else ShuffleSplit)(1, test_size=size, random_state=seed)
    try:
        train, test = next(splitter.split(np.zeros(len(y)), y))
    except ValueError as exc:
        raise DataError(f"Cannot split the labelled nodes: {exc}") from None
    return [(np.sort(np.concatenate([labelled[train], unlabelled])), labelled[test])]


def node_kfold(data: TaskData, cfg: dict[str, Any]) -> list:
    """Stratified k-fold over labelled nodes; every fold trains on the whole graph."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    labelled, unlabelled = labelled_positions(data)
    y = data.y.iloc[labelled]
    split = section_of("split", cfg)
    folds, shuffle, seed = split.folds, split.shuffle, split.seed
    cls = StratifiedKFold if stratify_ok(y, folds) else KFold
    splitter = cls(folds, shuffle=shuffle, random_state=seed if shuffle else None)
    try:
        pairs = list(splitter.split(np.zeros(len(y)), y))
    except ValueError as exc:
        raise DataError(f"Cannot split the labelled nodes: {exc}") from None
    return [(np.sort(np.concatenate([labelled[tr], unlabelled])), labelled[te]) for tr, te in pairs]
