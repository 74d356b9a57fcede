"""Server-side cost of one ``/invocations`` request in ``runner serve``, without HTTP: the
body parsed, checked against the signature, predicted and written as JSON, in this process
(what the server does off the event loop), CPU per request; ``--profile`` adds a profile.

    runner train --task classification --data sklearn:breast_cancer --model RandomForestClassifier \\
        --serializer onnx --no-track --no-report
    .venv/bin/python benchmarks/serve_request_cost.py runs/RUN_FOLDER [--rows 1] [--n 500] [--profile]

Issue 27 target 5 asks for <= 1 ms server-side on the ONNX path for one row.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    from kampai.plugins.serve.model import ServedModel
    from kampai.plugins.serve.server import ServeOptions, State, _invocation

    run = str(Path(args.run).resolve())
    model = ServedModel.load(run, str(Path(run).parent))
    model.warm_up()
    state = State(ServeOptions(ref=run), model)
    records = (model.example_records() * args.rows)[:args.rows]
    body = json.dumps({"dataframe_records": records}).encode()

    def one() -> str:
        frame, _batchable, horizon, params = _invocation(state, model, body, "application/json")
        return model.predict_json(frame, horizon, params)

    for _ in range(50):
        one()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.n):
        one()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{args.rows} row(s), {args.n} requests: {1000 * wall / args.n:.3f} ms wall, "
          f"{1000 * cpu / args.n:.3f} ms CPU per request; load {os.getloadavg()[0]:.1f}")
    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(200):
            one()
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
