"""Building a text classifier: a WordPiece tokenizer trained on the texts and a small BERT
(``tiny-bert``), or a pretrained model and its tokenizer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kampai.plugin import ConfigError
from kampai.plugins.transformers.hub import hub_offline, model_source, offline_message
from kampai.plugins.transformers.params import TINY_BERT, TOKENIZER_KEYS


class Building:
    """:class:`~.model.TextClassifier`'s building."""

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
