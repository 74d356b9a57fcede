"""Samplers and pruners by name (the names are declared, and checked by the config loader, in
:mod:`kampai.core.schema`: ``TUNE_SAMPLERS``, ``TUNE_PRUNERS``).

Samplers are created per trial, seeded with ``(seed, trial number)``: a single worker
reproduces the same study for the same seed, and parallel workers never draw the same
random points.  Optuna's samplers keep their state in the study storage, so a fresh
sampler object per trial loses nothing.  ``grid`` is not an Optuna sampler here: the
worker assigns grid points itself, under the study lock (see :mod:`.worker`), so every
combination runs exactly once whatever the number of workers.
"""

from __future__ import annotations

from typing import Any


def trial_seed(seed: int, number: int) -> int:
    return (int(seed) * 1_000_003 + int(number)) % (2**32)


def make_sampler(name: str, seed: int, number: int, startup_trials: int = 10) -> Any:
    """The sampler for trial ``number`` (grid uses a random sampler only as a fallback)."""
    import warnings

    import optuna

    s = trial_seed(seed, number)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=s, n_startup_trials=startup_trials)
    if name == "cmaes":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.samplers.CmaEsSampler(
                seed=s, n_startup_trials=startup_trials, warn_independent_sampling=False,
                independent_sampler=optuna.samplers.RandomSampler(seed=s))
    return optuna.samplers.RandomSampler(seed=s)


def make_pruner(name: str, startup_trials: int = 5) -> Any:
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=0)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()
