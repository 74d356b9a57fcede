"""kampai: one engine, many frameworks.

Three lines in a notebook::

    import kampai
    run = kampai.train(task="classification", data="sklearn:iris", model="RandomForestClassifier")
    run.metrics, run.predict(df)

Attributes are imported on first use so that ``import kampai`` (and the CLI) stays light.
"""

from __future__ import annotations

TYPE_CHECKING = False  # no typing (nor pluggy) imported by `import kampai`: runner --help pays for it
if TYPE_CHECKING:
    from typing import Any

    from kampai.core.errors import KampaiError  # noqa: F401  (lazy: __getattr__)
    from kampai.core.markers import hookimpl  # noqa: F401

__version__ = "0.1.0"

_LAZY = {
    "KampaiError": "kampai.core.errors", "hookimpl": "kampai.core.markers",  # no pluggy for runner --help
    "train": "kampai.api", "load_run": "kampai.api", "config": "kampai.api", "tune": "kampai.api",
    "Run": "kampai.api", "TaskData": "kampai.core.contract", "Prediction": "kampai.core.contract",
    "Metric": "kampai.core.contract",
}
# the rest of the CLI as Python (docs/python-api.md): each calls what its runner command calls
_LAZY.update({
    "runs": "kampai.lab.runs_table", "compare": "kampai.lab.runs_table", "registry": "kampai.lab.registry",
    "serve": "kampai.lab.serving", "inspect": "kampai.lab.insight", "learning_curve": "kampai.lab.insight",
    "report": "kampai.lab.insight", "study": "kampai.lab.studies",
})

__all__ = [*_LAZY]  # hookspec stays kampai's own (kampai.core.markers)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kampai' has no attribute '{name}'")
