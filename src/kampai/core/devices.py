"""One reading of ``--device`` for torch-based frameworks (public as ``kampai.plugin.torch_device``)."""

from __future__ import annotations

from kampai.core.errors import ConfigError


def torch_device(device: str | None) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda``/``cuda:N``/``gpu``
    without a GPU is a ConfigError; anything else but ``cpu`` too."""
    import torch

    device = str(device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") or device == "gpu":
        if not torch.cuda.is_available():
            raise ConfigError("device=cuda but torch sees no CUDA device; use --device cpu or auto.")
        return "cuda" if device == "gpu" else device
    if device != "cpu":
        raise ConfigError(f"device={device!r}: use auto, cpu, cuda or cuda:N.")
    return "cpu"
