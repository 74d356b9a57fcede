"""What the fast.ai tabular and vision models share: params, device, best-epoch tracking,
per-epoch reports, and the hashed state_dict + JSON save format (no pickle)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kampai.plugin import check_params as sdk_check_params
from kampai.plugin.io import to_python
from kampai.plugin.runs import file_sha256

WEIGHTS = "model.pt"
CONFIG = "model.json"


@contextmanager
def quiet() -> Iterator[None]:
    """Warnings about fast.ai's insides, not the user's concern: its import scripts layers with
    ``torch.jit.script`` (deprecated by torch), and it turns read-only NumPy views into
    tensors it never writes to.  Silenced while fast.ai runs only; the process's warning
    filters stay as they were."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable", category=UserWarning)
        yield


def check_params(params: dict[str, Any] | None, valid: dict[str, Any], what: str) -> dict[str, Any]:
    params = dict(params or {})
    sdk_check_params(params, valid, what)
    return {**valid, **params}




def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@contextmanager
def distributed_fit(learn: Any, distributed: Any) -> Iterator[None]:
    """fast.ai's own DDP (``Learner.distrib_ctx``: accelerate prepares the model, each rank
    gets its part of every batch) inside torchrun's process group; nothing without one."""
    if distributed is None:
        yield
        return
    import fastai.distributed  # noqa: F401  (patches Learner.distrib_ctx)

    # accelerate sees torchrun's CPU processes as one group only when told it trains on CPU
    with learn.distrib_ctx(sync_bn=False, cpu=distributed.backend == "gloo"):
        yield


def _plain(model: Any) -> Any:
    """The model inside a DistributedDataParallel wrapper (the model itself otherwise)."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def best_epoch_callback(patience: int | None, report: Any, on_report: Any, distributed: Any = None) -> Any:
    """A fast.ai callback that keeps the weights of the epoch with the lowest validation
    loss (restored after the fit), stops after ``patience`` epochs without improvement,
    and calls ``report(epoch)`` after each epoch.  An exception from ``report`` (a pruned
    trial) stops the fit; the caller re-raises it (``callback.error``) unchanged.  Under
    DDP (``distributed``) the validation loss is averaged over the ranks first (each scored
    its own part of the validation rows): every rank takes the same decision."""
    from fastai.callback.core import CancelFitException
    from fastai.callback.tracker import TrackerCallback

    class KeepBest(TrackerCallback):
        order = TrackerCallback.order + 1

        def __init__(self) -> None:
            super().__init__(monitor="valid_loss", comp=None, min_delta=1e-4)
            self.best_state = None
            self.best_epoch = -1
            self.wait = 0
            self.error: BaseException | None = None

        def before_fit(self) -> None:
            super().before_fit()
            from kampai.plugin.cli import epoch_progress

            self.progress = epoch_progress(self.n_epoch)  # silent outside runner train's step log

        def after_epoch(self) -> None:
            if distributed is not None and self.recorder.values:
                last = self.recorder.values[-1]
                last[self.idx] = distributed.mean(float(last[self.idx]))
            super().after_epoch()
            values = dict(zip(self.recorder.metric_names[1:-1], self.recorder.log[1:-1], strict=False))
            self.progress.update(self.epoch + 1, loss=_number(values.get("train_loss")),
                                 val_loss=_number(values.get("valid_loss")))
            if self.new_best:
                self.best_state = {k: v.detach().clone() for k, v in _plain(self.learn.model).state_dict().items()}
                self.best_epoch, self.wait = self.epoch, 0
            else:
                self.wait += 1
            if report is not None:
                try:
                    on_report(self.epoch)
                except BaseException as exc:  # fast.ai rewrites callback errors: carry it out as is
                    self.error = exc
                    raise CancelFitException() from None
            if patience and self.wait >= patience:
                raise CancelFitException()

        def after_fit(self) -> None:
            if self.best_state is not None and self.error is None:
                self.learn.model.load_state_dict(self.best_state)

    return KeepBest()


def save_state(path: Path, module: Any, config: dict[str, Any]) -> None:
    import torch

    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, path / WEIGHTS)
    config = {**config, "sha256": file_sha256(path / WEIGHTS)}
    (path / CONFIG).write_text(json.dumps(config, indent=2, default=lambda v: to_python(v, str)))


def load_state(path: Path) -> tuple[dict[str, Any], Any]:
    """The config and the hash-checked ``state_dict`` (``weights_only=True``) of a saved model."""
    from kampai.plugin.runs import load_weights

    return load_weights(path, WEIGHTS, CONFIG)


