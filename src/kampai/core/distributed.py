"""torch.distributed, as a run's code sees it: the process group a torchrun worker joined.

``runner train ... --nproc-per-node N`` (:mod:`kampai.core.torchrun`, the launcher) starts
``python -m kampai`` with the same command line in each worker process, under torchrun.
Here is what the workers and the frameworks need: :func:`worker` joins the process group
(and turns Ctrl-C/SIGTERM into :class:`Stopped`), :func:`current` is ``ctx.distributed``
(a :class:`Distributed`: rank, world size, backend, and the helpers a training loop needs:
:meth:`Distributed.shard`, :meth:`Distributed.wrap`, :meth:`Distributed.mean`), and
:func:`record_error` hands a worker's failure to the launcher through torchrun's error file.
This module imports no other core module but errors and devices (the engine, the build
context and the schema import it).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kampai.core.errors import KampaiError

if TYPE_CHECKING:
    from kampai.core.devices import Device

#: set in the workers' environment by :func:`kampai.core.torchrun.launch`: this process is a torchrun worker
WORKER_ENV = "KAMPAI_DISTRIBUTED_WORKER"
#: the process-group backend the launcher chose (gloo or nccl), for the workers
BACKEND_ENV = "KAMPAI_DISTRIBUTED_BACKEND"
BACKENDS = ("auto", "gloo", "nccl")


def endpoint_problem(value: object) -> str | None:
    """Why ``value`` is not ``HOST:PORT`` (the ``distributed.rdzv_endpoint`` key's check)."""
    host, _, port = str(value).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return f"must be HOST:PORT (e.g. trainer-0.trainer:29500), got {value!r}"
    return None


@dataclass(frozen=True)
class Distributed:
    """This process's place in the process group (``ctx.distributed``; None outside one)."""

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def leader(self) -> bool:
        """Rank 0: the one that writes the run, predicts and scores."""
        return self.rank == 0

    def shard(self, n: int) -> Any:
        """This rank's positions of ``n`` examples: every ``world_size``-th from ``rank``,
        padded by wrapping around so that every rank gets the same count (as
        ``torch.utils.data.DistributedSampler`` does): equal batch counts keep DDP's
        all-reduces in step."""
        import numpy as np

        per_rank = -(-n // self.world_size)
        padded = np.resize(np.arange(n), per_rank * self.world_size) if n else np.arange(0)
        return padded[self.rank::self.world_size]

    def wrap(self, module: Any, **kwargs: Any) -> Any:
        """``module`` in ``DistributedDataParallel`` (on this rank's GPU with nccl)."""
        from torch.nn.parallel import DistributedDataParallel

        if self.backend == "nccl":
            kwargs.setdefault("device_ids", [self.local_rank])
        return DistributedDataParallel(module, **kwargs)

    def mean(self, value: float) -> float:
        """``value`` averaged over the ranks (validation losses: every rank takes the same
        early-stopping decision)."""
        import torch
        import torch.distributed as dist

        tensor = torch.tensor([float(value)], dtype=torch.float64,
                              device=f"cuda:{self.local_rank}" if self.backend == "nccl" else "cpu")
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def device(self, device: Device) -> Device:
        """The device this rank trains on: with nccl, ``cuda:LOCAL_RANK``; else ``device``."""
        from kampai.core.devices import Device

        if self.backend == "nccl" and device.kind in ("auto", "cuda"):
            return Device(f"cuda:{self.local_rank}")
        return device


def requested(cfg: dict[str, Any]) -> bool:
    """The config asks for torch.distributed (``--nproc-per-node`` or ``--nnodes`` > 1)."""
    section = cfg.get("distributed") or {}
    return section.get("nproc_per_node") is not None or int(section.get("nnodes") or 1) > 1


def in_worker() -> bool:
    """This process is a worker started by :func:`kampai.core.torchrun.launch`."""
    return os.environ.get(WORKER_ENV) == "1" and "RANK" in os.environ


def current() -> Distributed | None:
    """The process group this worker joined (None outside :func:`worker`)."""
    if not in_worker():
        return None
    try:
        import torch.distributed as dist
    except ImportError:
        return None
    if not (dist.is_available() and dist.is_initialized()):
        return None
    return Distributed(rank=dist.get_rank(), world_size=dist.get_world_size(),
                       local_rank=int(os.environ.get("LOCAL_RANK", 0)), backend=str(dist.get_backend()))


def summary() -> dict[str, Any] | None:
    """What a run's ``meta.json`` records of the process group that trained it (rank 0
    writes it): world size, machines, backend; None outside one."""
    group = current()
    if group is None:
        return None
    local = int(os.environ.get("LOCAL_WORLD_SIZE", group.world_size))
    return {"world_size": group.world_size, "nnodes": max(1, group.world_size // local), "backend": group.backend}


class Stopped(BaseException):
    """SIGINT/SIGTERM in a worker (torchrun's agent passes Ctrl-C on): not a
    KeyboardInterrupt, which some frameworks catch to end training early (skorch) and go
    on, so that every rank stops where it is and the run being written is removed."""


def _stop(signum: int, frame: Any) -> None:
    import signal

    signal.signal(signum, signal.SIG_DFL)  # a second signal kills
    raise Stopped(signum)


@contextmanager
def worker() -> Iterator[Distributed]:
    """Join the process group (torchrun's environment), leave it at the end; Ctrl-C and
    SIGTERM raise :class:`Stopped` meanwhile."""
    import datetime
    import signal

    import torch.distributed as dist

    previous = {signum: signal.signal(signum, _stop) for signum in (signal.SIGINT, signal.SIGTERM)}

    backend = os.environ.get(BACKEND_ENV, "gloo")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if backend == "nccl":
        import torch

        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    try:
        yield current()  # type: ignore[misc]
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def record_error(exc: BaseException) -> None:
    """Write ``exc`` where torchrun's agent reads a worker's failure
    (``$TORCHELASTIC_ERROR_FILE``): the one-line message kampai prints, its exit code,
    and the traceback (kept in the file, not printed)."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    kampai = isinstance(exc, KampaiError)
    message = str(exc) if kampai else f"{type(exc).__name__}: {exc} (runner --debug train ... prints the tracebacks)"
    data = {"message": {"message": message, "extraInfo": {"py_callstack": traceback.format_exc(),
                                                          "timestamp": str(int(time.time()))}},
            "kampai": {"message": message, "exit_code": exc.exit_code if kampai else 1}}
    try:
        with open(path, "w") as fp:
            json.dump(data, fp)
    except OSError:
        pass
