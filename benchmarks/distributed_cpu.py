"""``runner train --nproc-per-node 2`` (torchrun, DDP over gloo) vs one process, on CPU.

Both sides are whole ``runner train`` processes (imports, data, split, fit, scoring, the
run folder) with one thread per process (``OMP_NUM_THREADS=1``), so the DDP side uses two
cores and the single process one.  Printed per workload: median wall seconds, median
``fit_seconds`` (rank 0's fit, from the run's meta.json), the ratio 2 processes / 1, and
the test metric of each side (the same split and seed: quality should be within noise).
Sides alternate; the load average is printed (the machine is shared: wall times vary).

Workloads: the torch framework (skorch MLP) on a 20,000 x 64 ``make_classification``
table, global batch 256; PyG GIN on networkx's Atlas of Graphs (994 small graphs).

    .venv/bin/python benchmarks/distributed_cpu.py [--repeats 2] [--only torch,pyg]
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
    return {
        "torch": ["--task", "classification", "--framework", "torch", "--data", str(folder / "table.csv"),
                  "--target", "target", "model.params.epochs=20", "model.params.batch_size=256",
                  "model.params.patience=0", "model.params.hidden=[256,256]"],
        "pyg": ["--task", "graph-classification", "--framework", "pyg", "--data", "networkx:atlas",
                "model.params.epochs=30"],
    }


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
    parser.add_argument("--only", default="torch,pyg")
    opts = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        jobs = workloads(folder)
        for name in opts.only.split(","):
            sides: dict[int, list[dict]] = {1: [], 2: []}
            for i in range(opts.repeats):
                for nproc in ((1, 2) if i % 2 == 0 else (2, 1)):
                    sides[nproc].append(once(jobs[name], folder / f"runs-{name}-{nproc}", nproc))
                    print(f"  {name} nproc={nproc}: {sides[nproc][-1]['wall']:.1f}s wall, "
                          f"{sides[nproc][-1]['fit']:.1f}s fit", flush=True)
            wall = {n: statistics.median(s["wall"] for s in v) for n, v in sides.items()}
            fit = {n: statistics.median(s["fit"] for s in v) for n, v in sides.items()}
            metric = "accuracy"
            print(f"{name}: wall 1 proc {wall[1]:.1f}s, 2 procs {wall[2]:.1f}s (x{wall[2] / wall[1]:.2f}); "
                  f"fit {fit[1]:.1f}s vs {fit[2]:.1f}s (x{fit[2] / fit[1]:.2f}); {metric} "
                  f"{sides[1][0]['metrics'][metric]:.4f} vs {sides[2][0]['metrics'][metric]:.4f}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
