"""Per-trial overhead of tuning on a Ray cluster (`runner tune --ray`) vs local workers
(`runner tune --jobs`), on the same study (target: Ray <= 1.10x local for trials >= 1 s).

The study: iris, 2 stratified folds, a DecisionTree whose preprocessing sleeps
``--seconds`` per fold (a trial of about ``2 * seconds``: the same work on any machine,
whatever the load), ``--trials`` trials, ``--jobs`` workers.  Each pair runs local then
Ray (alternated), each on a fresh SQLite study.  Reported:

- *per trial*: the span from the first trial's start to the last trial's end (read from the
  study), times the workers, over the trials: what each trial costs once workers run;
- *wall*: the whole command (Python start, data, study, workers' start, report).

The Ray cluster is $KAMPAI_TEST_RAY (`eval "$(.ci/ray.sh start)"`), else one started
here with .ci/ray.sh (head + 1 worker node) and stopped after.

    .venv/bin/python benchmarks/ray_tune_overhead.py [--trials 16] [--jobs 2] [--seconds 0.5] [--pairs 2]
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
TARGET = 1.10
CONFIG = """
name: bench
task: classification
data: {path: "sklearn:iris"}
split: {method: stratified_kfold, folds: 2}
model:
  estimator: DecisionTreeClassifier
  preprocess:
    num: {steps: {slow: {class: "tune_helpers:SlowIdentity", seconds: SECONDS}}}
  search:
    max_depth: {type: int, low: 1, high: 30}
    min_samples_leaf: {type: int, low: 1, high: 30}
tune: {cache: false, plots: false, sampler: random}
"""


def run_once(folder: Path, jobs: int, trials: int, ray: str | None) -> tuple[float, float]:
    """(per-trial seconds, wall seconds) of one study."""
    import optuna

    env = {**os.environ, "KAMPAI_BLOCK_PLUGINS": "mlflow",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    name = f"s{time.time_ns()}"
    cmd = [sys.executable, "-m", "kampai", "tune", "-c", "bench.yaml", "--trials", str(trials), "--jobs", str(jobs),
           "--study", name, "-q", *(["--ray", ray] if ray else [])]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=folder, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{folder / '.kampai' / 'optuna.db'}")
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    span = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
    return span * jobs / len(done), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    address = os.environ.get("KAMPAI_TEST_RAY")
    started = None
    if not address:
        state = Path(tempfile.mkdtemp(prefix="kampai-bench-ray-"))
        started = {**os.environ, "KAMPAI_RAY_DIR": str(state), "KAMPAI_RAY_PORT": "56579",
                   "RAY": str(Path(sys.executable).parent / "ray")}
        out = subprocess.run([str(ROOT / ".ci" / "ray.sh"), "start"], env=started, check=True, capture_output=True,
                             text=True)
        address = out.stdout.strip().splitlines()[-1].split("=", 1)[1]
    try:
        rows = {"local": [], "ray": []}
        for _ in range(args.pairs):
            for kind in ("local", "ray"):
                with tempfile.TemporaryDirectory() as tmp:
                    folder = Path(tmp)
                    (folder / "bench.yaml").write_text(CONFIG.replace("SECONDS", str(args.seconds)))
                    rows[kind].append(run_once(folder, args.jobs, args.trials, address if kind == "ray" else None))
    finally:
        if started is not None:
            subprocess.run([str(ROOT / ".ci" / "ray.sh"), "stop"], env=started, capture_output=True)
    best = {k: (min(r[0] for r in v), min(r[1] for r in v)) for k, v in rows.items()}
    print(f"{args.trials} trials of ~{2 * args.seconds:.1f} s, {args.jobs} workers, best of {args.pairs} "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(f"{'':8}{'per trial':>12}{'wall':>10}")
    for kind, (per, wall) in best.items():
        print(f"{kind:8}{per:>11.3f}s{wall:>9.1f}s")
    ratio = best["ray"][0] / best["local"][0]
    print(f"per-trial ratio ray/local: {ratio:.3f} (target <= {TARGET}); wall ratio "
          f"{best['ray'][1] / best['local'][1]:.2f}")


if __name__ == "__main__":
    main()
