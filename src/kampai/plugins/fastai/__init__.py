"""The fast.ai framework plugin (entry point ``fastai``): ``tabular_learner`` for
classification and regression, ``vision_learner`` for image classification.

Imports neither torch nor fastai at module import: ``runner plugins list`` stays fast.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl
from kampai.plugins.fastai.framework import FastaiFramework


@hookimpl
def kampai_register_frameworks(registry: Any) -> None:
    registry.add(FastaiFramework())
