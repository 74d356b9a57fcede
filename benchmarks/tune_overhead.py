"""The cost of kampai's tuning loop vs a bare Optuna loop doing the same work
(target: ratio <= 1.1), and the throughput of ``--jobs 2`` vs ``--jobs 1``.

Same work on both sides: breast_cancer, the same 30 grid points (RandomForest max_depth x
min_samples_leaf, 30 trees), a Pipeline of median imputation + scaling, 3 stratified
folds, accuracy.  kampai runs with its default SQLite study storage (crash-safe, resumable,
shared by workers) and, for the loop overhead, with its fold cache off; the bare loop runs
in memory and, for a like-for-like storage, on a SQLite file too.  In one process, imports
excluded, best of ``--rounds``.

    .venv/bin/python benchmarks/tune_overhead.py [--rounds 2] [--trees 30] [--skip-jobs]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

TARGET = 1.1
DEPTHS = [2, 3, 4, 5, 6, 7]
LEAVES = [1, 2, 3, 4, 5]


def frame():
    from kampai.core.data import read_frame

    return read_frame("sklearn:breast_cancer")


def run_kampai(data, trees: int, folder: str, *, cache: bool, jobs: int = 1, study: str = "k") -> float:
    import kampai

    start = time.perf_counter()
    kampai.tune(
        data=data, task="classification", target="target", model="RandomForestClassifier",
        params={"n_estimators": trees},
        search={"max_depth": DEPTHS, "min_samples_leaf": LEAVES}, sampler="grid",
        split={"method": "stratified_kfold", "folds": 3, "seed": 42}, metrics=["accuracy"],
        overrides=[f"tune.cache={str(cache).lower()}", f"tune.cache_dir={folder}/cache",
                   f"tune.output_dir={folder}/studies", "tune.plots=false"],
        storage=f"{folder}/optuna.db", study=study, jobs=jobs, verbose=False)
    return time.perf_counter() - start


def run_bare(data, trees: int, storage: str | None) -> float:
    import optuna
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = data.drop(columns="target"), data["target"]
    folds = list(StratifiedKFold(3, shuffle=True, random_state=42).split(X, y))

    def objective(trial):
        pre = ColumnTransformer([("num", Pipeline([("imputer", SimpleImputer(strategy="median")),
                                                   ("scaler", StandardScaler())]), list(X.columns))])
        model = Pipeline([("preprocess", pre), ("model", RandomForestClassifier(
            n_estimators=trees, random_state=42, max_depth=trial.suggest_categorical("max_depth", DEPTHS),
            min_samples_leaf=trial.suggest_categorical("min_samples_leaf", LEAVES)))])
        scores = []
        for train, test in folds:
            model.fit(X.iloc[train], y.iloc[train])
            scores.append(accuracy_score(y.iloc[test], model.predict(X.iloc[test])))
        return sum(scores) / len(scores)

    start = time.perf_counter()
    sampler = optuna.samplers.GridSampler({"max_depth": DEPTHS, "min_samples_leaf": LEAVES}, seed=42)
    optuna.create_study(direction="maximize", sampler=sampler, storage=storage).optimize(objective)
    return time.perf_counter() - start


def report(times: dict[str, list[float]], n: int, args: argparse.Namespace) -> None:
    best = {k: min(v) for k, v in times.items()}
    base = best["bare Optuna, in memory"]
    print(f"{n} trials (grid), 3-fold CV, breast_cancer, RandomForest({args.trees} trees); best of {args.rounds}")
    print(f"{'':28}{'seconds':>10}{'ms/trial':>10}{'vs bare in memory':>20}")
    for name, seconds in best.items():
        print(f"{name:28}{seconds:10.2f}{1000 * seconds / n:10.0f}{seconds / base:19.2f}x")
    ratio = best["kampai tune, cache off"] / base
    like = best["kampai tune, cache off"] / best["bare Optuna, SQLite file"]
    print(f"loop overhead (cache off): {like:.2f}x vs the bare loop on the same storage (SQLite), "
          f"{ratio:.2f}x vs the bare loop in memory; target <= {TARGET} on the same storage: "
          f"{'met' if like <= TARGET else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--trees", type=int, default=30)
    parser.add_argument("--skip-jobs", action="store_true")
    parser.add_argument("--only-jobs", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("KAMPAI_BLOCK_PLUGINS", "mlflow")
    warnings.filterwarnings("ignore")
    data = frame()
    import optuna  # noqa: F401
    import sklearn.ensemble  # noqa: F401

    import kampai.core.tuning.study  # noqa: F401  (imports outside the timings)

    times: dict[str, list[float]] = {}
    for r in range(0 if args.only_jobs else args.rounds):
        with tempfile.TemporaryDirectory() as folder:
            times.setdefault("bare Optuna, in memory", []).append(run_bare(data, args.trees, None))
            times.setdefault("bare Optuna, SQLite file", []).append(
                run_bare(data, args.trees, f"sqlite:///{folder}/bare.db"))
            times.setdefault("kampai tune, cache off", []).append(
                run_kampai(data, args.trees, folder, cache=False, study=f"off{r}"))
            times.setdefault("kampai tune, cache on", []).append(
                run_kampai(data, args.trees, folder, cache=True, study=f"on{r}"))
    n = len(DEPTHS) * len(LEAVES)
    if not args.only_jobs:
        report(times, n, args)
    if args.skip_jobs:
        return
    with tempfile.TemporaryDirectory() as folder:
        one = run_kampai(data, args.trees * 4, folder, cache=True, jobs=1, study="j1")
        two = run_kampai(data, args.trees * 4, folder, cache=True, jobs=2, study="j2")
    print(f"\n--jobs throughput: {n} trials of RandomForest({args.trees * 4} trees), os.cpu_count()={os.cpu_count()}")
    print(f"{'--jobs 1':12}{one:8.2f}s  {n / one * 60:6.1f} trials/min")
    print(f"{'--jobs 2':12}{two:8.2f}s  {n / two * 60:6.1f} trials/min   speed-up {one / two:.2f}x "
          "(includes starting 2 worker processes)")


if __name__ == "__main__":
    main()
