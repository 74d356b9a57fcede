"""``runner tune`` with its defaults vs a plain Optuna loop doing the same fits (target:
wall-time ratio <= 1.10), whole processes, imports included.

kampai side, as a user types it (tracking on, plots on, the default SQLite study)::

    runner tune --task classification --data sklearn:breast_cancer \\
        --model RandomForestClassifier split.method=stratified_kfold split.folds=5

The plain side is the script a user would write instead: the same pipeline (median
imputation, scaling, RandomForest), an in-memory Optuna study (TPE, the same search space as kampai's
default for RandomForest) whose objective is ``cross_val_score`` over the same five
stratified folds.  So that both sides do the *same fits*, the plain script enqueues exactly
the params kampai's fitted trials took (read from that round's ``trials.csv``): the fits are
identical, what differs is everything around them (the plain side skips TPE's sampling for
enqueued trials, so kampai's side also carries the sampler's cost).
Rounds alternate the two sides (on a busy machine load drifts); medians are reported, with
the CPU time (user + sys) of each process, the steadier number under load.

    .venv/bin/python benchmarks/tune_defaults.py [--rounds 3] [--trials 20]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import CPU, wall

TARGET = 1.10
RUNNER = str(Path(sys.executable).with_name("runner"))

PLAIN = r'''
import json, sys
import optuna
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

optuna.logging.set_verbosity(optuna.logging.WARNING)
trials = json.load(open(sys.argv[1]))
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
folds = StratifiedKFold(5, shuffle=True, random_state=42)

def objective(trial):
    params = {
        "n_estimators": trial.suggest_int("n_estimators", 10, 300, log=True),
        "max_depth": trial.suggest_int("max_depth", 1, 16),
        "min_samples_split": trial.suggest_int("min_samples_split", 2, 10),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 10),
        "max_features": trial.suggest_categorical("max_features", ["sqrt", "log2", 1.0]),
        "bootstrap": trial.suggest_categorical("bootstrap", [True, False]),
    }
    pre = ColumnTransformer([("num", Pipeline([("imputer", SimpleImputer(strategy="median")),
                                               ("scaler", StandardScaler())]), list(X.columns))])
    model = Pipeline([("preprocess", pre), ("model", RandomForestClassifier(random_state=42, **params))])
    return cross_val_score(model, X, y, cv=folds, scoring="accuracy").mean()

study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=42))
for params in trials:  # the points kampai's trials took: the same fits on both sides
    study.enqueue_trial(params)
study.optimize(objective, n_trials=len(trials))
print(study.best_value)
'''


def kampai_cmd(trials: int, study: str) -> list[str]:
    return [RUNNER, "tune", "--task", "classification", "--data", "sklearn:breast_cancer",
            "--model", "RandomForestClassifier", "--study", study, f"tune.trials={trials}",
            "split.method=stratified_kfold", "split.folds=5"]


def replayed_params(folder: Path, study: str) -> list[dict]:
    """The params of each kampai trial, in order (``trials.csv`` of that study)."""
    import pandas as pd

    table = pd.read_csv(folder / "studies" / study / "trials.csv").sort_values("number")
    if "duplicate_of" in table:  # a reused point was not fitted: the plain loop skips it too
        table = table[table["duplicate_of"].isna()]
    columns = [c for c in table.columns if c.startswith("param:")]
    out = []
    for _, row in table.iterrows():
        params = {}
        for column in columns:
            value = row[column]
            if isinstance(value, float) and value != value:  # NaN: a None choice
                value = None
            elif isinstance(value, float) and value.is_integer():
                value = int(value)
            elif hasattr(value, "item"):
                value = value.item()
            if isinstance(value, str) and value in ("True", "False"):
                value = value == "True"
            elif isinstance(value, str):  # a mixed categorical is logged as text: 1.0 -> 1.0
                with contextlib.suppress(ValueError):
                    value = float(value)
            params[column[len("param:"):]] = value
        out.append(params)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    times: dict[str, list[float]] = {"plain": [], "kampai": []}
    root = Path(tempfile.mkdtemp(prefix="kampai-tune-bench-"))
    script = root / "plain.py"
    script.write_text(PLAIN)
    try:
        for r in range(args.rounds):
            folder = root / f"round{r}"
            folder.mkdir()
            study = f"bench{r}"
            times["kampai"].append(wall(kampai_cmd(args.trials, study), str(folder), env, "kampai"))
            params = folder / "params.json"
            params.write_text(json.dumps(replayed_params(folder, study)))
            times["plain"].append(wall([sys.executable, str(script), str(params)], str(folder), env, "plain"))
            print(f"round {r + 1}: kampai {times['kampai'][-1]:.2f} s, plain {times['plain'][-1]:.2f} s",
                  flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load = os.getloadavg()[0]
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu = {k: statistics.median(CPU[k]) for k in times}
    print(f"\n{args.trials} TPE trials, RandomForest, 5-fold CV, breast_cancer; medians of {args.rounds} "
          f"alternating rounds; load average {load:.1f}")
    print(f"{'':34}{'wall':>9}{'CPU':>9}")
    print(f"{'plain Optuna + cross_val_score':34}{med['plain']:8.2f}s{cpu['plain']:8.2f}s")
    print(f"{'runner tune (defaults)':34}{med['kampai']:8.2f}s{cpu['kampai']:8.2f}s")
    ratio, cpu_ratio = med["kampai"] / med["plain"], cpu["kampai"] / cpu["plain"]
    print(f"ratio: {ratio:.3f} wall, {cpu_ratio:.3f} CPU; target <= {TARGET}: "
          f"{'met' if ratio <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
