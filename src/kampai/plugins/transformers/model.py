"""The fitted-model object of the transformers framework: what it holds, how it encodes texts,
predicts and saves (building it: :mod:`.building`; training it: :mod:`.training`).

Everything heavy (torch, transformers, tokenizers) is imported inside functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kampai.plugin import DataError, Device, RunError
from kampai.plugin.io import to_python
from kampai.plugins.transformers.building import Building
from kampai.plugins.transformers.params import Settings
from kampai.plugins.transformers.runtime import quiet_transformers, torch_threads
from kampai.plugins.transformers.training import Training

#: estimator names that build a small model from a config (no download, for tests/offline)
TINY = {"tiny-bert"}
HF_DIR = "hf"
INFO_FILE = "kampai-model.json"


@dataclass
class TextClassifier(Building, Training):
    """A tokenizer + sequence-classification model, with the settings it was trained with.

    ``classes[i]`` is the label of output ``i``; ``history`` holds the per-epoch logs.
    """

    estimator: str
    settings: Settings
    architecture: dict[str, Any] = field(default_factory=dict)
    tokenizer_cfg: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    seed: int = 42
    model: Any = None
    tokenizer: Any = None
    classes: list[Any] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    #: called as ``on_epoch_end(step)`` after each training epoch, step 0 first (tuning/pruning)
    on_epoch_end: Callable[[int], None] | None = None
    #: trains under torchrun (``ctx.distributed``): Trainer's own DDP, found from the environment
    distributed: bool = False

    @property
    def pretrained(self) -> bool:
        return self.estimator not in TINY

    # ----------------------------------------------------------------------------------
    # data
    # ----------------------------------------------------------------------------------

    def encode(self, texts: list[str]) -> dict[str, list]:
        pad = "max_length" if self.settings.padding == "max_length" else False
        enc = self.tokenizer(texts, truncation=True, max_length=self.settings.max_length, padding=pad)
        return {k: v for k, v in enc.items() if k != "token_type_ids" or self._uses_token_types()}

    def _uses_token_types(self) -> bool:
        return getattr(self.model.config, "type_vocab_size", 0) > 1 if self.model is not None else False

    def dataset(self, texts: list[str], label_ids: list[int] | None) -> Any:
        import torch

        enc = self.encode(texts)

        class Encoded(torch.utils.data.Dataset):
            def __len__(self) -> int:
                return len(texts)

            def __getitem__(self, i: int) -> dict[str, Any]:
                item = {k: v[i] for k, v in enc.items()}
                if label_ids is not None:
                    item["labels"] = label_ids[i]
                return item

        return Encoded()

    def _label_ids(self, y: Any) -> list[int]:
        index = {c: i for i, c in enumerate(self.classes)}
        try:
            return [index[to_python(v)] for v in y]
        except KeyError as exc:
            raise DataError(f"Label {exc} was not seen in training (classes: {self.classes}).") from None

    # ----------------------------------------------------------------------------------
    # predicting
    # ----------------------------------------------------------------------------------

    def predict_proba(self, X: Any) -> Any:
        import numpy as np
        import torch

        texts = X["text"].tolist()
        out = np.zeros((len(texts), len(self.classes)), dtype=np.float64)
        if not texts:
            return out
        device = torch.device(self.device)
        training = self.model.training  # called between epochs while tuning
        self.model.to(device)
        self.model.eval()
        cuda = device.type == "cuda"
        bf16 = cuda and torch.cuda.is_bf16_supported()
        with torch_threads(self.settings.num_threads), quiet_transformers():
            enc = self.encode(texts)
            order = np.argsort([len(ids) for ids in enc["input_ids"]], kind="stable")
            size = self.settings.eval_batch_size
            with torch.inference_mode():
                for start in range(0, len(order), size):
                    rows = order[start:start + size]
                    batch = self.tokenizer.pad({k: [v[i] for i in rows] for k, v in enc.items()},
                                               return_tensors="pt")
                    batch = {k: t.to(device) for k, t in batch.items()}
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                        logits = self.model(**batch).logits
                    out[rows] = torch.softmax(logits.double(), dim=-1).cpu().numpy()
        self.model.train(training)
        return out

    # ----------------------------------------------------------------------------------
    # saving
    # ----------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        folder = path / HF_DIR
        with quiet_transformers():
            self.model.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
        info = {
            "format": "transformers save_pretrained", "estimator": self.estimator,
            "classes": self.classes, "max_length": self.settings.max_length,
            "padding": self.settings.padding, "eval_batch_size": self.settings.eval_batch_size,
            "history": self.history,
        }
        (path / INFO_FILE).write_text(json.dumps(info, indent=2, default=str))

    @classmethod
    def load(cls, path: Path, device: str = "auto") -> TextClassifier:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            info = json.loads((path / INFO_FILE).read_text())
        except (OSError, ValueError):
            raise RunError(f"No transformers model in '{path}': {INFO_FILE} is missing or corrupt.") from None
        settings = Settings(training={"per_device_train_batch_size": 1,
                                      "per_device_eval_batch_size": info["eval_batch_size"]},
                            max_length=int(info["max_length"]), padding=info["padding"])
        try:
            with quiet_transformers():
                tokenizer = AutoTokenizer.from_pretrained(path / HF_DIR)
                model = AutoModelForSequenceClassification.from_pretrained(path / HF_DIR)
        except (OSError, ValueError) as exc:
            raise RunError(f"Cannot load the model in '{path / HF_DIR}': {exc}") from None
        model.eval()
        return cls(estimator=info["estimator"], settings=settings, device=Device.parse(device).torch(),
                   model=model, tokenizer=tokenizer, classes=info["classes"],
                   history=info.get("history", []))
