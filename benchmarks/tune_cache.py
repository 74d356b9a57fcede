"""Tuning with expensive preprocessing: kampai's fold cache vs GridSearchCV and a plain
Optuna loop, neither of which can reuse it (target: kampai >= 3x faster than both).

Same data, same Pipeline (a KNN imputer, slow on both fit and transform, then scaling),
same 3 stratified folds, 30 trials that vary only the model's ``C`` (LogisticRegression),
accuracy.  In one process, imports excluded; kampai starts with an empty cache folder and
its default SQLite study storage.

    .venv/bin/python benchmarks/tune_cache.py [--rows 2000] [--features 10] [--trials 30]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread each side: fair, and quiet on a busy machine

TARGET = 3.0


def make_data(rows: int, features: int):
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=features, n_informative=features // 2,
                               random_state=0)
    rng = np.random.default_rng(0)
    X[rng.random(X.shape) < 0.1] = np.nan  # 10% missing: the imputer has work to do
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(features)])
    frame["target"] = np.where(y == 1, "yes", "no")
    return frame


def pipeline(columns):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import KNNImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pre = ColumnTransformer([("num", Pipeline([("imputer", KNNImputer(n_neighbors=5)),
                                               ("scaler", StandardScaler())]), columns)])
    return Pipeline([("preprocess", pre), ("model", LogisticRegression(max_iter=500))])


def run_kampai(frame, trials: int, folder: str) -> float:
    import kampai

    start = time.perf_counter()
    kampai.tune(
        data=frame, task="classification", target="target", model="LogisticRegression",
        params={"max_iter": 500}, search={"C": {"type": "float", "low": 1e-3, "high": 100.0, "log": True}},
        split={"method": "stratified_kfold", "folds": 3, "seed": 42}, metrics=["accuracy"],
        overrides=["model.preprocess.num.steps.imputer={class: KNNImputer, n_neighbors: 5}",
                   f"tune.cache_dir={folder}/cache", f"tune.output_dir={folder}/studies",
                   "tune.plots=false"],
        storage=f"{folder}/optuna.db", study="bench", trials=trials, verbose=False)
    return time.perf_counter() - start


def run_gridsearch(frame, trials: int) -> float:
    import numpy as np
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    X, y = frame.drop(columns="target"), frame["target"]
    search = GridSearchCV(pipeline(list(X.columns)), {"model__C": np.logspace(-3, 2, trials)},
                          cv=StratifiedKFold(3, shuffle=True, random_state=42), scoring="accuracy",
                          n_jobs=1, refit=False)
    start = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - start


def run_optuna(frame, trials: int) -> float:
    import optuna
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = frame.drop(columns="target"), frame["target"]
    cv = StratifiedKFold(3, shuffle=True, random_state=42)

    def objective(trial):
        model = pipeline(list(X.columns)).set_params(model__C=trial.suggest_float("C", 1e-3, 100.0, log=True))
        return cross_val_score(model, X, y, cv=cv, scoring="accuracy").mean()

    start = time.perf_counter()
    optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=42)).optimize(
        objective, n_trials=trials)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("KAMPAI_BLOCK_PLUGINS", "mlflow")
    warnings.filterwarnings("ignore")
    frame = make_data(args.rows, args.features)
    import optuna  # noqa: F401
    import sklearn.model_selection  # noqa: F401

    import kampai.core.tuning.study  # noqa: F401  (imports outside the timings)

    with tempfile.TemporaryDirectory() as folder:
        k = run_kampai(frame, args.trials, folder)
    g = run_gridsearch(frame, args.trials)
    o = run_optuna(frame, args.trials)
    print(f"{args.trials} trials, 3-fold CV, {args.rows} rows x {args.features} features, KNNImputer + "
          "LogisticRegression(C)")
    print(f"{'':28}{'seconds':>10}{'kampai faster by':>20}")
    print(f"{'kampai tune (fold cache)':28}{k:10.2f}{'':>20}")
    print(f"{'GridSearchCV':28}{g:10.2f}{g / k:19.1f}x")
    print(f"{'Optuna loop, no cache':28}{o:10.2f}{o / k:19.1f}x")
    worst = min(g, o) / k
    print(f"target >= {TARGET:.0f}x: {'met' if worst >= TARGET else 'NOT met'} ({worst:.1f}x)")


if __name__ == "__main__":
    main()
