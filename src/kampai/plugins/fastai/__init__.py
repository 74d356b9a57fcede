"""The fast.ai framework plugin (entry point ``fastai``): ``tabular_learner`` for
classification and regression, ``vision_learner`` for image classification.

Imports neither torch nor fastai at module import: ``runner plugins list`` stays fast.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl


@hookimpl
def kampai_register_frameworks(registry: Any) -> None:
    from kampai.plugin.experiments import registry_of
    from kampai.plugins.fastai.framework import FastaiFramework  # here: --help stays light

    framework = FastaiFramework()
    known = registry_of("tasks")
    missing = [t for t in framework.optional_tasks if t not in known]
    if missing:
        framework.tasks = tuple(t for t in framework.tasks if t not in missing)
    registry.add(framework)
