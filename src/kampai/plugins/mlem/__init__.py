"""MLEM serializer plugin: ``runner train --serializer mlem`` (config ``output.serializer: mlem``).

Saves a scikit-learn model with ``mlem.api.save`` into the run's ``model/`` folder (the
model file plus its ``model.mlem`` metadata: class, library versions, requirements,
method signatures) and loads it back with ``mlem.api.load``.  The run manifest hashes
both files, so a changed model or metadata file is refused before MLEM reads it.

MLEM 0.4.14 (its last release) needs pydantic < 2, so it lives in its own environment:
``scripts/mlem-env`` builds ``.venv-mlem`` (``pip install 'kampai[mlem]'``).  Torch
models (Darts, transformers, fastai) are not supported: MLEM 0.4 cannot save them, and
choosing ``--serializer mlem`` for those frameworks fails before training starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kampai.plugin import hookimpl

MODEL_NAME = "model"  # MLEM writes model/model and model/model.mlem
#: frameworks whose models MLEM 0.4 can save (scikit-learn pipelines and estimators)
FRAMEWORKS = ("sklearn",)


def _mlem_api() -> Any:
    try:
        from mlem import api
    except ImportError as exc:
        from kampai.plugin import KampaiError

        raise KampaiError(
            f"The MLEM serializer needs MLEM, which cannot be imported here ({exc}). MLEM 0.4.14 needs "
            "pydantic<2: install it in its own env with scripts/mlem-env (pip install 'kampai[mlem]')."
        ) from None
    return api


def _check_installed() -> None:
    from importlib.util import find_spec

    if find_spec("mlem") is None:
        _mlem_api()  # raises the install hint


def _check_model(model: Any) -> None:
    module = type(model).__module__.split(".")[0]
    if module in ("torch", "lightning", "pytorch_lightning", "darts", "transformers", "fastai"):
        from kampai.plugin import KampaiError

        raise KampaiError(f"MLEM cannot serialize {type(model).__name__} ({module}) models: kampai's "
                          "MLEM serializer handles scikit-learn models only. Drop --serializer mlem.")


def save(model: Any, path: Path) -> None:
    """``mlem.api.save`` the model as ``path/model`` (+ ``path/model.mlem``)."""
    _check_model(model)
    api = _mlem_api()
    api.save(model, str(Path(path) / MODEL_NAME))


def load(path: Path) -> Any:
    """Load the model back through MLEM (``mlem.api.load``)."""
    from kampai.plugin import RunError

    meta = Path(path) / f"{MODEL_NAME}.mlem"
    if not meta.exists():
        raise RunError(f"No MLEM model in '{path}': {meta.name} is missing.")
    api = _mlem_api()
    try:
        return api.load(str(Path(path) / MODEL_NAME))
    except Exception as exc:
        raise RunError(f"MLEM cannot load '{meta}': {exc}") from None


@hookimpl
def kampai_register_serializers(registry: Any) -> None:
    from kampai.plugin import Serializer

    registry.add(Serializer("mlem", save=save, load=load, frameworks=FRAMEWORKS,
                            description="MLEM 0.4 (model + .mlem metadata); scikit-learn models only",
                            check=_check_installed))
