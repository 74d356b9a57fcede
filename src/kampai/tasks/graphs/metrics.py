"""The graph tasks' metrics: the classification ones, registered for both tasks."""

from __future__ import annotations

from kampai.plugin import Metric
from kampai.tasks.graphs.data import TASKS


def metrics() -> list[Metric]:
    from kampai.tasks import classification as c

    return [Metric(m.name, m.fn, TASKS, greater_is_better=m.greater_is_better, needs_proba=m.needs_proba,
                   description=m.description) for m in c.METRICS]

