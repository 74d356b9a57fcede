"""kampai's fastai and torch frameworks vs plain fast.ai / skorch scripts on a real table,
and the latency of one-row predictions through a loaded run.

Speed.  Data: scikit-learn's breast cancer table (569 rows, 30 features).  Both sides get
the same 455 training / 114 test rows: kampai's default stratified 80/20 holdout (seed 42)
is scikit-learn's ``train_test_split(test_size=0.2, stratify=y, random_state=42)``, which
the plain scripts call (the script checks the rows are the same).  Same epochs, batch size,
layers, dropout (kampai's defaults: 0.1 on the layers and the embeddings), learning rate,
10% validation part, no early stopping.  kampai's side is a whole
``kampai.train`` on the 569 rows: split, fit, predict and score the 114 test rows, save
the run folder (weights, config, metrics, predictions, manifest); the plain side fits and
predicts the test rows and computes their accuracy.  One warm-up round of each side is not
counted; then ``--repeats`` rounds, the order of the sides alternating.  Printed: median
wall and CPU seconds (process CPU, all threads), their ratios (target <= 1.10), accuracy,
the load average.

Latency.  p50 of one-row predictions (50 rows, one at a time) through a run loaded with
``open_run``: the whole ``run.predict`` (data preparation, signature check, output table),
the framework's predict alone, and, for fast.ai, fast.ai's own ``Learner.predict(row)``.
At 30 features (breast cancer) and 100 features (``make_classification``, 1,000 rows: the
only thing measured on it is latency).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/deep_tabular.py [--repeats 5] [--epochs 10 30]
        [--frameworks fastai torch] [--no-latency | --no-speed]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("KAMPAI_TRACKING__ENABLED", "false")
SEED = 42


def data():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    train, test = train_test_split(frame, test_size=0.2, stratify=frame["target"], random_state=SEED)
    return frame, train, test


def plain_fastai(train, test, epochs: int, bs: int, lr: float, keep: list | None = None) -> float:
    import numpy as np
    from fastai.tabular.all import (
        Categorify,
        CategoryBlock,
        FillMissing,
        IndexSplitter,
        Normalize,
        TabularPandas,
        tabular_config,
        tabular_learner,
    )

    train = train.reset_index(drop=True)
    n_valid = round(len(train) * 0.1)
    valid = list(np.sort(np.random.default_rng(SEED).permutation(len(train))[:n_valid]))
    conts = [c for c in train.columns if c != "target"]
    to = TabularPandas(train, procs=[Categorify, FillMissing, Normalize], cont_names=conts, y_names="target",
                       y_block=CategoryBlock(), splits=IndexSplitter(valid)(range(len(train))))
    learn = tabular_learner(to.dataloaders(bs=bs), layers=[200, 100], config=tabular_config(ps=0.1, embed_p=0.1))
    with learn.no_logging(), learn.no_bar():
        learn.fit_one_cycle(epochs, lr)
        preds, _ = learn.get_preds(dl=learn.dls.test_dl(test))
    if keep is not None:
        keep.append(learn)
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
    torch.manual_seed(SEED)
    net = NeuralNetClassifier(MLP, module__n_features=Xtr.shape[1], module__n_outputs=2, max_epochs=epochs, lr=lr,
                              batch_size=bs, optimizer=torch.optim.AdamW, criterion=torch.nn.CrossEntropyLoss,
                              train_split=ValidSplit(0.1, stratified=True, random_state=SEED), verbose=0)
    net.fit(Xtr, ytr)
    pred = net.predict(scaler.transform(test.drop(columns="target")).astype("float32"))
    return float((np.asarray(classes)[pred] == test["target"].to_numpy()).mean())


def kampai_side(framework: str, frame, params: dict, runs: str) -> tuple[float, str]:
    import kampai

    run = kampai.train(task="classification", framework=framework, data=frame, target="target", params=params,
                       output={"runs_dir": runs}, verbose=False)  # default split: stratified 80/20, seed 42
    return float(run.metrics["accuracy"]), str(run.run_dir)


def _timed(fn) -> tuple[float, float, object]:
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - start, time.process_time() - cpu, out


def _p50(fn, rows) -> float:
    fn(rows[0])
    lat = []
    for row in rows:
        start = time.perf_counter()
        fn(row)
        lat.append((time.perf_counter() - start) * 1000)
    return statistics.median(lat)


def latency(frame, features: int, runs: str, frameworks: tuple[str, ...] = ("fastai", "torch")
            ) -> list[tuple[str, float, float, float | None]]:
    """(framework, p50 run.predict, p50 framework.predict, p50 fast.ai Learner.predict) in ms."""
    from sklearn.model_selection import train_test_split

    from kampai.plugin import TaskData
    from kampai.plugin.experiments import registry_of
    from kampai.plugin.runs import load_run

    X = frame.drop(columns="target")
    rows = [X.iloc[[i]] for i in range(50)]
    out = []
    for framework in frameworks:
        _, run_dir = kampai_side(framework, frame, {"epochs": 2}, runs)
        run = load_run(run_dir)  # a loaded run: the model comes from disk, as in a server
        impl = registry_of("frameworks").get(framework)
        model = run.model
        whole = _p50(run.predict, rows)
        own = _p50(lambda row, impl=impl, model=model: impl.predict(model, TaskData(X=row), None), rows)
        theirs = None
        if framework == "fastai":
            learners: list = []
            train, test = train_test_split(frame, test_size=0.2, stratify=frame["target"], random_state=SEED)
            plain_fastai(train, test, 2, 64, 1e-2, keep=learners)
            learn = learners[0]
            with learn.no_bar(), learn.no_logging():
                theirs = _p50(lambda row, learn=learn: learn.predict(row.iloc[0]), rows[:20])
        out.append((framework, whole, own, theirs))
    return out


def speed(frame, train, test, epochs: int, bs: int, lr: float, repeats: int, runs: str,
          frameworks: tuple[str, ...] = ("fastai", "torch")) -> None:
    import pandas as pd

    load_before = os.getloadavg()
    rows = []
    for name, plain, framework, params in [
        ("fastai tabular", plain_fastai, "fastai", {"epochs": epochs, "bs": bs, "lr": lr, "patience": None,
                                                    "layers": [200, 100]}),
        ("torch (skorch) MLP", plain_skorch, "torch", {"epochs": epochs, "batch_size": bs, "lr": lr,
                                                       "patience": None}),
    ]:
        if framework not in frameworks:
            continue
        sides = {"kampai": lambda f=framework, p=params: kampai_side(f, frame, p, runs),
                 "plain": lambda plain=plain: (plain(train, test, epochs, bs, lr), None)}
        _, _, (_, run_dir) = _timed(sides["kampai"])  # warm-up rounds, not counted
        _timed(sides["plain"])
        tested = pd.read_csv(os.path.join(run_dir, "predictions.csv"))["row"].to_numpy()
        assert sorted(tested) == sorted(test.index), "kampai and the plain script test different rows"
        wall: dict[str, list[float]] = {"kampai": [], "plain": []}
        cpu: dict[str, list[float]] = {"kampai": [], "plain": []}
        acc = {}
        for i in range(repeats):
            for side in ("kampai", "plain") if i % 2 else ("plain", "kampai"):
                w, c, (a, _) = _timed(sides[side])
                wall[side].append(w)
                cpu[side].append(c)
                acc[side] = a
        med = {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in wall}
        rows.append((name, med, acc))
    load_after = os.getloadavg()
    print(f"breast cancer, {len(train)} train / {len(test)} test rows (the same on both sides), {epochs} "
          f"epochs, median of {repeats} interleaved rounds after a warm-up")
    print(f"{'model':<20} {'kampai s':>9} {'plain s':>8} {'ratio':>6}   {'kampai cpu':>10} {'plain cpu':>9} "
          f"{'ratio':>6}   {'acc kampai':>10} {'acc plain':>9}")
    for name, med, acc in rows:
        (kw, kc), (pw, pc) = med["kampai"], med["plain"]
        print(f"{name:<20} {kw:9.3f} {pw:8.3f} {kw / pw:6.2f}   {kc:10.3f} {pc:9.3f} {kc / pc:6.2f}   "
              f"{acc['kampai']:10.4f} {acc['plain']:9.4f}")
    print(f"load average before: {', '.join(f'{x:.1f}' for x in load_before)}; "
          f"after: {', '.join(f'{x:.1f}' for x in load_after)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 30], help="30: the fastai plugin's default")
    parser.add_argument("--frameworks", nargs="+", default=["fastai", "torch"], choices=["fastai", "torch"])
    parser.add_argument("--no-latency", action="store_true", help="only the training rows")
    parser.add_argument("--no-speed", action="store_true", help="only the one-row predict latency")
    args = parser.parse_args()
    frameworks = tuple(args.frameworks)
    frame, train, test = data()
    bs, lr = 64, 1e-2
    with tempfile.TemporaryDirectory() as runs:
        for epochs in [] if args.no_speed else args.epochs:
            speed(frame, train, test, epochs, bs, lr, args.repeats, runs, frameworks)
        if args.no_latency:
            return

        import numpy as np
        import pandas as pd
        from sklearn.datasets import make_classification

        Xw, yw = make_classification(n_samples=1000, n_features=100, n_informative=20, random_state=0)
        wide = pd.DataFrame(Xw, columns=[f"f{i}" for i in range(100)]).assign(target=np.where(yw == 1, "yes", "no"))
        print("one-row predict through a loaded run, p50 ms (50 rows, one at a time)")
        print(f"{'features':>8} {'framework':<10} {'run.predict':>12} {'framework.predict':>18} "
              f"{'fast.ai Learner.predict':>24}")
        for features, table in ((30, frame), (100, wide)):
            for framework, whole, own, theirs in latency(table, features, runs, frameworks):
                print(f"{features:>8} {framework:<10} {whole:12.2f} {own:18.2f} "
                      f"{'' if theirs is None else f'{theirs:.2f}':>24}")
        print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
