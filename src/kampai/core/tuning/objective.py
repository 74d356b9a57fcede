"""One trial: sample params, fit and score every fold, return the task metric.

A trial scores only the study's objective (``tune.trial_metrics: all`` scores every
metric of the config), and skips class probabilities when that metric needs none and the
framework can predict labels alone (the ``labels_only`` capability): the fits are the
work, everything around them is kept to what the study needs.

Framework-generic: it goes through the framework's ``build``/``fit``/``predict`` and the
engine's ``predict_data``/``evaluate_data`` (in quiet mode: no per-fold hooks), with the
task's metrics.  Two optional framework methods make it cheaper (see
the framework's capabilities): ``split_preprocessing`` lets the fitted
preprocessing of each fold come from the :class:`~.cache.PreprocessCache`, and
``fit_incremental`` reports intermediate scores for pruning.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kampai.core import engine
from kampai.core import metrics as metrics_mod
from kampai.core.contract import RunContext, TaskData
from kampai.core.errors import TuneError
from kampai.core.host import get_host
from kampai.core.tuning.fold_cache import PreprocessCache
from kampai.core.tuning.space import SearchSpace
from kampai.core.typed import Section

#: intermediate-score steps of fold ``f`` are ``f * FOLD_STRIDE + step``
FOLD_STRIDE = 1000


@dataclass
class Plan:
    """Everything a worker needs, prepared once per study by the main process (picklable)."""

    cfg: dict[str, Any]
    study_name: str
    storage_url: str
    data: TaskData
    folds: list[tuple[Any, Any]]
    cv: bool
    fingerprint: str
    space: SearchSpace
    metric: str
    direction: str
    metric_names: list[str]
    sampler: str
    pruner: str
    seed: int
    total: int
    deadline: float | None
    cache_dir: str | None
    grid: list[dict[str, Any]] | None = None
    grid_order: list[int] | None = None
    blocked: set[str] = field(default_factory=set)
    output_dir: str = "."
    #: how many distinct points the space has, when it is finite (else None)
    space_size: int | None = None

    @property
    def tune(self) -> Section:
        """The config's ``tune`` section, typed and checked by the loader (``plan.tune.cache_max_mb``):
        read there, not copied into fields of its own."""
        return Section(self.cfg["tune"], "tune")


def build(ctx: RunContext, model_cfg: dict[str, Any], data: TaskData) -> Any:
    """The framework's model for ``model_cfg``, built as the engine builds it (seed, device)."""
    return engine.build_model(ctx, model_cfg, data)


class Pruned(Exception):
    """Raised inside a trial when the pruner stops it."""


