"""Server-side cost of one request in ``runner serve``, in this process, without a socket:

* ``handler``: the body parsed, checked against the signature, predicted and written as
  JSON (what the endpoint does; the row path where the run has one);
* ``asgi``: the whole app called as uvicorn calls it (the guard, routing, the endpoint, the
  micro-batcher and its worker thread, the response), one request after another: the
  server-side latency of a request less the HTTP parsing (httptools, tens of microseconds).

Wall and CPU per request, median and p99 of the wall times; ``--profile`` adds a profile of
the handler.

    runner train --task classification --data sklearn:breast_cancer --model RandomForestClassifier \\
        --serializer onnx --no-track --no-report --runs-dir runs-onnx
    .venv/bin/python benchmarks/serve_request_cost.py runs-onnx/RUN_FOLDER [--rows 1] [--n 2000] [--profile]

Issue 27 target 5 asks for <= 1 ms server-side on the ONNX path for one row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any


def summary(label: str, walls: list[float], cpu: float) -> str:
    walls = sorted(walls)
    p99 = walls[min(len(walls) - 1, int(0.99 * len(walls)))]
    return (f"{label:8} p50 {1000 * statistics.median(walls):.3f} ms, p99 {1000 * p99:.3f} ms, "
            f"CPU {1000 * cpu / len(walls):.3f} ms per request")


async def asgi_requests(app: Any, body: bytes, n: int) -> list[float]:
    """``n`` POST /invocations through the ASGI app, one after another; wall time of each."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/invocations", "raw_path": b"/invocations", "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000)}
    walls = []
    sent: list[dict] = []
    delivered = [False]

    async def receive() -> dict:
        if delivered[0]:
            await asyncio.sleep(3600)
        delivered[0] = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    for _ in range(n):
        sent.clear()
        delivered[0] = False
        start = time.perf_counter()
        await app(dict(scope), receive, send)
        walls.append(time.perf_counter() - start)
        if sent[0]["status"] != 200:
            raise SystemExit(f"status {sent[0]['status']}: {sent[1]['body'][:300]!r}")
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    from kampai.plugins.serve.model import ServedModel
    from kampai.plugins.serve.server import ServeOptions, State, _invocation, create_app

    run = str(Path(args.run).resolve())
    model = ServedModel.load(run, str(Path(run).parent))
    model.warm_up()
    options = ServeOptions(ref=run, access_log=False)
    state = State(options, model)
    records = (model.example_records() * args.rows)[:args.rows]
    body = json.dumps({"dataframe_records": records}).encode()
    print(f"{run}: {args.rows} row(s), {len(body)}-byte body, row path: "
          f"{getattr(model, 'row_path', None) is not None}; load {os.getloadavg()[0]:.1f}")
    import inspect

    # the code before the row path took (state, model, body, content type)
    body_first = next(iter(inspect.signature(_invocation).parameters)) == "body"

    def one() -> str:
        call = (body, state, model) if body_first else (state, model, body)
        frame, _batchable, horizon, params = _invocation(*call, "application/json")
        return model.predict_json(frame, horizon, params)

    for _ in range(100):
        one()
    walls, cpu = [], time.process_time()
    for _ in range(args.n):
        start = time.perf_counter()
        one()
        walls.append(time.perf_counter() - start)
    print(summary("handler", walls, time.process_time() - cpu))

    app = create_app(options, model)

    async def whole() -> tuple[list[float], float]:
        async with app.router.lifespan_context(app):
            await asgi_requests(app, body, 100)
            cpu = time.process_time()
            walls = await asgi_requests(app, body, args.n)
            return walls, time.process_time() - cpu

    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    walls, cpu = runner(whole())
    print(summary("asgi", walls, cpu))
    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(500):
            one()
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
