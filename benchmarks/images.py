"""kampai's fastai vision path vs a plain fast.ai script on scikit-learn's digits (PNGs),
plus kampai's scikit-learn pixel baseline on the same images.

Both deep sides: ResNet-18 (torchvision, random weights), images squished to ``--size``,
the same training rows (kampai's stratified 80/20 split of ``sklearn:digits-images``,
seed 42, reproduced with scikit-learn's ``train_test_split`` for the plain script), the
same 10% validation part size, epochs, batch size and learning rate.  Printed: median wall
seconds (kampai: the whole ``kampai.train``, scoring and run folder included), ratio
(target <= 1.10), test accuracy; with CUDA also samples/s with bf16/fp16 AMP.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/images.py [--epochs 2] [--size 32] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("KAMPAI_NO_TRACK", "1")


def plain(train, test, epochs: int, size: int, bs: int, lr: float, device: str) -> float:
    import numpy as np
    from fastai.vision.all import (
        CategoryBlock,
        ColReader,
        DataBlock,
        ImageBlock,
        RandomSplitter,
        Resize,
        ResizeMethod,
        resnet18,
        vision_learner,
    )

    block = DataBlock(blocks=(ImageBlock, CategoryBlock), get_x=ColReader("image"), get_y=ColReader("label"),
                      splitter=RandomSplitter(0.1, seed=0), item_tfms=Resize(size, method=ResizeMethod.Squish))
    dls = block.dataloaders(train, bs=bs, num_workers=0, device=device)
    learn = vision_learner(dls, resnet18, pretrained=False, normalize=False)
    if device == "cuda":
        learn = learn.to_bf16()
    with learn.no_logging(), learn.no_bar():
        learn.fit_one_cycle(epochs, lr)
        preds, _ = learn.get_preds(dl=dls.test_dl(test))
    return float((np.asarray(dls.vocab)[preds.argmax(1).numpy()] == test["label"].to_numpy()).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    import torch
    from sklearn.model_selection import train_test_split

    import kampai
    from kampai.plugin import read_frame

    device = "cuda" if torch.cuda.is_available() else "cpu"
    frame = read_frame("sklearn:digits-images")
    train, test = train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=42)
    bs, lr = 64, 1e-3
    params = {"epochs": args.epochs, "size": args.size, "bs": bs, "lr": lr}
    times: dict[str, list[float]] = {"kampai": [], "plain": []}
    with tempfile.TemporaryDirectory() as runs:
        for _ in range(args.repeats):
            start = time.perf_counter()
            acc_plain = plain(train, test, args.epochs, args.size, bs, lr, device)
            times["plain"].append(time.perf_counter() - start)
            start = time.perf_counter()
            run = kampai.train(task="image-classification", framework="fastai", data="sklearn:digits-images",
                               params=params, output={"runs_dir": runs}, verbose=False, device=device)
            times["kampai"].append(time.perf_counter() - start)
        base = kampai.train(task="image-classification", framework="sklearn", data="sklearn:digits-images",
                            output={"runs_dir": runs}, verbose=False)
    k, p = statistics.median(times["kampai"]), statistics.median(times["plain"])
    n = int(len(train) * 0.9) * args.epochs
    print(f"digits PNGs, ResNet-18 random init, {args.size}px, {args.epochs} epochs, {device}")
    print(f"{'':<28} {'wall s':>7} {'acc':>7} {'train samples/s':>16}")
    print(f"{'kampai fastai':<28} {k:7.2f} {run.metrics['accuracy']:7.4f} {n / k:16.1f}")
    print(f"{'plain fast.ai':<28} {p:7.2f} {acc_plain:7.4f} {n / p:16.1f}")
    print(f"{'kampai sklearn pixels (LR)':<28} {'':>7} {base.metrics['accuracy']:7.4f}")
    print(f"ratio kampai / plain: {k / p:.2f}")


if __name__ == "__main__":
    main()
