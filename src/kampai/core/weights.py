"""Loading a plugin's saved weights without unpickling (public as ``kampai.plugin.runs.load_weights``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kampai.core.errors import RunError


def load_weights(folder: str | Path, weights: str, config: str = "model.json") -> tuple[dict[str, Any], Any]:
    """``(config, state_dict)`` of a model saved as a weights file plus a JSON config whose
    ``sha256`` key is the weights file's :func:`file_sha256`.  The config must parse; the
    weights file is opened once, hashed through that handle and deserialized from it (never
    reopened by path): ``.safetensors`` files through safetensors, others through
    ``torch.load(weights_only=True)``, always onto the CPU.  Any failure is a one-line
    RunError naming the file."""
    from kampai.core.verified import open_checked

    folder = Path(folder)
    try:
        settings = json.loads((folder / config).read_text())
        if not isinstance(settings, dict):
            raise ValueError
    except (OSError, ValueError):
        raise RunError(f"Model config '{folder / config}' is missing or corrupt.") from None
    file = folder / weights
    with open_checked(file, settings.get("sha256")) as handle:
        try:
            if file.suffix == ".safetensors":
                from safetensors.torch import load

                state = load(handle.read())  # copies into tensors: the bytes go when this returns
            else:
                import torch

                state = torch.load(handle, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise RunError(f"Cannot load '{file}': {exc}") from None
    return settings, state
