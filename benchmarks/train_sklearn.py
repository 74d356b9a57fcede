"""``runner train`` vs the same plain scikit-learn script (target: wall-time ratio <= 1.15).

Both run in fresh processes (imports included) and do the same work on a bundled dataset:
load it, a stratified 80/20 split, a Pipeline of median imputation + scaling and a
RandomForestClassifier, predict with probabilities, the same five metrics, save the model
with joblib and write the predictions.  kampai adds its config, plugins, step log, run folder
(meta.json with versions and git info, manifest) on top.

    .venv/bin/python benchmarks/train_sklearn.py [--runs 5] [--trees 300] [--dataset breast_cancer]
    .venv/bin/python benchmarks/train_sklearn.py --whole --runs 3 --trees 100 --burst 10   # issue 27 target 1
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from _timing import CPU, wall  # benchmarks/ is on sys.path when a script runs

TARGET = 1.15

PLAIN = textwrap.dedent("""
    import json, sys
    from pathlib import Path

    import joblib
    import pandas as pd
    from sklearn import datasets, metrics
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    name, trees, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    X, y = bunch.data, bunch.target.map(dict(enumerate(bunch.target_names)))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=42)
    pre = ColumnTransformer([("num", Pipeline([("imputer", SimpleImputer(strategy="median")),
                                               ("scaler", StandardScaler())]), list(X.columns))])
    model = Pipeline([("preprocess", pre), ("model", RandomForestClassifier(n_estimators=trees, random_state=42))])
    model.fit(X_train, y_train)
    pred, proba = model.predict(X_test), model.predict_proba(X_test)
    scores = {
        "accuracy": metrics.accuracy_score(y_test, pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y_test, pred),
        "f1_macro": metrics.f1_score(y_test, pred, average="macro"),
        "roc_auc": metrics.roc_auc_score(y_test, proba[:, 1]) if proba.shape[1] == 2
        else metrics.roc_auc_score(y_test, proba, multi_class="ovr"),
        "log_loss": metrics.log_loss(y_test, proba, labels=model.classes_),
    }
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / "model.joblib")
    pd.DataFrame({"target": y_test, "prediction": pred}).to_csv(out / "predictions.csv")
    (out / "metrics.json").write_text(json.dumps(scores))
    print(json.dumps(scores))
""")




def in_process(dataset: str, trees: int, runs: int) -> None:
    """Both in this one process, imports done: what kampai's engine itself adds per run."""
    import runpy

    os.environ["KAMPAI_BLOCK_PLUGINS"] = "mlflow"  # no tracker, like the plain script
    import kampai

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as cwd:
        os.chdir(cwd)
        script = Path(cwd) / "plain.py"
        script.write_text(PLAIN)

        def plain() -> None:
            sys.argv = ["plain.py", dataset, str(trees), "plain-out"]
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                runpy.run_path(str(script), run_name="__main__")

        def engine() -> float:
            run = kampai.train(task="classification", data=f"sklearn:{dataset}", model="RandomForestClassifier",
                               params={"n_estimators": trees}, overrides=["model.preprocess.cat=null"],
                               verbose=False)
            return run.meta["fit_seconds"]

        plain(), engine()  # imports and caches
        p_t, k_t, fits = [], [], []
        for _ in range(runs):
            start = time.perf_counter()
            plain()
            p_t.append(time.perf_counter() - start)
            start = time.perf_counter()
            fits.append(engine())
            k_t.append(time.perf_counter() - start)
    p, k = statistics.median(p_t), statistics.median(k_t)
    print(f"\nin one process, imports done (median of {runs}):")
    print(f"  plain script {p:.3f} s, kampai.train {k:.3f} s (of which fit {statistics.median(fits):.3f} s): "
          f"ratio {k / p:.3f}, engine overhead {k - p:+.3f} s per run")


def whole(args: argparse.Namespace, runner: str) -> None:
    """Issue 27 target 1: the default ``runner train`` (tracking on, report.html on demand) vs
    the plain script, CPU including every process each starts (the project's MLflow pusher, a
    report), alternating; targets CPU <= 1.15x, foreground wall <= 1.05x.  Two shapes: a
    single run (the pusher starts, imports MLflow, pushes one run and exits after its linger)
    and a burst of ``--burst`` runs back to back (one pusher pushes them all), per run."""
    import _whole

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as cwd:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAMPAI_TRACKING", "KAMPAI_REPORT"))}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(cwd, "pycache")
        single_env = {**env, "KAMPAI_TRACKING__LINGER": str(args.linger)}  # idle waiting is not CPU
        script = Path(cwd) / "plain.py"
        script.write_text(PLAIN)
        base = [runner, "train", "--task", "classification", "--data", f"sklearn:{args.dataset}",
                "--model", "RandomForestClassifier", "-q", f"model.params.n_estimators={args.trees}",
                "model.preprocess.cat=null"]
        plain = [sys.executable, str(script), args.dataset, str(args.trees), "out"]
        cmds = {"plain scikit-learn script": plain,
                "runner train (default: tracking on, report on demand)": base,
                "runner train --no-track": [*base, "--no-track"],
                "runner train, report.after_train=background (the old default)":
                    [*base, "report.after_train=background"]}
        for cmd in cmds.values():
            _whole.run(cmd, cwd, single_env)  # warm caches (files, bytecode, the MLflow store)
        rows = {name: _whole.Series() for name in cmds}
        loads = [_whole.load()]
        for _ in range(args.runs):
            for name, cmd in cmds.items():
                rows[name].samples.append(_whole.run(cmd, cwd, single_env))
            loads.append(_whole.load())
        bursts = {name: _whole.Series() for name in list(cmds)[:3]}
        burst_loads = [_whole.load()]
        for _ in range(args.burst_rounds if args.burst else 0):
            for name in bursts:
                bursts[name].samples.append(_whole.burst([cmds[name]] * args.burst, cwd, env))
            burst_loads.append(_whole.load())
    print(f"RandomForestClassifier({args.trees}) on sklearn:{args.dataset}, {os.cpu_count()} CPUs")
    print(f"\nSingle run: {args.runs} alternating rounds (pusher linger {args.linger:g} s); "
          f"load average {' -> '.join(loads)}")
    _print_rows(rows, 1)
    if args.burst:
        print(f"\nBurst of {args.burst} runs back to back, per run: {args.burst_rounds} alternating rounds "
              f"(default linger); load average {' -> '.join(burst_loads)}")
        _print_rows(bursts, args.burst)


