"""``--device``, parsed once: one grammar for every framework, one :class:`Device` value.

The grammar is ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (case-insensitive).  The
config check refuses any other text (:func:`device_problem`, the ``device`` key's rule) and,
for a framework with the ``device`` capability, a device this machine lacks
(:meth:`Device.check_available`), in one line, before any plugin builds a model.  A
framework reads ``ctx.device`` (a :class:`Device`, which is also the text) and asks
``ctx.device.torch()`` for the torch device string.
"""

from __future__ import annotations

import re

from kampai.core.errors import ConfigError

#: the one grammar of ``--device``
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
GRAMMAR = "auto, cpu, cuda, cuda:N or mps"


def device_problem(value: object) -> str | None:
    """Why ``value`` is not a device (None when it is): the ``device`` key's check."""
    if not DEVICE_PATTERN.match(str(value).lower()):
        return f"must be {GRAMMAR}, got {value!r}"
    return None


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


def _mps_available(torch: object) -> bool:
    backend = getattr(getattr(torch, "backends", None), "mps", None)
    return bool(backend is not None and backend.is_available())


class Device(str):
    """A parsed ``--device`` (the normalised text itself, so code that compares or prints
    it as a string keeps working): ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""

    __slots__ = ()

    @classmethod
    def parse(cls, value: object) -> Device:
        """``value`` (None = ``auto``) as a Device; anything outside the grammar is a ConfigError."""
        if isinstance(value, Device):
            return value
        text = "auto" if value is None else str(value).strip().lower()
        if device_problem(text):
            raise ConfigError(f"device {device_problem(text)}.")
        return cls(text)

    @property
    def kind(self) -> str:
        """``auto``, ``cpu``, ``cuda`` or ``mps`` (``cuda:1`` -> ``cuda``)."""
        return self.partition(":")[0]

    @property
    def index(self) -> int | None:
        """N of ``cuda:N``, else None."""
        return int(self.partition(":")[2]) if ":" in self else None

    def check_available(self) -> None:
        """Refuse (ConfigError, one line) a device torch does not see on this machine; nothing
        to check for ``auto``/``cpu`` or where torch is not installed (the framework decides)."""
        if self.kind in ("auto", "cpu"):
            return
        try:
            import torch
        except ImportError:
            return
        if self.kind == "mps" and not _mps_available(torch):
            raise ConfigError("device=mps but torch sees no MPS device (Apple silicon with macOS 12.3+); "
                              "use --device cpu or auto.")
        if self.kind == "cuda":
            if not torch.cuda.is_available():
                raise ConfigError(no_cuda_message())
            count = torch.cuda.device_count()
            if self.index is not None and self.index >= count:
                raise ConfigError(f"device={self} but torch sees {count} CUDA device(s) (cuda:0 to "
                                  f"cuda:{count - 1}); use one of them, cuda, cpu or auto.")

    def torch(self) -> str:
        """The torch device string: ``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``;
        any other value as given, once torch sees it (else a ConfigError in one line)."""
        self.check_available()
        if self.kind == "auto":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        return str(self)


def torch_device(device: str | None) -> str:
    """``Device.parse(device).torch()`` (frameworks read ``ctx.device.torch()``)."""
    return Device.parse(device).torch()
