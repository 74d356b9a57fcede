"""kampai's fastai and torch frameworks vs plain fast.ai / skorch scripts on a real table.

Data: scikit-learn's breast cancer table (569 rows, 30 features), a stratified 80/20 split
(scikit-learn's ``train_test_split``, seed 42); both sides train on the same 455 rows and
are scored on the same 114.  Same epochs, batch size, layers, learning rate; no early
stopping.  kampai's timing is a whole ``kampai.train`` (its own 10% stratified holdout
scored, the 10% validation part of fast.ai/skorch, the best-epoch tracking, the run folder
written) plus ``run.predict`` on the test rows; the plain script fits on the 90%/10%
train/validation parts and predicts the test rows.  Printed: median wall seconds of the
fit+predict, their ratio (target <= 1.10), test accuracy, and the p50 latency of one-row
predictions through a loaded kampai run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/deep_tabular.py [--repeats 3] [--epochs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("KAMPAI_NO_TRACK", "1")


def data():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    train, test = train_test_split(frame, test_size=0.2, stratify=frame["target"], random_state=42)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def plain_fastai(train, test, epochs: int, bs: int, lr: float) -> float:
    import numpy as np
    from fastai.tabular.all import (
        Categorify,
        CategoryBlock,
        FillMissing,
        IndexSplitter,
        Normalize,
        TabularPandas,
        tabular_learner,
    )

    n_valid = round(len(train) * 0.1)
    valid = list(np.sort(np.random.default_rng(0).permutation(len(train))[:n_valid]))
    conts = [c for c in train.columns if c != "target"]
    to = TabularPandas(train, procs=[Categorify, FillMissing, Normalize], cont_names=conts, y_names="target",
                       y_block=CategoryBlock(), splits=IndexSplitter(valid)(range(len(train))))
    learn = tabular_learner(to.dataloaders(bs=bs), layers=[200, 100])
    with learn.no_logging(), learn.no_bar():
        learn.fit_one_cycle(epochs, lr)
        preds, _ = learn.get_preds(dl=learn.dls.test_dl(test))
    labels = np.asarray(learn.dls.vocab)[preds.argmax(1).numpy()]
    return float((labels == test["target"].to_numpy()).mean())


def plain_skorch(train, test, epochs: int, bs: int, lr: float) -> float:
    import numpy as np
    import torch
    from sklearn.preprocessing import StandardScaler
    from skorch import NeuralNetClassifier
    from skorch.dataset import ValidSplit

    from kampai.plugins.torch.nets import MLP

    scaler = StandardScaler().fit(train.drop(columns="target"))
    Xtr = scaler.transform(train.drop(columns="target")).astype("float32")
    classes = sorted(train["target"].unique())
    ytr = train["target"].map({c: i for i, c in enumerate(classes)}).to_numpy("int64")
    torch.manual_seed(0)
    net = NeuralNetClassifier(MLP, module__n_features=Xtr.shape[1], module__n_outputs=2, max_epochs=epochs, lr=lr,
                              batch_size=bs, optimizer=torch.optim.AdamW, criterion=torch.nn.CrossEntropyLoss,
                              train_split=ValidSplit(0.1, stratified=True, random_state=0), verbose=0)
    net.fit(Xtr, ytr)
    pred = net.predict(scaler.transform(test.drop(columns="target")).astype("float32"))
    return float((np.asarray(classes)[pred] == test["target"].to_numpy()).mean())


def _train_split(framework: str, train, test, params: dict, runs: str) -> tuple[float, str]:
    import kampai

    run = kampai.train(task="classification", framework=framework, data=train, target="target", params=params,
                       split={"method": "stratified", "test_size": 0.1},
                       output={"runs_dir": runs}, verbose=False)
    out = run.predict(test.drop(columns="target"))
    return float((out["prediction"].to_numpy() == test["target"].to_numpy()).mean()), str(run.run_dir)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    train, test = data()
    bs, lr = 64, 1e-2
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for name, plain, framework, params in [
            ("fastai tabular", plain_fastai, "fastai", {"epochs": args.epochs, "bs": bs, "lr": lr, "patience": None,
                                                        "layers": [200, 100]}),
            ("torch (skorch) MLP", plain_skorch, "torch", {"epochs": args.epochs, "batch_size": bs, "lr": lr,
                                                           "patience": None}),
        ]:
            times = {"kampai": [], "plain": []}
            acc = {}
            run_dir = None
            for _ in range(args.repeats):
                start = time.perf_counter()
                acc["plain"] = plain(train, test, args.epochs, bs, lr)
                times["plain"].append(time.perf_counter() - start)
                start = time.perf_counter()
                acc["kampai"], run_dir = _train_split(framework, train, test, params, runs)
                times["kampai"].append(time.perf_counter() - start)
            k, p = statistics.median(times["kampai"]), statistics.median(times["plain"])
            rows.append((name, k, p, acc["kampai"], acc["plain"], run_dir))
        print(f"breast cancer, {len(train)} train / {len(test)} test rows, {args.epochs} epochs, "
              f"median of {args.repeats}")
        print(f"{'model':<20} {'kampai s':>9} {'plain s':>8} {'ratio':>6} {'acc kampai':>11} {'acc plain':>10}")
        for name, k, p, ak, ap, _ in rows:
            print(f"{name:<20} {k:9.2f} {p:8.2f} {k / p:6.2f} {ak:11.4f} {ap:10.4f}")
        from kampai.plugin import open_run

        for name, *_, run_dir in rows:
            run = open_run(run_dir)
            one = test.drop(columns="target").head(1)
            run.predict(one)
            lat = []
            for i in range(50):
                row = test.drop(columns="target").iloc[[i % len(test)]]
                start = time.perf_counter()
                run.predict(row)
                lat.append((time.perf_counter() - start) * 1000)
            print(f"one-row predict through a loaded run ({name}): p50 {statistics.median(lat):.2f} ms "
                  f"(30 features, whole run.predict path)")


if __name__ == "__main__":
    main()
