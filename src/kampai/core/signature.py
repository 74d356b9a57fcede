"""A run's ``signature.json``: what a server or another tool needs to know of the model
without importing its framework (written at training, checked against new data)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampai.core.contract import Framework, Task, TaskData

if TYPE_CHECKING:
    import pandas as pd

SIGNATURE = "signature.json"


def signature(task: Task, framework: Framework, data: TaskData, predictions: pd.DataFrame,
              versions: dict[str, str]) -> dict[str, Any]:
    """What a server or another tool needs without importing the framework: task,
    framework, the inputs (columns and dtypes, or the task's input kind), the classes,
    the output columns, and the packages with their versions."""
    return {"version": 1, "task": task.name, "framework": framework.name, **task.signature(data),
            "outputs": [str(c) for c in predictions.columns if c not in ("fold", "target", "actual")],
            "packages": versions}

