"""``model.params`` of the transformers framework: kampai's own keys plus any
``transformers.TrainingArguments`` field, checked with a did-you-mean.

kampai's keys (short names for what every text classifier sets)::

    epochs                       -> num_train_epochs
    batch_size                   -> per_device_train_batch_size
    eval_batch_size              -> per_device_eval_batch_size (and predict); default 2 x batch_size
    warmup                       -> warmup_steps (a fraction < 1 of all steps, or a step count)
    max_length                   tokens per text (longer texts are truncated)
    padding                      dynamic (pad each batch to its longest text) | max_length
    group_by_length              batches of similar lengths (null: on for CUDA, off on CPU)
    early_stopping_patience      stop after N epochs without a better validation loss (null: off)
    validation_fraction          share of the training rows held out for early stopping/pruning
    num_threads                  torch CPU threads while training/predicting (null: torch's default)

Every other key must be a ``TrainingArguments`` field (``learning_rate``, ``weight_decay``,
``gradient_accumulation_steps``, ``lr_scheduler_type``, ``bf16``, ``torch_compile`` ...).
Fields kampai manages itself (output folder, saving, reporting, the device) are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kampai.plugin import ConfigError, check_params, did_you_mean

ALIASES = {
    "epochs": "num_train_epochs",
    "batch_size": "per_device_train_batch_size",
    "eval_batch_size": "per_device_eval_batch_size",
    "warmup": "warmup_steps",
}
OWN = {
    "max_length": 128,
    "padding": "dynamic",
    "group_by_length": None,
    "early_stopping_patience": None,
    "validation_fraction": 0.1,
    "num_threads": None,
}
#: TrainingArguments that kampai sets itself
MANAGED = {
    "output_dir", "report_to", "save_strategy", "save_steps", "save_total_limit", "eval_strategy",
    "eval_steps", "do_train", "do_eval", "do_predict", "use_cpu", "load_best_model_at_end",
    "metric_for_best_model", "greater_is_better", "push_to_hub", "hub_model_id", "hub_token",
    "resume_from_checkpoint", "disable_tqdm", "train_sampling_strategy", "local_rank",
}
#: defaults for a model trained from scratch (tiny-bert) and for a pretrained one
SCRATCH = {"num_train_epochs": 5, "learning_rate": 1e-3, "per_device_train_batch_size": 32,
           "warmup_steps": 0.1, "weight_decay": 0.01}
PRETRAINED = {"num_train_epochs": 3, "learning_rate": 5e-5, "per_device_train_batch_size": 16,
              "warmup_steps": 0.1, "weight_decay": 0.01}

#: keys a config-built model (tiny-bert) takes under model.tokenizer
TOKENIZER_KEYS = {"vocab_size": 8000, "min_frequency": 2, "lowercase": True, "subwords": False}
#: BertConfig overrides for tiny-bert (any BertConfig field may be set in model.architecture)
TINY_BERT = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 256}


def training_fields() -> set[str]:
    import dataclasses

    from transformers import TrainingArguments

    return {f.name for f in dataclasses.fields(TrainingArguments) if f.init}


@dataclass
class Settings:
    """Resolved params: TrainingArguments kwargs (``training``) and kampai's options."""

    training: dict[str, Any] = field(default_factory=dict)
    max_length: int = 128
    padding: str = "dynamic"
    group_by_length: bool | None = None
    early_stopping_patience: int | None = None
    validation_fraction: float = 0.1
    num_threads: int | None = None

    @property
    def eval_batch_size(self) -> int:
        return int(self.training.get("per_device_eval_batch_size")
                   or 2 * int(self.training["per_device_train_batch_size"]))


def resolve(params: dict[str, Any] | None, pretrained: bool) -> Settings:
    """Check ``model.params`` and merge it over the defaults; ConfigError on a typo."""
    valid = training_fields()
    shown = sorted((valid - MANAGED) | set(ALIASES) | set(OWN))
    training = dict(PRETRAINED if pretrained else SCRATCH)
    own = dict(OWN)
    for key, value in (params or {}).items():
        if key in OWN:
            own[key] = value
        elif key in ALIASES:
            training[ALIASES[key]] = value
        elif key in MANAGED:
            raise ConfigError(f"model.params.{key} is set by kampai itself and cannot be changed "
                              "(runs are saved into the run folder; use --device for the device).")
        elif key in valid:
            training[key] = value
        else:
            own_keys = ", ".join(sorted([*ALIASES, *OWN]))
            check_params([key], (), "framework 'transformers'", suggest=shown,
                         hint=f"Valid: kampai's keys ({own_keys}) or any transformers.TrainingArguments field.")
    if own["padding"] not in ("dynamic", "max_length"):
        raise ConfigError(f"model.params.padding must be 'dynamic' or 'max_length', got {own['padding']!r}.")
    try:
        own["max_length"] = int(own["max_length"])
        fraction = float(own["validation_fraction"])
    except (TypeError, ValueError):
        raise ConfigError("model.params.max_length must be an integer and validation_fraction a "
                          "number.") from None
    if own["max_length"] < 8:
        raise ConfigError(f"model.params.max_length must be at least 8, got {own['max_length']}.")
    if not 0 < fraction < 1:
        raise ConfigError(f"model.params.validation_fraction must be in (0, 1), got {fraction}.")
    for key in ("num_train_epochs", "per_device_train_batch_size", "learning_rate"):
        if not isinstance(training.get(key), (int, float)) or training[key] <= 0:
            raise ConfigError(f"model.params: {key} must be a positive number, got {training.get(key)!r}.")
    return Settings(training=training, max_length=own["max_length"], padding=own["padding"],
                    group_by_length=own["group_by_length"],
                    early_stopping_patience=own["early_stopping_patience"],
                    validation_fraction=fraction, num_threads=own["num_threads"])


def check_mapping(section: str, given: dict[str, Any] | None, valid: set[str] | dict[str, Any]) -> dict[str, Any]:
    given = dict(given or {})
    for key in given:
        if key not in valid:
            raise ConfigError(f"Unknown key 'model.{section}.{key}'.{did_you_mean(key, valid)} "
                              f"Valid: {', '.join(sorted(valid)[:40])}{' ...' if len(valid) > 40 else ''}.")
    return given
