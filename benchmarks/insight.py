"""What the insight plugin costs, side by side with doing without it / with plain scikit-learn.

1. ``runner train`` wall time with ``report.after_train`` off, background (the default: a
   detached ``runner report`` process) and inline: the report's cost on the critical path.
2. ``runner learning-curve`` vs ``sklearn.model_selection.learning_curve`` doing the same
   work (5 stratified folds, the same sizes, the same pipeline and forest), fresh processes.

    .venv/bin/python benchmarks/insight.py [--runs 3] [--dataset breast_cancer]
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
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "KAMPAI_NO_TRACK": "1"}
    env.pop("KAMPAI_NO_REPORT", None)
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


if __name__ == "__main__":
    main()
