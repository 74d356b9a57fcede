"""Big files (issue 27 target 4): `runner train` and `runner predict` on a large table vs a
plain pandas + scikit-learn script doing the same work, by peak RSS, wall, CPU and rows/s.

The table: ``--rows`` rows (10M by default) x 20 columns: 16 float and 1 integer feature
(a few empty cells), 2 string categoricals of low cardinality (5 and 20 values) and a
binary target that depends on both kinds, written as Parquet or CSV (``--format``) in
parts, so this script never holds the whole table.

Train, same work both ways: read the file, a stratified 80/20 holdout, a Pipeline of the
scikit-learn plugin's default preprocessing (median imputer + scaler for numbers, most
frequent imputer + one-hot for strings) and ``HistGradientBoostingClassifier(max_iter=20)``,
predict the test part, score it, save the model (joblib).  kampai also writes
predictions.csv, the signature and the baselines (MLflow blocked and ``--no-report``: their cost is target 1's).

Predict: kampai's ``runner predict`` in chunks vs the plain script that reads the file whole,
predicts labels and probabilities and writes Parquet.

Each command is a fresh process (peak RSS is the child's ``ru_maxrss``; CPU its user + sys);
pairs alternate, the best of ``--pairs`` is shown with the load average.

    .venv/bin/python benchmarks/big_files.py [--rows 10000000] [--format parquet|csv] [--pairs 1]
        [--only train|predict] [--no-plain] [--dir FOLDER] [--run RUN]
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
ITERATIONS = 20

PLAIN_TRAIN = f"""
import sys
import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

