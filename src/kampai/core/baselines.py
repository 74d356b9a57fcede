"""Baselines in every run: the task's trivial reference models, scored like the model.

A task may offer a baseline (:meth:`kampai.core.contract.Task.baseline`: majority class
and a linear model for classification, the mean and a linear model for regression, ...).
The engine hands each fold to a :class:`Tracker`, which fits the baseline on the fold's
training part, scores its prediction on the test part with the *same* metric code as the
model (:func:`kampai.core.metrics.compute`) and, at the end, writes ``baseline_<metric>``
beside each metric, prints it in the step log, records the baselines in the run's meta
and warns in one line when the model loses to its reference baseline on the primary
metric (each metric's direction respected).

Cost: the baselines of the first fold always run (tasks cap their rows); a later fold's
run only while the baselines' time so far stays under :data:`BUDGET` of the run's time
since the first fit began, so a cross-validation never pays more than about a tenth for
them.  A baseline that predicted a sample of the test rows (``Prediction.extra["rows"]``)
is scored on those rows; text labels are scored as fixed-width strings (faster to sort, the
same scores).  Tuning trials never compute them (``ctx.quiet``), nor a run with
``output.baseline: false`` (``--no-baseline``).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

from kampai.core import metrics as metrics_mod
from kampai.core.contract import Metric, Prediction, RunContext, TaskData
from kampai.core.typed import Config

#: the share of the run's time that the baselines of later folds may bring the total to
BUDGET = 0.10
#: how much worse than its baseline (a share of the baseline's score) a model may be unwarned
TOLERANCE = 0.005
#: the prefix of a baseline's metric in metrics.json (``baseline_accuracy``)
PREFIX = "baseline_"


def normalized(out: Any) -> list[tuple[str, Prediction]]:
    """A task's :meth:`~kampai.core.contract.Task.baseline` answer as a list (reference first)."""
    if out is None:
        return []
    items = [out] if isinstance(out, tuple) else list(out)
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], Prediction)):
            raise TypeError(f"Task.baseline must return (description, Prediction) or a list of them, got {item!r}")
    return items


def loses(model: float, baseline: float, metric: Metric) -> bool:
    """Whether ``model`` is worse than ``baseline`` in ``metric``'s direction, by more than
    :data:`TOLERANCE` of the baseline's size (a k-means model against the k-means baseline
    differs in the third decimal: no warning for that)."""
    if not (math.isfinite(model) and math.isfinite(baseline)):
        return False
    worse = baseline - model if metric.greater_is_better else model - baseline
    return worse > TOLERANCE * max(abs(baseline), 1e-12)


