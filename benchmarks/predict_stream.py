"""`runner predict` on a large Parquet file: kampai streaming in chunks vs a plain pandas
script that loads the file whole (peak RSS and rows/s), and optionally on a Ray cluster.

The file: ``--rows`` rows (10M by default) of iris-like features with noise.  The model: a
kampai run (LogisticRegression with kampai's default preprocessing) trained on iris.  The
plain script loads that same fitted model (kampai's verified load), reads the whole file
with pandas, predicts labels and probabilities and writes a Parquet file: the same work
without chunks.  Each command is a fresh process, measured by its peak RSS
(``ru_maxrss`` of the child) and wall time; pairs alternate.

    .venv/bin/python benchmarks/predict_stream.py [--rows 10000000] [--pairs 1] [--ray ADDRESS]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAIN = """
import sys
import pandas as pd
import kampai

model = kampai.load_run(sys.argv[1]).model  # the same fitted pipeline, verified
frame = pd.read_parquet(sys.argv[2])
out = pd.DataFrame({"prediction": model.predict(frame)})
proba = model.predict_proba(frame)
for i, c in enumerate(model.classes_):
    out[f"proba_{c}"] = proba[:, i]
out.to_parquet(sys.argv[3])
"""


def measure(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, _, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if proc.stderr is not None:
        proc.stderr.close()
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--ray", default=None, help="also predict on the Ray cluster at this address")
    args = parser.parse_args()
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_iris

    env = {**os.environ, "KAMPAI_BLOCK_PLUGINS": "mlflow",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory(prefix="kampai-predict-bench-") as tmp:
        folder = Path(tmp)
        (folder / "train.yaml").write_text("name: iris\ntask: classification\ndata: {path: 'sklearn:iris'}\n"
                                           "model: {estimator: LogisticRegression}\n")
        subprocess.run([sys.executable, "-m", "kampai", "train", "-c", "train.yaml", "-q"], cwd=folder, env=env,
                       check=True)
        run = str(next((folder / "runs").iterdir()))
        iris = load_iris(as_frame=True).frame.drop(columns="target")
        rng = np.random.default_rng(0)
        parts = []
        for start in range(0, args.rows, 1_000_000):  # written in parts: the generator stays small too
            n = min(1_000_000, args.rows - start)
            part = iris.sample(n, replace=True, random_state=start).reset_index(drop=True)
            parts.append(part + rng.normal(0, 0.05, part.shape))
        import pyarrow as pa
        import pyarrow.parquet as pq

        with pq.ParquetWriter(folder / "big.parquet", pa.Table.from_pandas(parts[0]).schema) as writer:
            for part in parts:
                writer.write_table(pa.Table.from_pandas(part, preserve_index=False))
        del parts
        size = (folder / "big.parquet").stat().st_size / 2**20
        (folder / "plain.py").write_text(PLAIN)
        commands = {
            "kampai (chunks)": [sys.executable, "-m", "kampai", "predict", run, "--data", "big.parquet", "-o",
                                "out.parquet"],
            "plain pandas (whole)": [sys.executable, "plain.py", run, "big.parquet", "plain.parquet"],
        }
        if args.ray:
            commands["kampai --ray"] = [*commands["kampai (chunks)"][:-1], "ray.parquet", "--ray", args.ray]
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in commands}
        for _ in range(args.pairs):
            for name, cmd in commands.items():
                results[name].append(measure(cmd, folder, env))
        same = pd.read_parquet(folder / "out.parquet").equals(pd.read_parquet(folder / "plain.parquet"))
    print(f"{args.rows:,} rows ({size:.0f} MiB Parquet), best of {args.pairs}, load average "
          f"{os.getloadavg()[0]:.1f}; kampai output equals the plain script's: {same}")
    print(f"{'':24}{'wall':>9}{'rows/s':>12}{'peak RSS':>12}")
    for name, rows in results.items():
        wall = min(r[0] for r in rows)
        rss = min(r[1] for r in rows)
        print(f"{name:24}{wall:>8.1f}s{args.rows / wall:>12,.0f}{rss:>10,.0f} MiB")


if __name__ == "__main__":
    main()
