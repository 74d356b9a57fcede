"""Hyperparameter tuning for every framework, with Optuna.

The search space lives in the experiment config (``model.search``) next to the params it
tunes; the objective is the task's metric on the configured split, computed through the
same build/fit/predict/metric path as ``runner train``.  A framework gets tuning without
code of its own; it may add default search spaces, a preprocessing split for the cache and
incremental fits for pruning (see :class:`kampai.core.contract.TunableFramework`).

Modules, small on purpose:

* :mod:`.space`     parse and validate ``model.search``; suggest params; enumerate a grid
* :mod:`.samplers`  samplers (tpe, random, cmaes, grid) and pruners by name
* :mod:`.storage`   the study storage URL, opening it, and a cross-process study lock
* :mod:`.cache`     fitted preprocessing per fold, shared by trials and workers
* :mod:`.objective` one trial: params -> folds -> the metric
* :mod:`.prepare`   the checked plan: config, space, data, folds, a probe build
* :mod:`.resume`    create or load the study, refuse an incompatible resume
* :mod:`.trials`    what a stored trial counts as (done, duplicate, holding a grid point)
* :mod:`.worker`    the claim/run/tell loop of one worker
* :mod:`.processes` a ``--jobs`` worker process and how it dies with its parent
* :mod:`.launch`    run the workers in this process or as ``--jobs`` processes
* :mod:`.study`     the orchestration behind ``runner tune`` and ``kampai.tune``
* :mod:`.from_study` registry mode: a study's best params as a normal run's config
* :mod:`.report`    progress bar, final table, trial log export and plots

Nothing here imports optuna at module import time.
"""

from __future__ import annotations

from typing import Any

__all__ = ["tune"]


def tune(cfg: dict[str, Any], frame: Any = None, **kwargs: Any) -> Any:
    """Run a study for a loaded config (see :func:`kampai.core.tuning.study.tune`)."""
    from kampai.core.tuning.study import tune as _tune

    return _tune(cfg, frame, **kwargs)