path = sys.argv[1]
frame = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
X, y = frame.drop(columns="target"), frame["target"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
numeric = [c for c, t in X.dtypes.items() if pd.api.types.is_numeric_dtype(t)]
strings = [c for c in X.columns if c not in numeric]
pre = ColumnTransformer([
    ("num", Pipeline([("imputer", SimpleImputer(strategy="median")), ("scaler", StandardScaler())]), numeric),
    ("cat", Pipeline([("imputer", SimpleImputer(strategy="most_frequent")),
                      ("encoder", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]), strings),
], sparse_threshold=0.0)
model = Pipeline([("preprocess", pre),
                  ("model", HistGradientBoostingClassifier(max_iter={ITERATIONS}, random_state=0))])
model.fit(X_train, y_train)
proba = model.predict_proba(X_test)
labels = model.classes_.take(proba.argmax(axis=1))
print(accuracy_score(y_test, labels), f1_score(y_test, labels, average="macro"), roc_auc_score(y_test, proba[:, 1]))
joblib.dump(model, "plain-model.joblib")
"""

PLAIN_PREDICT = """
import sys
import pandas as pd
import kampai

model = kampai.load_run(sys.argv[1]).model  # the same fitted pipeline, verified
path = sys.argv[2]
frame = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
frame = frame.drop(columns="target")
proba = model.predict_proba(frame)
out = pd.DataFrame({"prediction": model.classes_.take(proba.argmax(axis=1))})
for i, c in enumerate(model.classes_):
    out[f"proba_{c}"] = proba[:, i]
out.to_parquet(sys.argv[3])
"""

CONFIG = f"""name: big
task: classification
data: {{path: DATA, target: target}}
model:
  estimator: HistGradientBoostingClassifier
  params: {{max_iter: {ITERATIONS}}}
"""


def make_table(path: Path, rows: int, part_rows: int = 1_000_000) -> None:
    """Write the synthetic table in parts of ``part_rows`` (Parquet row groups or CSV appends)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    colours = np.array(["red", "green", "blue", "amber", "violet"])
    towns = np.array([f"town_{i:02d}" for i in range(20)])
    writer = None
    for start in range(0, rows, part_rows):
        n = min(part_rows, rows - start)
        numbers = rng.normal(size=(n, 16))
        part = pd.DataFrame(numbers, columns=[f"x{i:02d}" for i in range(16)])
        part["count"] = rng.poisson(3, n)
        colour = rng.integers(0, len(colours), n)
        town = rng.integers(0, len(towns), n)
        part["colour"] = colours[colour]
        part["town"] = towns[town]
        score = numbers[:, 0] + 0.5 * numbers[:, 1] - 0.3 * numbers[:, 2] + 0.4 * (colour == 1) - 0.02 * town
        part["target"] = (score + rng.normal(0, 1, n) > 0).astype(int)
        part.loc[rng.random(n) < 0.01, "x03"] = np.nan  # a few empty cells to impute
        if path.suffix == ".csv":
            part.to_csv(path, mode="w" if start == 0 else "a", header=start == 0, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(part, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    if writer is not None:
        writer.close()


def measure(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr is not None else ""
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--only", choices=("train", "predict"), default=None)
    parser.add_argument("--dir", default=None, help="work folder (kept; default: a temporary one)")
    parser.add_argument("--run", default=None, help="predict with this run folder (default: the newest run in "
                        "the work folder, else one trained on the file)")
    parser.add_argument("--no-plain", action="store_true", help="kampai only (a size whose plain script would "
                        "not fit in memory)")
    args = parser.parse_args()

    env = {**os.environ, "KAMPAI_BLOCK_PLUGINS": "mlflow",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory(prefix="kampai-bigfiles-") as tmp:
        folder = Path(args.dir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        data = folder / f"big-{args.rows}.{args.format}"
        if not data.exists():
            make_table(data, args.rows)
        size = data.stat().st_size / 2**20
        (folder / "train.yaml").write_text(CONFIG.replace("DATA", data.name))
        (folder / "plain_train.py").write_text(PLAIN_TRAIN)
        (folder / "plain_predict.py").write_text(PLAIN_PREDICT)
        kampai = [sys.executable, "-m", "kampai"]
        results: dict[str, list[tuple[float, float, float]]] = {}
        if args.only in (None, "train"):
            train = {"kampai train": [*kampai, "train", "-c", "train.yaml", "--no-report"],
                     "plain train": [sys.executable, "plain_train.py", data.name]}
            if args.no_plain:
                del train["plain train"]
            for _ in range(args.pairs):
                for name, cmd in train.items():
                    results.setdefault(name, []).append(measure(cmd, folder, env))
        if args.only in (None, "predict"):
            runs = sorted((folder / "runs").iterdir()) if (folder / "runs").exists() else []
            if args.run:
                runs = [Path(args.run).resolve()]
            if not runs:
                subprocess.run([*kampai, "train", "-c", "train.yaml", "--no-report", "-q"], cwd=folder, env=env,
                               check=True)
                runs = sorted((folder / "runs").iterdir())
            run = str(runs[-1])
            predict = {"kampai predict (chunks)": [*kampai, "predict", run, "--data", data.name, "-o",
                                                   "out.parquet"],
                       "plain predict (whole)": [sys.executable, "plain_predict.py", run, data.name,
                                                 "plain.parquet"]}
            if args.no_plain:
                del predict["plain predict (whole)"]
            for _ in range(args.pairs):
                for name, cmd in predict.items():
                    results.setdefault(name, []).append(measure(cmd, folder, env))
    load = os.getloadavg()
    print(f"{args.rows:,} rows x 20 columns ({size:.0f} MiB {args.format}), best of {args.pairs}, "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'':26}{'wall':>9}{'CPU':>9}{'rows/s':>12}{'peak RSS':>12}")
    best = {}
    for name, rows in results.items():
        wall, cpu, rss = (min(r[i] for r in rows) for i in range(3))
        best[name] = (wall, cpu, rss)
        print(f"{name:26}{wall:>8.1f}s{cpu:>8.1f}s{args.rows / wall:>12,.0f}{rss:>10,.0f} MiB")
    for step in ("train", "predict"):
        pair = [v for k, v in best.items() if k.split()[1] == step]
        if len(pair) == 2:
            (kw, kc, kr), (pw, pc, pr) = pair
            print(f"{step}: kampai / plain  wall {kw / pw:.2f}  CPU {kc / pc:.2f}  peak RSS {kr / pr:.2f}")


if __name__ == "__main__":
    main()
