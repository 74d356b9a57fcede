"""Thousands of tiny trials (issue 27, target 2): ``runner tune`` vs a plain Optuna loop
doing the same work, in fresh processes, alternating, wall and CPU including every process
each command starts (kampai's background MLflow push too; see ``_whole.py``).

The work: breast_cancer, LogisticRegression(C) behind median imputation + scaling (what
kampai builds by default), 3 stratified folds, accuracy, N trials of a seeded sampler.
The plain loop runs on Optuna's in-memory storage, a SQLite file and a JournalStorage file
(Optuna's own cost of a durable store, measured apart from kampai's); ``runner tune`` runs
as a user runs it (default storage, tracking on), and with ``--no-cache`` (the plain loop
refits the imputer and scaler in every trial; kampai's fold cache fits them once per fold).

    .venv/bin/python benchmarks/tiny_trials.py [--trials 300] [--rounds 3] [--sampler random|tpe|grid]
    .venv/bin/python benchmarks/tiny_trials.py --overhead 2000     # per-trial overhead, by trial number

``--overhead N`` runs N trials of a model that costs nothing (DummyClassifier, one fold) in
this process and prints kampai's own time per trial (the time between two trials' ends,
minus the fit) in buckets of trial numbers: flat means no cost grows with the study.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _whole import Series, load, run

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

PY = sys.executable
RUNNER = str(Path(sys.executable).with_name("runner"))
SEED = 42
LOW, HIGH = 1e-3, 100.0


def grid_values(n: int) -> list[float]:
    import math

    return [round(math.exp(math.log(LOW) + (math.log(HIGH) - math.log(LOW)) * i / max(1, n - 1)), 10)
            for i in range(n)]


CONFIG = """\
name: tiny
task: classification
framework: sklearn
seed: {seed}
data:
  path: sklearn:breast_cancer
split:
  method: stratified_kfold
  folds: 3
model:
  estimator: LogisticRegression
  params:
    max_iter: 200
  search:
    C: {search}
metrics: [accuracy]
tune:
  trials: {trials}
  sampler: {sampler}
  plots: false