def _print_rows(rows: dict[str, Any], per: int) -> None:
    plain = rows["plain scikit-learn script"]
    print("| command | wall s | CPU s (foreground) | CPU s (all processes) | settle s | wall ratio | CPU ratio (all) |")
    print("|---|---|---|---|---|---|---|")
    for name, s in rows.items():
        wr = statistics.median(a.wall / b.wall for a, b in zip(s.samples, plain.samples, strict=True))
        cr = statistics.median(a.cpu_all / b.cpu_all for a, b in zip(s.samples, plain.samples, strict=True))
        print(f"| {name} | {s.median('wall') / per:.2f} | {s.median('cpu_fg') / per:.2f} | "
              f"{s.median('cpu_all') / per:.2f} | {s.median('settle'):.2f} | {wr:.3f} | {cr:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--dataset", default="breast_cancer", choices=["breast_cancer", "iris", "wine", "digits"])
    parser.add_argument("--in-process", action="store_true", help="also time both inside one process")
    parser.add_argument("--track", action="store_true",
                        help="leave installed tracker plugins on (default: --no-track, like the plain script)")
    parser.add_argument("--whole", action="store_true", help="issue 27 target 1: tracking on, CPU of every "
                        "process incl. the background push (see _whole.py)")
    parser.add_argument("--burst", type=int, default=10, help="--whole: also N runs back to back (0: none)")
    parser.add_argument("--burst-rounds", type=int, default=2, help="--whole: alternating bursts of each")
    parser.add_argument("--linger", type=float, default=5.0, help="--whole single runs: the pusher's linger "
                        "(s; idle waiting costs no CPU, only settle time); bursts use the default")
    args = parser.parse_args()
    runner = str(Path(sys.executable).with_name("runner"))
    if args.whole:
        whole(args, runner)
        return
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as cwd:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached for both, as after pip install
        env["PYTHONPYCACHEPREFIX"] = os.path.join(cwd, "pycache")
        script = Path(cwd) / "plain.py"
        script.write_text(PLAIN)
        plain = [sys.executable, str(script), args.dataset, str(args.trees), "plain-out"]
        kampai = [runner, "train", "--task", "classification", "--data", f"sklearn:{args.dataset}",
                  "--model", "RandomForestClassifier", "-q", f"model.params.n_estimators={args.trees}",
                  "model.preprocess.cat=null"]  # numeric data: the same single imputer+scaler group
        if not args.track:
            kampai.append("--no-track")
        wall(plain, cwd, env), wall(kampai, cwd, env)  # warm caches (files, bytecode, estimator index)
        plain_t, kampai_t = [], []
        for _ in range(args.runs):  # interleaved, so load changes hit both alike
            plain_t.append(wall(plain, cwd, env, "plain"))
            kampai_t.append(wall(kampai, cwd, env, "kampai"))
    p, k = statistics.median(plain_t), statistics.median(kampai_t)
    print(f"RandomForestClassifier(n_estimators={args.trees}) on sklearn:{args.dataset}, "
          f"median of {args.runs} fresh processes each ({os.cpu_count()} CPUs)\n")
    pc, kc = statistics.median(CPU["plain"]), statistics.median(CPU["kampai"])
    print(f"{'':<26}{'median':>10}{'min':>10}{'max':>10}{'CPU median':>12}")
    print(f"{'plain scikit-learn script':<26}{p:>9.3f}s{min(plain_t):>9.3f}s{max(plain_t):>9.3f}s{pc:>11.3f}s")
    print(f"{'runner train':<26}{k:>9.3f}s{min(kampai_t):>9.3f}s{max(kampai_t):>9.3f}s{kc:>11.3f}s")
    print(f"\nratio runner/plain: {k / p:.3f} (median), {min(kampai_t) / min(plain_t):.3f} (best of each); "
          f"overhead {k - p:+.3f} s")
    print(f"CPU-time ratio runner/plain: {kc / pc:.3f} (median; steadier on a busy machine)")
    print(f"load average during the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"target <= {TARGET}: {'OK' if k / p <= TARGET else 'OVER TARGET'}")
    if args.in_process:
        in_process(args.dataset, args.trees, args.runs)


if __name__ == "__main__":
    main()
