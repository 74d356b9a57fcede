"""Training a text classifier with transformers' ``Trainer``: the training arguments, the
validation rows for early stopping, and the callbacks (epoch history and lines, best weights).
"""

from __future__ import annotations

import shutil
import tempfile
from typing import TYPE_CHECKING, Any

from kampai.plugin import ConfigError
from kampai.plugin.io import to_python
from kampai.plugins.transformers.runtime import quiet_transformers, torch_threads

if TYPE_CHECKING:
    from kampai.plugins.transformers.model import TextClassifier


class Training:
    """:class:`~.model.TextClassifier`'s training."""

    def training_args(self, output_dir: str, has_eval: bool) -> Any:
        import torch
        from transformers import TrainingArguments

        s = self.settings
        cuda = self.device.startswith("cuda")
        kwargs: dict[str, Any] = {
            "output_dir": output_dir, "report_to": "none", "save_strategy": "no",
            "logging_strategy": "epoch", "disable_tqdm": True, "log_level": "error",
            "seed": self.seed, "data_seed": self.seed, "use_cpu": not cuda,
            "per_device_eval_batch_size": s.eval_batch_size, "dataloader_pin_memory": cuda,
            "eval_strategy": "epoch" if has_eval else "no",
        }
        group = s.group_by_length if s.group_by_length is not None else cuda
        if group:
            kwargs["train_sampling_strategy"] = "group_by_length"
        if cuda:
            bf16 = torch.cuda.is_bf16_supported()
            kwargs.update(bf16=bf16, tf32=bf16)  # tf32 matmuls on the GPUs that have bf16 (Ampere+)
        if self.distributed:  # Trainer's DDP: a classifier uses every parameter (no extra graph walk)
            kwargs["ddp_find_unused_parameters"] = False
        kwargs.update(s.training)
        if self.distributed:
            _global_batch(kwargs)
        if not cuda and (kwargs.get("bf16") or kwargs.get("fp16")) and "bf16" not in s.training:
            kwargs["bf16"] = False
        try:
            return TrainingArguments(**kwargs)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"Invalid training arguments in model.params: {exc}") from None

    def fit(self, X: Any, y: Any) -> TextClassifier:
        import numpy as np

        texts = X["text"].tolist()
        self.classes = [to_python(c) for c in np.unique(np.asarray(y))]
        with torch_threads(self.settings.num_threads), quiet_transformers():
            self._build(texts)
            labels = self._label_ids(y)
            train_idx, eval_texts, eval_labels = self._validation(texts, labels)
            train_texts = [texts[i] for i in train_idx]
            train_labels = [labels[i] for i in train_idx]
            self._train(train_texts, train_labels, eval_texts, eval_labels)
        return self

    def _validation(self, texts: list[str], labels: list[int]) -> tuple[list[int], Any, Any]:
        """Rows to train on, and held-out rows to score each epoch (when needed)."""
        import numpy as np

        every = list(range(len(texts)))
        if not self.settings.early_stopping_patience:
            return every, None, None
        from sklearn.model_selection import train_test_split

        counts = np.bincount(labels)
        stratify = labels if counts.min() >= 2 else None
        train, held = train_test_split(every, test_size=self.settings.validation_fraction,
                                       random_state=self.seed, stratify=stratify)
        return list(train), [texts[i] for i in held], [labels[i] for i in held]

    def _train(self, texts: list[str], labels: list[int], eval_texts: Any, eval_labels: Any) -> None:
        from transformers import DataCollatorWithPadding, PrinterCallback, ProgressCallback, Trainer

        has_eval = eval_texts is not None
        tmp = tempfile.mkdtemp(prefix="kampai-hf-")
        try:
            args = self.training_args(tmp, has_eval)
            cuda = self.device.startswith("cuda")
            collator = DataCollatorWithPadding(self.tokenizer, pad_to_multiple_of=8 if cuda else None)
            callbacks = [_History(self), _EpochLines(float(args.num_train_epochs), has_eval)]
            if self.settings.early_stopping_patience:
                callbacks.append(_BestWeights(int(self.settings.early_stopping_patience)))
            if self.device.startswith("cuda:"):
                import torch

                torch.cuda.set_device(self.device)
            trainer = Trainer(
                model=self.model, args=args, train_dataset=self.dataset(texts, labels),
                eval_dataset=self.dataset(eval_texts, eval_labels) if has_eval else None,
                data_collator=collator, processing_class=self.tokenizer,
                compute_metrics=_accuracy if has_eval else None, callbacks=callbacks,
            )
            trainer.remove_callback(PrinterCallback)
            trainer.remove_callback(ProgressCallback)
            trainer.train()
            self.model = trainer.model
            self.model.eval()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _global_batch(kwargs: dict[str, Any]) -> None:
    """Under DDP (``runner train --nproc-per-node N``): ``batch_size`` stays the global batch,
    each of the N ranks taking its share, as the torch and PyG frameworks do: the same number
    of optimizer steps of the same size as one process, so the same settings give the same
    quality.  The loss is each rank's own mean (DDP averages the gradients): transformers'
    ``average_tokens_across_devices`` would log it multiplied by N, and a classifier's
    batches hold one label per row anyway."""
    import torch.distributed as dist

    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    batch = int(kwargs.get("per_device_train_batch_size") or 8)
    kwargs["per_device_train_batch_size"] = max(1, -(-batch // world))
    kwargs.setdefault("average_tokens_across_devices", False)


def _accuracy(prediction: Any) -> dict[str, float]:
    import numpy as np

    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    return {"accuracy": float((np.argmax(logits, axis=-1) == prediction.label_ids).mean())}


def _callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


class _History:
    """Collects the per-epoch logs into ``model.history``; reports evaluations to ``on_epoch``."""

    def __new__(cls, owner: TextClassifier) -> Any:
        base = _callback_base()

        class History(base):  # type: ignore[misc, valid-type]
            def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
                if logs and "epoch" in logs:
                    entry = {k: round(float(v), 6) for k, v in logs.items()
                             if isinstance(v, (int, float)) and k != "total_flos"}
                    owner.history.append(entry)

            def on_epoch_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if owner.on_epoch_end is not None:
                    owner.on_epoch_end(round(float(state.epoch or 0)) - 1)

        return History()


class _EpochLines:
    """``epoch 2/3  loss 0.61  val_loss 0.55  val_accuracy 0.80  ETA 41s`` after each epoch
    while ``runner train`` shows its steps (kampai.plugin.cli.epoch_progress)."""

    def __new__(cls, epochs: float, has_eval: bool) -> Any:
        import math

        from kampai.plugin.cli import epoch_progress

        base = _callback_base()
        progress = epoch_progress(math.ceil(epochs))

        class EpochLines(base):  # type: ignore[misc, valid-type]
            loss: float | None = None

            def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
                if not logs or "epoch" not in logs:
                    return
                if "loss" in logs:
                    self.loss = float(logs["loss"])
                    if has_eval:
                        return  # the validation scores of this epoch come next
                elif "eval_loss" not in logs:
                    return
                progress.update(round(float(state.epoch or 0)), loss=self.loss,
                                val_loss=logs.get("eval_loss"), val_accuracy=logs.get("eval_accuracy"))

        return EpochLines()


class _BestWeights:
    """Early stopping on the validation loss, keeping the best weights in memory (no checkpoints)."""

    def __new__(cls, patience: int) -> Any:
        base = _callback_base()

        class BestWeights(base):  # type: ignore[misc, valid-type]
            def __init__(self) -> None:
                self.best = float("inf")
                self.state: dict[str, Any] | None = None
                self.bad = 0

            def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None,
                            model: Any = None, **kw: Any) -> None:
                loss = float((metrics or {}).get("eval_loss", float("inf")))
                if loss < self.best:
                    self.best, self.bad = loss, 0
                    if model is not None:
                        self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                else:
                    self.bad += 1
                    if self.bad >= patience:
                        control.should_training_stop = True

            def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
                if self.state is not None and model is not None:
                    model.load_state_dict(self.state)

        return BestWeights()
