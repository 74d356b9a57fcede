"""What tracking costs the user: `runner train -c conf/experiments/iris.yaml` with the
default tracking (MLflow, embedded store, pushed in the background) vs `--no-track` vs
`--track-foreground`, interleaved, medians of N fresh processes (goal: default within 10%
of --no-track).

    .venv/bin/python benchmarks/tracking_cost.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _timing import CPU, wall

ROOT = Path(__file__).resolve().parents[1]
RUNNER = str(Path(sys.executable).with_name("runner"))
MODES = {"--no-track": ["--no-track"], "default (background)": [], "--track-foreground": ["--track-foreground"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items()
               if k not in ("KAMPAI_TRACKING__ENABLED", "KAMPAI_TRACKING__BACKGROUND")}
        config = str(ROOT / "conf" / "experiments" / "iris.yaml")
        wall([RUNNER, "train", "-c", config, "--no-track", "-q"], tmp, env, "warm-up")  # estimator index cache
        for _ in range(args.runs):
            for mode, flags in MODES.items():
                times[mode].append(wall([RUNNER, "train", "-c", config, "-q", *flags], tmp, env, mode))
                time.sleep(2.0 if not flags else 0.2)  # let a background push finish before the next one
    base = statistics.median(times["--no-track"])
    print(f"runner train -c conf/experiments/iris.yaml, median of {args.runs} (wall s, CPU s of the command)")
    for mode in MODES:
        median = statistics.median(times[mode])
        print(f"  {mode:22s} {median:6.2f} s  cpu {statistics.median(CPU[mode]):5.2f} s  ratio {median / base:5.2f}")


if __name__ == "__main__":
    main()
