"""The Darts framework plugin (entry point ``darts``): forecasting with any Darts model.

Imports nothing heavy at module import: Darts, torch and statsmodels are imported when a
model is built, a dataset loaded or the estimator list read.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl
from kampai.plugins.darts import datasets


@hookimpl
def kampai_register_frameworks(registry: Any) -> None:
    from kampai.plugins.darts.framework import DartsFramework  # here: --help stays light

    registry.add(DartsFramework())


@hookimpl
def kampai_register_datasets(registry: Any) -> None:
    datasets.register(registry)


@hookimpl
def kampai_register_estimators(registry: Any) -> None:
    from kampai.plugins.darts.models import load_all

    registry.add_source("darts", load_all, "every forecasting model in darts.models")
