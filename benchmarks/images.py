"""kampai's fastai vision path vs a plain fast.ai script on scikit-learn's digits (PNGs),
plus kampai's scikit-learn pixel baseline on the same images.

Both deep sides: ResNet-18 (torchvision, random weights), images squished to ``--size``,
the same training rows (kampai's stratified 80/20 split of ``sklearn:digits-images``,
seed 42, reproduced with scikit-learn's ``train_test_split`` for the plain script), the
same 10% validation part size, epochs, batch size and learning rate.  Printed: median wall
seconds (kampai: the whole ``kampai.train``, scoring and run folder included), ratio
(target <= 1.10), median CPU seconds and their ratio, test accuracy; one warm-up round
of each side is not counted, the order of the sides alternates; with CUDA the samples/s
are with bf16/fp16 AMP on both sides.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/images.py [--epochs 2] [--size 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("KAMPAI_TRACKING__ENABLED", "false")


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


def _timed(fn) -> tuple[float, float, object]:
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - start, time.process_time() - cpu, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch
    from sklearn.model_selection import train_test_split

    import kampai
    from kampai.plugin.io import read_frame

    device = "cuda" if torch.cuda.is_available() else "cpu"
    frame = read_frame("sklearn:digits-images")
    train, test = train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=42)
    bs, lr = 64, 1e-3
    params = {"epochs": args.epochs, "size": args.size, "bs": bs, "lr": lr}
    load_before = os.getloadavg()
    wall: dict[str, list[float]] = {"kampai": [], "plain": []}
    cpu: dict[str, list[float]] = {"kampai": [], "plain": []}
    acc: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as runs:
        sides = {
            "plain": lambda: plain(train, test, args.epochs, args.size, bs, lr, device),
            "kampai": lambda: kampai.train(task="image-classification", framework="fastai",
                                           data="sklearn:digits-images", params=params, output={"runs_dir": runs},
                                           verbose=False, device=device).metrics["accuracy"],
        }
        _timed(sides["plain"])  # warm-up rounds (torch's first-call costs), not counted
        _timed(sides["kampai"])
        for i in range(args.repeats):
            for side in ("kampai", "plain") if i % 2 else ("plain", "kampai"):
                w, c, a = _timed(sides[side])
                wall[side].append(w)
                cpu[side].append(c)
                acc[side] = float(a)
        base = kampai.train(task="image-classification", framework="sklearn", data="sklearn:digits-images",
                            output={"runs_dir": runs}, verbose=False)
    load_after = os.getloadavg()
    k, p = statistics.median(wall["kampai"]), statistics.median(wall["plain"])
    kc, pc = statistics.median(cpu["kampai"]), statistics.median(cpu["plain"])
    n = int(len(train) * 0.9) * args.epochs
    print(f"digits PNGs ({len(train)} train / {len(test)} test, the same rows on both sides), ResNet-18 random init, "
          f"{args.size}px, {args.epochs} epochs, {device}, median of {args.repeats} interleaved rounds after a warm-up")
    print(f"{'':<28} {'wall s':>7} {'cpu s':>7} {'acc':>7} {'train samples/s':>16}")
    print(f"{'kampai fastai':<28} {k:7.2f} {kc:7.2f} {acc['kampai']:7.4f} {n / k:16.1f}")
    print(f"{'plain fast.ai':<28} {p:7.2f} {pc:7.2f} {acc['plain']:7.4f} {n / p:16.1f}")
    print(f"{'kampai sklearn pixels (LR)':<28} {'':>7} {'':>7} {base.metrics['accuracy']:7.4f}")
    print(f"ratio kampai / plain: wall {k / p:.2f}, cpu {kc / pc:.2f}")
    print(f"load average before: {', '.join(f'{x:.1f}' for x in load_before)}; "
          f"after: {', '.join(f'{x:.1f}' for x in load_after)}")


if __name__ == "__main__":
    main()