"""


def write_config(folder: str, trials: int, sampler: str) -> str:
    search = (str(grid_values(trials)) if sampler == "grid"
              else f"{{type: float, low: {LOW}, high: {HIGH}, log: true}}")
    path = Path(folder) / "tiny.yaml"
    path.write_text(CONFIG.format(seed=SEED, search=search, trials=trials, sampler=sampler))
    return str(path)


def plain(storage: str, trials: int, sampler: str) -> None:
    """The plain loop (run in its own process by the benchmark)."""
    import warnings

    import optuna
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    folds = list(StratifiedKFold(3, shuffle=True, random_state=SEED).split(X, y))

    def objective(trial: optuna.Trial) -> float:
        if sampler == "grid":
            c = trial.suggest_categorical("C", grid_values(trials))
        else:
            c = trial.suggest_float("C", LOW, HIGH, log=True)
        scores = []
        for train, test in folds:
            pre = ColumnTransformer([("num", Pipeline([("imputer", SimpleImputer(strategy="median")),
                                                       ("scaler", StandardScaler())]), list(X.columns))])
            model = Pipeline([("preprocess", pre),
                              ("model", LogisticRegression(C=c, max_iter=200, random_state=SEED))])
            model.fit(X.iloc[train], y.iloc[train])
            scores.append(accuracy_score(y.iloc[test], model.predict(X.iloc[test])))
        return sum(scores) / len(scores)

    if storage == "memory":
        store = None
    elif storage == "sqlite":
        store = "sqlite:///plain.db"
    else:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        store = JournalStorage(JournalFileBackend("plain.journal"))
    samplers = {"random": lambda: optuna.samplers.RandomSampler(seed=SEED),
                "tpe": lambda: optuna.samplers.TPESampler(seed=SEED),
                "grid": lambda: optuna.samplers.GridSampler({"C": grid_values(trials)}, seed=SEED)}
    study = optuna.create_study(direction="maximize", sampler=samplers[sampler](), storage=store)
    study.optimize(objective, n_trials=trials)


def compare(args: argparse.Namespace) -> None:
    env = dict(os.environ)
    env.pop("KAMPAI_NO_TRACK", None)
    rows = {name: Series() for name in ("plain Optuna, in memory", "runner tune (default)",
                                        "runner tune --no-cache")}
    if not args.kampai_only:
        rows["plain Optuna, SQLite file"] = Series()
        rows["plain Optuna, JournalStorage file"] = Series()
    loads = [load()]
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as folder:
            config = write_config(folder, args.trials, args.sampler)
            for name in rows:
                if name.startswith("runner"):
                    cmd = [RUNNER, "tune", "-c", config, "-q", "--study", f"s{r}{'n' if 'no-cache' in name else ''}"]
                    if "no-cache" in name:  # the same work as the plain loop: preprocessing refitted per trial
                        cmd.append("--no-cache")
                else:
                    storage = "memory" if "memory" in name else "sqlite" if "SQLite" in name else "journal"
                    cmd = [PY, __file__, "--plain", storage, "--trials", str(args.trials), "--sampler", args.sampler]
                rows[name].samples.append(run(cmd, folder, env))
        loads.append(load())
        print(f"round {r + 1}: " + ", ".join(f"{n}: {s.samples[-1].wall:.1f} s / {s.samples[-1].cpu_all:.1f} cpu-s"
                                             for n, s in rows.items()), flush=True)
    base = rows["plain Optuna, in memory"]
    print(f"\n{args.trials} trials, {args.sampler} sampler, LogisticRegression, 3 folds; medians of "
          f"{args.rounds} alternating rounds; load average (1/5 min) {' -> '.join(loads)}")
    print("| command | wall s | CPU s incl. all processes | settle s | wall ratio | CPU ratio |")
    print("|---|---|---|---|---|---|")
    for name, s in rows.items():
        wr = statistics.median(a.wall / b.wall for a, b in zip(s.samples, base.samples, strict=True))
        cr = statistics.median(a.cpu_all / b.cpu_all for a, b in zip(s.samples, base.samples, strict=True))
        print(f"| {name} | {s.median('wall'):.2f} | {s.median('cpu_all'):.2f} | {s.median('settle'):.2f} | "
              f"{wr:.3f} | {cr:.3f} |")
    print("(ratios: median of the per-round ratios against the plain loop in memory)")


def overhead(n: int, storage: str | None) -> None:
    """kampai's own time per trial, by trial number (in this process, tracking off)."""
    import warnings

    warnings.filterwarnings("ignore")
    os.environ["KAMPAI_NO_TRACK"] = "1"
    import kampai

    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        start = time.perf_counter()
        result = kampai.tune(
            data="sklearn:iris", task="classification", target="target", model="DummyClassifier",
            search={"strategy": ["most_frequent", "prior", "stratified", "uniform"],
                    "constant": {"type": "int", "low": 0, "high": 10 ** 9}},
            sampler="random", split={"method": "random", "test_size": 0.2},
            metrics=["accuracy"], overrides=[f"tune.trials={n}", "tune.plots=false", "model.preprocess=false"],
            storage=storage, study="overhead", verbose=False)
        total = time.perf_counter() - start
        trials = sorted(result.study.get_trials(deepcopy=False), key=lambda t: t.number)
    ends = [t.datetime_complete.timestamp() for t in trials]
    fits = [float(t.user_attrs.get("fit_seconds") or 0.0) for t in trials]
    steps = [(ends[i] - ends[i - 1]) - fits[i] for i in range(1, len(ends))]
    bucket = max(1, n // 10)
    print(f"{n} trials of DummyClassifier (holdout), storage {storage or 'default (the journal file)'}: "
          f"{total:.1f} s in all, {1000 * total / n:.2f} ms per trial; load {load()}")
    print("| trials | ms per trial besides the fit (median) |")
    print("|---|---|")
    for i in range(0, len(steps), bucket):
        chunk = steps[i:i + bucket]
        print(f"| {i + 2}-{i + 1 + len(chunk)} | {1000 * statistics.median(chunk):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sampler", default="random", choices=["random", "tpe", "grid"])
    parser.add_argument("--kampai-only", action="store_true", help="only plain in memory and runner tune")
    parser.add_argument("--plain", choices=["memory", "sqlite", "journal"], help=argparse.SUPPRESS)
    parser.add_argument("--overhead", type=int, metavar="N")
    parser.add_argument("--storage", default=None, help="--overhead: the study storage (default: kampai's)")
    args = parser.parse_args()
    if args.plain:
        plain(args.plain, args.trials, args.sampler)
    elif args.overhead:
        overhead(args.overhead, args.storage)
    else:
        compare(args)


if __name__ == "__main__":
    main()
