"""fast.ai tabular on a raw table with a timestamp-text column and string categoricals
(issue 24 item 2): kampai (dates expanded, early stopping) vs a plain fast.ai script doing the
same (``add_datepart``, ``TabularPandas``, ``tabular_learner``, ``fit_one_cycle`` with the same
epochs, batch size and layers), in this process, CPU and wall per fit, alternating.

    .venv/bin/python benchmarks/fastai_raw_table.py [--rows 4000] [--epochs 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np


def table(n: int):
    import pandas as pd

    rng = np.random.default_rng(0)
    when = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365 * 24 * 3600, n), unit="s")
    X = pd.DataFrame({"sent": when.strftime("%Y-%m-%d %H:%M:%S"),
                      "sender": rng.choice([f"user{i}" for i in range(40)], n),
                      "domain": rng.choice(["a.com", "b.org", "c.net", "d.io"], n),
                      "length": rng.normal(100, 20, n), "links": rng.integers(0, 10, n).astype(float)})
    y = pd.Series(np.where((when.month.to_numpy() >= 7) ^ (X["links"].to_numpy() > 6), "spam", "ham"))
    return X, y


def plain(X, y, epochs: int, bs: int) -> None:
    from fastai.tabular.all import (
        Categorify,
        CategoryBlock,
        FillMissing,
        Normalize,
        RandomSplitter,
        TabularPandas,
        add_datepart,
        tabular_learner,
    )

    frame = add_datepart(X.assign(target=y.to_numpy()), "sent", time=True)
    cats = ["sender", "domain", "sentIs_month_end", "sentIs_month_start", "sentIs_quarter_end",
            "sentIs_quarter_start", "sentIs_year_end", "sentIs_year_start"]
    conts = [c for c in frame.columns if c not in cats and c != "target"]
    to = TabularPandas(frame, procs=[Categorify, FillMissing, Normalize], cat_names=cats, cont_names=conts,
                       y_names="target", y_block=CategoryBlock(), splits=RandomSplitter(0.1, seed=0)(range(len(frame))))
    learn = tabular_learner(to.dataloaders(bs=bs), layers=[200, 100])
    with learn.no_logging(), learn.no_bar():
        learn.fit_one_cycle(epochs, 1e-2)


def kampai_fit(X, y, epochs: int, dates: bool) -> None:
    from kampai.plugins.fastai.tabular import PARAMS, TabularNet

    TabularNet("classification", {**PARAMS, "epochs": epochs, "patience": None, "dates": dates}, seed=0).fit(X, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    X, y = table(args.rows)
    bs = min(512, max(32, 2 ** (3 + int(np.log10(args.rows)))))
    runs = {"plain fast.ai (add_datepart)": lambda: plain(X, y, args.epochs, bs),
            "kampai (dates expanded)": lambda: kampai_fit(X, y, args.epochs, True),
            "kampai, dates: false (timestamps as categories)": lambda: kampai_fit(X, y, args.epochs, False)}
    for run in runs.values():
        run() if args.rounds > 1 else None  # imports, first-call costs
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    base = statistics.median(c for _, c in times["plain fast.ai (add_datepart)"])
    print(f"{args.rows} rows, {args.epochs} epochs (no early stop), bs {bs}; load {os.getloadavg()[0]:.1f}")
    print("| | wall s | CPU s | CPU ratio |\n|---|---|---|---|")
    for name, values in times.items():
        w, c = statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)
        print(f"| {name} | {w:.2f} | {c:.2f} | {c / base:.3f} |")


if __name__ == "__main__":
    main()