class Evaluator:
    """Scores one param set on the plan's folds (one per worker; folds taken once)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        cfg = plan.cfg
        self.task = get_host().tasks().get(cfg["task"])
        self.framework = get_host().frameworks().get(cfg["framework"])
        every = metrics_mod.resolve(self.task, plan.metric_names)
        self.objective = next(m for m in every if m.name == plan.metric)
        # a trial scores only what the study optimises (tune.trial_metrics: all for every metric)
        self.metrics = every if plan.tune.trial_metrics == "all" else [self.objective]
        # no metric needs probabilities: a framework that can predict labels alone skips them
        self.labels_only = (not any(m.needs_proba for m in self.metrics)
                            and "labels_only" in self.framework.capabilities)
        self.labels = metrics_mod.labels_of(plan.data.y) if self.task.needs_target else None
        self.folds = [(i, tr, te, engine.fold_part(plan.data, tr), engine.fold_part(plan.data, te))
                      for i, (tr, te) in enumerate(plan.folds)]
        self.cache = None
        if plan.tune.cache and "cached_preprocessing" in self.framework.capabilities:
            self.cache = PreprocessCache(Path(plan.cache_dir), max_mb=plan.tune.cache_max_mb)
        self.ctx = RunContext(config=cfg, run_id=plan.study_name, run_dir=Path(plan.output_dir),
                              task=self.task, framework=self.framework, quiet=True)
        self.prune = plan.pruner != "none"
        self.incremental = self.prune and "incremental" in self.framework.capabilities

    def params_config(self, params: dict[str, Any]) -> dict[str, Any]:
        model_cfg = dict(self.plan.cfg["model"])
        model_cfg["params"] = {**(model_cfg.get("params") or {}), **params}
        return model_cfg

    def __call__(self, trial: Any, params: dict[str, Any] | None = None) -> tuple[float, dict[str, float], float]:
        """``(objective value, metrics, fit seconds)`` of ``params`` (sampled from ``trial``
        when not given); raises :class:`Pruned`."""
        if params is None:
            params = self.plan.space.suggest(trial)
        model_cfg = self.params_config(params)
        fold_scores: list[dict[str, float]] = []
        fit_seconds = 0.0
        for i, train_idx, test_idx, train, test in self.folds:
            self.ctx.fold = i if self.plan.cv else None
            model, train_in, test_in = self._build(model_cfg, i, train_idx, test_idx, train, test)
            start = time.perf_counter()
            if self.incremental:
                model = self.framework.fit_incremental(model, train_in, self.task,
                                                       self._reporter(trial, i, test, test_in))
            else:
                model = self.framework.fit(model, train_in, self.task)
            fit_seconds += time.perf_counter() - start
            if self.labels_only:
                prediction = self.framework.predict_labels(model, test_in, self.task)
            else:
                prediction = engine.predict_data(self.ctx, model, test_in)
            scores = engine.evaluate_data(self.ctx, self.metrics, test, prediction, announce=False,
                                          labels=self.labels)
            fold_scores.append(scores)
            if (self.prune and not self.incremental and self.plan.metric in scores
                    and not math.isnan(scores[self.plan.metric])):
                trial.report(scores[self.plan.metric], i)
                if trial.should_prune():
                    raise Pruned(f"pruned after fold {i + 1}")
        self.ctx.fold = None
        scores = metrics_mod.aggregate(fold_scores) if self.plan.cv else fold_scores[0]
        if self.plan.metric not in scores:
            need = "class probabilities (predict_proba)" if self.objective.needs_proba else "a target"
            raise TuneError(f"Metric '{self.plan.metric}' cannot be computed for this model: it "
                            f"needs {need}. Choose another with --metric.")
        value = float(scores[self.plan.metric])
        if math.isnan(value):
            raise TuneError(f"Metric '{self.plan.metric}' is NaN for these params.")
        return value, {k: float(v) for k, v in scores.items()}, fit_seconds

    def _build(self, model_cfg: dict[str, Any], fold: int, train_idx: Any, test_idx: Any,
               train: TaskData, test: TaskData) -> tuple[Any, TaskData, TaskData]:
        model = build(self.ctx, model_cfg, train)
        if self.cache is None:
            return model, train, test
        preprocessing, estimator = self.framework.split_preprocessing(model)
        if preprocessing is None:
            return model, train, test
        key = PreprocessCache.key(self.plan.fingerprint, fold, train_idx, test_idx, preprocessing)
        y = train.y if self.task.needs_target else None

        def compute() -> tuple[Any, Any]:
            return preprocessing.fit_transform(train.X, y), preprocessing.transform(test.X)

        X_train, X_test = self.cache.get(key, compute)
        return (estimator,
                TaskData(X=X_train, y=train.y, groups=train.groups, order=train.order, info=train.info),
                TaskData(X=X_test, y=test.y, groups=test.groups, order=test.order, info=test.info))

    def _reporter(self, trial: Any, fold: int, test: TaskData, test_in: TaskData) -> Any:
        def report(step: int, model: Any) -> None:
            prediction = self.framework.predict(model, test_in, self.task)
            scores = metrics_mod.compute([self.objective], test.y, prediction, test.X,
                                         labels=self.labels)
            if self.plan.metric not in scores or math.isnan(scores[self.plan.metric]):
                return
            trial.report(scores[self.plan.metric], fold * FOLD_STRIDE + int(step))
            if trial.should_prune():
                raise Pruned(f"pruned at fold {fold + 1}, step {step}")

        return report