class Tracker:
    """Fits and scores the task's baselines fold by fold; :meth:`finish` reports them."""

    def __init__(self, ctx: RunContext, metrics: list[Metric], labels: list[Any] | None) -> None:
        cfg = Config.of(ctx.config)
        self.task = ctx.task
        self.enabled = not ctx.quiet and bool((cfg.get("output") or {}).get("baseline", True))
        self.metrics = [m for m in metrics if not m.name.startswith(PREFIX)]
        self.labels = labels
        self.seed = int(cfg.seed)
        self.started = time.perf_counter()
        self.seconds = 0.0
        self.folds: list[int] = []
        self.skipped: list[int] = []
        self.names: list[str] = []
        #: per baseline name: its scores on each fold it ran on
        self.scores: dict[str, list[dict[str, float]]] = {}
        #: the model's scores on those same folds (the verdict compares like with like)
        self.model_scores: list[dict[str, float]] = []
        self.error: str | None = None
        self.result: dict[str, Any] | None = None
        #: the keys finish() added to the scores, and the log lines report() prints
        self.added: set[str] = set()
        self.lines: list[str] = []

    def fold(self, index: int, train: TaskData, test: TaskData, prediction: Prediction,
             model_scores: dict[str, float]) -> None:
        """Fit and score the baselines on one fold (or skip it: off, over budget, none)."""
        if not self.enabled:
            return
        if self.folds and self.seconds > BUDGET * (time.perf_counter() - self.started):
            self.skipped.append(index)
            return
        start = time.perf_counter()
        try:
            # the seconds this fold's baselines may take: a tenth of the run so far, less spent
            budget = max(0.0, BUDGET * (start - self.started) - self.seconds)
            given = replace(test, info={**test.info, "prediction": prediction, "baseline_seconds": budget})
            found = normalized(self.task.baseline(train, given, seed=self.seed))
            if not found:
                self.enabled = False
                return
            truth = _fixed_width(test.y)
            scored = {name: self._score(truth, test.X, pred) for name, pred in found}
        except Exception as exc:  # a reference model must never cost the run its own results
            self.enabled = False
            self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            self.lines.append(f"  [yellow]warning[/yellow]: no baseline: {self.error}")
            return
        finally:
            self.seconds += time.perf_counter() - start
        for name, values in scored.items():
            if name not in self.scores:
                self.names.append(name)
            self.scores.setdefault(name, []).append(values)
        self.folds.append(index)
        self.model_scores.append(model_scores)

    def _score(self, truth: Any, X: Any, prediction: Prediction) -> dict[str, float]:
        """A baseline's metrics on the fold's test rows, or on the sample of them it predicted
        (``prediction.extra["rows"]``: positions in the test part)."""
        rows = (prediction.extra or {}).get("rows")
        if rows is not None:
            truth = truth.iloc[rows] if hasattr(truth, "iloc") else truth[rows]
            X = X.iloc[rows] if hasattr(X, "iloc") else X[rows]
        return metrics_mod.compute(self.metrics, truth, replace(prediction, y=_fixed_width(prediction.y)), X,
                                   labels=self.labels)

    def finish(self, scores: dict[str, float]) -> dict[str, float]:
        """``scores`` with ``baseline_<metric>`` of the reference baseline added (the model
        compared with it on the folds it ran on: :meth:`report` says how)."""
        if not self.names:
            return scores
        means = {name: _mean(folds) for name, folds in self.scores.items()}
        reference = self.names[0]
        out = dict(scores)
        for metric, value in means[reference].items():
            out[PREFIX + metric] = value
            self.added.add(PREFIX + metric)
        model = _mean(self.model_scores)
        primary = next((m for m in self.metrics if math.isfinite(means[reference].get(m.name, math.nan))
                        and math.isfinite(model.get(m.name, math.nan))), None)
        self.result = {
            "name": reference, "metric": primary.name if primary else None,
            "others": {name: means[name] for name in self.names[1:]},
            "folds": len(self.folds), "skipped_folds": len(self.skipped),
            "seconds": round(self.seconds, 4),
            "loses": loses(model[primary.name], means[reference][primary.name], primary) if primary else None,
        }
        if self.error:  # a later fold's baseline failed: the folds before it still count
            self.result["error"] = self.error
        self._lines(means, model, primary)
        return out

    def owns(self, key: str) -> bool:
        """Whether ``key`` of the scores is a baseline's (:meth:`finish` added it)."""
        return key in self.added

    def report(self, report: Any) -> None:
        """Print the baselines' line(s) into the step log (``report.info``)."""
        for line in self.lines:
            report.info(line)

    def _lines(self, means: dict[str, dict[str, float]], model: dict[str, float], primary: Metric | None) -> None:
        reference = self.names[0]
        if primary is None:
            return
        name = primary.name
        parts = ", ".join(f"{b} {means[b][name]:.4f}" for b in self.names if name in means[b])
        where = f" on {len(self.folds)} of {len(self.folds) + len(self.skipped)} folds" if self.skipped else ""
        self.lines.append(f"  {name} {model[name]:.4f} (baseline {parts}{where})")
        if self.result and self.result["loses"]:
            better = "higher" if primary.greater_is_better else "lower"
            self.lines.append(f"  [yellow]warning[/yellow]: the model loses to its baseline ({reference}): {name} "
                              f"{model[name]:.4f} vs {means[reference][name]:.4f} ({better} is better); "
                              "check the features, the model's settings or the training length.")

    def meta(self) -> dict[str, Any] | None:
        """What the run's meta records about the baselines (None when none ran)."""
        if self.result is None and self.error:
            return {"error": self.error}
        return self.result


def _fixed_width(y: Any) -> Any:
    """Text labels as a NumPy fixed-width string array (the same values, so the same scores):
    scikit-learn's metrics sort the labels a dozen times each, and sorting Python strings
    (an object array) costs about three times as much: on 10,000 test rows that was most of
    a text baseline's cost.  Anything else as it is."""
    import numpy as np
    import pandas as pd

    if not isinstance(y, (pd.Series, np.ndarray)) or y.ndim != 1 or len(y) == 0:
        return y  # a task's own structure (interactions, a forecast table) stays as it is
    if not (pd.api.types.is_object_dtype(y.dtype) or pd.api.types.is_string_dtype(y.dtype)):
        return y
    values = y.to_numpy(dtype=object) if isinstance(y, pd.Series) else y.astype(object)
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        return y
    return values.astype(str)


def _mean(folds: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each metric over folds (NaN folds left out), without the ``_std`` keys."""
    if len(folds) == 1:
        return dict(folds[0])
    return {k: v for k, v in metrics_mod.aggregate(folds).items() if not k.endswith("_std")}
