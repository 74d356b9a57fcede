"""Loading a plugin's saved weights without unpickling (public as ``kampai.plugin.load_weights``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kampai.core.errors import RunError


def load_weights(folder: str | Path, weights: str, config: str = "model.json") -> tuple[dict[str, Any], Any]:
    """``(config, state_dict)`` of a model saved as a weights file plus a JSON config whose
    ``sha256`` key is the weights file's :func:`file_sha256`.  The config must parse and the
    hash match before anything is read; ``.safetensors`` files load through safetensors,
    others through ``torch.load(weights_only=True)``, always onto the CPU.  Any failure is
    a one-line RunError naming the file."""
    from kampai.core.runs import file_sha256

    folder = Path(folder)
    try:
        settings = json.loads((folder / config).read_text())
        if not isinstance(settings, dict):
            raise ValueError
    except (OSError, ValueError):
        raise RunError(f"Model config '{folder / config}' is missing or corrupt.") from None
    file = folder / weights
    if not file.is_file() or file_sha256(file) != settings.get("sha256"):
        raise RunError(f"Model weights '{file}' are missing or do not match their recorded hash: refusing "
                       "to load them.")
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(file, device="cpu")
        else:
            import torch

            state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise RunError(f"Cannot load '{file}': {exc}") from None
    return settings, state
