"""One reading of ``--device`` for torch-based frameworks (public as ``kampai.plugin.torch_device``)."""

from __future__ import annotations

from kampai.core.errors import ConfigError


def no_cuda_message() -> str:
    """Why CUDA is missing, in one line: inside a kampai image ($KAMPAI_IN_CONTAINER) the likely
    causes are a CPU build of torch or no GPU passed to the container."""
    import os

    import torch

    if not os.environ.get("KAMPAI_IN_CONTAINER"):
        return "device=cuda but torch sees no CUDA device; use --device cpu or auto."
    if torch.version.cuda is None:
        return ("device=cuda but this image's torch is a CPU build: build a GPU image "
                "(runner container build --gpu) or use --device cpu.")
    return ("device=cuda but no GPU was passed to this container: run it with runner container run --gpu "
            "(docker run --gpus all; podman run --device nvidia.com/gpu=all; Kubernetes: resources.limits "
            "nvidia.com/gpu) on a host with the NVIDIA driver and container toolkit, or use --device cpu.")


def torch_device(device: str | None) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda``/``cuda:N``/``gpu``
    without a GPU is a ConfigError; anything else but ``cpu`` too."""
    import torch

    device = str(device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") or device == "gpu":
        if not torch.cuda.is_available():
            raise ConfigError(no_cuda_message())
        return "cuda" if device == "gpu" else device
    if device != "cpu":
        raise ConfigError(f"device={device!r}: use auto, cpu, cuda or cuda:N.")
    return "cpu"
