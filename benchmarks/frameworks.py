"""Every framework vs plain (issue 27 target 3): each framework plugin's whole job in a fresh
process against the plain script doing the same work, at a size where the fit takes >= 5 s.

Each side is one fresh Python process (imports, data loading, fit, predict, scores, saving:
the same work as the user's script); both call the ``plain``/``with_kampai`` functions of
the per-framework benchmarks (darts_overhead, recommendation, graphs, deep_tabular,
fastai_raw_table, transformers_overhead), which keep their own documentation of what each
side does.  kampai runs through its Python API with MLflow tracking and report.html off
(``KAMPAI_TRACKING__ENABLED=false``, ``KAMPAI_REPORT__AFTER_TRAIN=off``): this measures the
framework plugins and the engine, not the tracker or the report (docs/benchmarks.md, target 1).
Sides alternate (kampai first, then plain first), ``--pairs`` pairs; medians of wall, CPU of
the process and CPU of every process it started (``_whole``: background ones included).
Threads: ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` = ``--threads`` on both sides.

    .venv/bin/python benchmarks/frameworks.py [--pairs 5] [--threads 1] [--only darts-es,pyg]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _whole import Series, load, run

BENCH = str(Path(__file__).parent)
HEAD = f"import sys, warnings; sys.path.insert(0, {BENCH!r}); warnings.filterwarnings('ignore')\n"

#: name -> (what, plain code, kampai code); {out} is a fresh folder, {data} the shared data folder
CASES: dict[str, tuple[str, str, str]] = {
    "darts-es": (
        "Darts ExponentialSmoothing, hourly series of 16,000 points (season 24), holdout 24 + refit",
        "import darts_overhead as b; "
        "b.plain('ExponentialSmoothing', 0, {out!r}, csv={data!r} + '/hourly.csv', season=24)",
        "import darts_overhead as b; b.with_kampai('ExponentialSmoothing', 0, {out!r}, csv={data!r} + '/hourly.csv')",
    ),
    "darts-nbeats": (
        "Darts NBEATS (4 stacks x 64), co2 monthly, 5 epochs, holdout 24 + refit",
        "import darts_overhead as b; b.plain('NBEATS', 5, {out!r})",
        "import darts_overhead as b; b.with_kampai('NBEATS', 5, {out!r})",
    ),
    "implicit": (
        "implicit ALS, MovieLens 100k, 128 factors, 50 iterations, top-10 of every test user",
        "import recommendation as b; b.FACTORS, b.ITERATIONS = 128, 50; b.plain({out!r}, 1)",
        "import recommendation as b; b.FACTORS, b.ITERATIONS = 128, 50; b.with_kampai({out!r}, 1)",
    ),
    "pyg": (
        "PyG GCN 2 x 64, digits 10-NN graph (1,797 nodes), 300 full-batch epochs",
        "import graphs as b; from pathlib import Path; "
        "b.plain(Path({data!r}) / 'nodes.csv', Path({data!r}) / 'edges.csv', 300, False, Path({out!r}))",
        "import graphs as b; from pathlib import Path; "
        "b.with_kampai(Path({data!r}) / 'nodes.csv', Path({data!r}) / 'edges.csv', 300, Path({out!r}))",
    ),
    "fastai-tabular": (
        "fast.ai tabular, breast cancer, 100 epochs, batch 64",
        "import deep_tabular as b; f, tr, te = b.data(); b.plain_fastai(tr, te, 100, 64, 1e-2)",
        "import deep_tabular as b; f, tr, te = b.data(); "
        "b.kampai_side('fastai', f, {{'epochs': 100, 'bs': 64, 'lr': 1e-2, 'patience': None, "
        "'layers': [200, 100]}}, {out!r})",
    ),
    "fastai-raw": (
        "fast.ai tabular, raw table (4,000 rows, timestamp text, string categories), 15 epochs",
        "import fastai_raw_table as b; X, y = b.table(4000); b.plain(X, y, 15, 64)",
        "import fastai_raw_table as b, kampai; X, y = b.table(4000); "
        "kampai.train(task='classification', framework='fastai', data=X.assign(label=y), target='label', "
        "params={{'epochs': 15, 'bs': 64, 'patience': None, 'layers': [200, 100]}}, "
        "output={{'runs_dir': {out!r}}}, verbose=False)",
    ),
    "skorch": (
        "skorch MLP (torch plugin), breast cancer, 300 epochs, batch 64",
        "import deep_tabular as b; f, tr, te = b.data(); b.plain_skorch(tr, te, 300, 64, 1e-3)",
        "import deep_tabular as b; f, tr, te = b.data(); "
        "b.kampai_side('torch', f, {{'epochs': 300, 'batch_size': 64, 'lr': 1e-3, 'patience': None}}, {out!r})",
    ),
    "transformers": (
        "transformers tiny BERT (2 x 128) from a config, 800 tweets, 4 epochs, CPU",
        "import transformers_overhead as b; f, tr, te = b.load_data(800); b.plain(f, tr, te, 4, {out!r})",
        "import transformers_overhead as b; f, tr, te = b.load_data(800); b.with_kampai(f, tr, te, 4, {out!r})",
    ),
}


def prepare(data: Path) -> None:
    """The shared inputs: an hourly series (Darts) and the digits 10-NN graph (PyG)."""
    import numpy as np
    import pandas as pd
    from graphs import digits_graph

    n = 16000
    rng = np.random.default_rng(0)
    values = 10 + 3 * np.sin(np.arange(n) * 2 * np.pi / 24) + np.arange(n) * 1e-3 + rng.normal(0, 0.5, n)
    pd.DataFrame({"time": pd.date_range("2020-01-01", periods=n, freq="h"), "value": values}).to_csv(
        data / "hourly.csv", index=False)
    nodes, edges = digits_graph()
    nodes.to_csv(data / "nodes.csv", index=False)
    edges.to_csv(data / "edges.csv", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    opts = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(opts.threads), "OPENBLAS_NUM_THREADS": str(opts.threads),
           "MKL_NUM_THREADS": str(opts.threads), "KAMPAI_TRACKING__ENABLED": "false",
           "KAMPAI_REPORT__AFTER_TRAIN": "off", "PYTHONWARNINGS": "ignore"}
    data = Path(tempfile.mkdtemp(prefix="kampai-fw-"))
    try:
        prepare(data)
        print(f"threads={opts.threads}, pairs={opts.pairs}; kampai: tracking and report off\n")
        print("| framework | work | plain wall s | kampai wall s | wall ratio | plain CPU s (all) | "
              "kampai CPU s (all) | CPU ratio (all) | load before/after |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name in opts.only.split(","):
            what, plain_code, kampai_code = CASES[name]
            rows = {"plain": Series(), "kampai": Series()}
            before = load()
            for i in range(opts.pairs):
                order = ("kampai", "plain") if i % 2 == 0 else ("plain", "kampai")
                for side in order:
                    out = tempfile.mkdtemp(prefix="kampai-fw-out-")
                    code = HEAD + (plain_code if side == "plain" else kampai_code).format(out=out, data=str(data))
                    rows[side].samples.append(run([sys.executable, "-c", code], cwd=out, env=env))
                    shutil.rmtree(out, ignore_errors=True)
            p, k = rows["plain"], rows["kampai"]
            print(f"| {name} | {what} | {p.median('wall'):.2f} | {k.median('wall'):.2f} | "
                  f"**{k.median('wall') / p.median('wall'):.3f}** | {p.median('cpu_all'):.2f} | "
                  f"{k.median('cpu_all'):.2f} | **{k.median('cpu_all') / p.median('cpu_all'):.3f}** | "
                  f"{before} / {load()} |", flush=True)
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
