"""Every ``runner`` command says something before it imports a framework.

Importing scikit-learn takes 2 s, PyG 6.5 s on a quiet machine, minutes under load; a
command that printed nothing yet would look hung.  In a terminal ``runner train`` shows a
``libraries …`` spinner while it imports; for every command, the built-in and the plugins'
alike, and in logs and pipes, :func:`watch` adds a finder in front of
``sys.meta_path`` that sees the first import of a library in :data:`HEAVY` and, if the
command printed nothing yet (:func:`kampai.core.console.started`), prints ``loading
scikit-learn …`` on stderr just before that import runs.  One line at most; after it the
finder only returns None (a few hundred nanoseconds an import) until the command ends.
``-q``/``--quiet``/``--json`` print no such line, nor does ``main(argv)`` called by a
program (tests, notebooks): the watch is for the command line (``main()`` reading
``sys.argv``).  A config mistake found before the import stays a one-line error.

The finder only looks: it finds nothing itself (``find_spec`` returns None, so the import
goes on as without it), and a lookup that is not an import (``importlib.util.find_spec``,
which plugins use to see whether a library is installed) prints nothing.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

from kampai.core import console

#: top-level packages whose import takes long enough to be announced (the name shown)
HEAVY = {
    "numpy": "NumPy", "pandas": "pandas", "scipy": "SciPy", "sklearn": "scikit-learn",
    "sklego": "scikit-lego", "torch": "PyTorch", "torchvision": "torchvision", "lightning": "Lightning",
    "pytorch_lightning": "Lightning", "darts": "Darts", "statsmodels": "statsmodels",
    "transformers": "transformers", "datasets": "datasets", "accelerate": "accelerate",
    "fastai": "fast.ai", "torch_geometric": "PyTorch Geometric", "implicit": "implicit",
    "skorch": "skorch", "mlflow": "MLflow", "mlem": "MLEM", "optuna": "Optuna", "ray": "Ray",
    "pyarrow": "pyarrow", "joblib": "joblib", "matplotlib": "matplotlib", "onnx": "ONNX",
    "onnxruntime": "ONNX Runtime", "skl2onnx": "skl2onnx", "fastapi": "FastAPI", "starlette": "Starlette",
    "uvicorn": "uvicorn", "streamlit": "Streamlit", "xgboost": "XGBoost", "lightgbm": "LightGBM",
    "catboost": "CatBoost", "polars": "polars", "dask": "Dask", "dvc": "DVC",
}

#: the frame that asks finders for a module being imported (CPython's importlib._bootstrap)
_IMPORTING = "_find_and_load_unlocked"


class _Watch:
    """A ``sys.meta_path`` finder that finds nothing and announces the first heavy import."""

    done = False

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        # not removed from sys.meta_path here: the import machinery is looping over it
        # (removing would skip the next finder); unwatch() removes it when the command ends
        if not self.done and path is None and name in HEAVY and _importing():
            self.done = True
            if not console.started():
                console.status_line(f"loading {HEAVY[name]} …")
        return None


def _importing() -> bool:
    """The lookup is an import, not ``importlib.util.find_spec`` (frames: this finder's
    ``find_spec``, ``_find_spec``, then its caller)."""
    try:
        return sys._getframe(3).f_code.co_name == _IMPORTING
    except ValueError:
        return True


_watch: _Watch | None = None


def watch(quiet: bool) -> None:
    """Start watching for the command about to run (nothing printed yet by it)."""
    global _watch
    unwatch()
    console.reset_started()
    if quiet:
        return
    _watch = _Watch()
    sys.meta_path.insert(0, _watch)


def unwatch() -> None:
    """Stop watching (the command ended)."""
    global _watch
    if _watch is not None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(_watch)
        _watch = None
