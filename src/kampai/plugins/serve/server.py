"""The FastAPI app of ``runner serve``: endpoints, auth, limits, micro-batching, metrics,
access log and ``--follow``; everything typed from the run's signature.

Its parts: :mod:`.guard` (token, limits, 500s, access log), :mod:`.batching`,
:mod:`.prometheus` (``/metrics``), :mod:`.schemas` (typed request models, OpenAPI).

The event loop only moves bytes and does bounded work: reading a body (stopped at the byte
limit); parsing it and checking it against the signature run in a bounded worker pool
(:data:`PARSE_THREADS`) unless the body is small (:data:`INLINE_BYTES`: tens of microseconds,
less than the hop to a thread); the model runs in another thread unless its row-path call is
cheaper than the hop (:func:`.batching.inline`).  So no request, however hostile, keeps
``/ping`` waiting."""

# no `from __future__ import annotations`: FastAPI reads the endpoint annotations at runtime

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kampai.plugin.runs import RUNS_DIR
from kampai.plugins.serve.batching import Batcher, inline
from kampai.plugins.serve.guard import Guard, error_body, log_event
from kampai.plugins.serve.model import ROW_KINDS, WARNINGS, RequestError, Rows, ServedModel
from kampai.plugins.serve.payloads import Limits, parse_invocation, parse_predict
from kampai.plugins.serve.prometheus import Metrics
from kampai.plugins.serve.rows import Columns
from kampai.plugins.serve.schemas import document_predict, invocation_schema, request_model

log = logging.getLogger("kampai.serve.access")
# requests parsed and checked at once (each holds a body of up to --max-body-bytes); the
# others wait for a thread, the event loop does not
PARSE_THREADS = max(2, min(8, os.cpu_count() or 2))
#: a body up to this size is parsed and checked on the event loop: bounded work (tens of
#: microseconds for a few rows) that costs less than the hop to a worker thread and back
INLINE_BYTES = 4096
MIN_COLUMNS = 256  # --max-columns by default: twice the model's inputs, at least this


def default_max_columns(inputs: int) -> int:
    """``--max-columns`` when not given: twice the model's input columns, at least 256."""
    return max(2 * inputs, MIN_COLUMNS)


@dataclass
class ServeOptions:
    ref: str
    runs_dir: str = RUNS_DIR
    auth_token: str | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    max_rows: int = 100_000
    max_columns: int | None = None  # None: default_max_columns(the model's inputs)
    max_batch_size: int = 64
    max_latency_ms: float = 2.0
    batching: bool = True
    follow: bool = False
    poll_seconds: float = 10.0
    access_log: bool = True

    def to_env(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_env(cls) -> "ServeOptions":
        return cls(**json.loads(os.environ["KAMPAI_SERVE_OPTIONS"]))


class State:
    def __init__(self, options: ServeOptions, model: ServedModel) -> None:
        self.options, self.model = options, model
        self.metrics = Metrics()
        self.metrics.serving(model)
        self.batcher = Batcher(self, options.max_batch_size, options.max_latency_ms)
        self.parsing = 0  # predict requests read or parsed right now (the batcher waits for them)
        self._limiter: Any = None

    @property
    def limits(self) -> Limits:
        """Rows and columns one request may hold (the columns follow the model: --follow)."""
        return Limits(self.options.max_rows,
                      self.options.max_columns or default_max_columns(len(self.model.inputs)))

    async def offload(self, work: Callable[..., Any], body: bytes, *args: Any) -> Any:
        """``work(body, *args)`` in the bounded parsing pool: CPU work on a client's bytes
        never runs on the event loop, and at most :data:`PARSE_THREADS` such jobs run at
        once; a body of at most :data:`INLINE_BYTES` is worked on at once, on the loop."""
        import anyio

        if len(body) <= INLINE_BYTES:
            return work(body, *args)

        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(PARSE_THREADS)
        return await anyio.to_thread.run_sync(work, body, *args, limiter=self._limiter)

    def prepare(self, model: ServedModel, rows: Rows | None, horizon: int | None, options: dict[str, Any],
                status: int = 400) -> tuple[Any, bool]:
        """``(frame, batchable)`` of a parsed request: its rows checked against the
        signature (``status`` for a mistake).  Runs in the parsing pool."""
        if model.kind in ROW_KINDS and rows is not None:
            if model.row_path is not None and not options and horizon is None:
                return model.check_columns(rows, status), True  # the row path: no DataFrame
            return model.check_rows(rows, status), not options and horizon is None
        if model.ahead:
            return model.history_frame(None if rows is None else rows.records()), False
        return (None if rows is None else rows.to_frame()), False

    async def predict_json(self, model: ServedModel, frame: Any, batchable: bool, horizon: int | None,
                           options: dict[str, Any]) -> str:
        """The predictions of one prepared request as a JSON array of records."""
        if batchable:
            if self.options.batching:
                return await self.batcher.submit(frame)
            if inline(model, [frame]):
                text = model.predict_json(frame)
            else:
                text = await asyncio.to_thread(model.predict_json, frame)
            self.metrics.batch(len(frame))
            return text
        return await asyncio.to_thread(model.predict_json, frame, horizon, options)

    async def follow(self) -> None:
        """``--follow``: reload when the reference resolves to another run; the new model is
        loaded and warmed up before the swap, so no request fails."""
        while True:
            await asyncio.sleep(self.options.poll_seconds)
            try:
                fresh = await asyncio.to_thread(ServedModel.load, self.options.ref, self.options.runs_dir)
                if str(fresh.run.run_dir) == str(self.model.run.run_dir):
                    continue
                await asyncio.to_thread(fresh.warm_up)
            except Exception as exc:  # keep serving the old one
                log_event({"event": "follow_failed", "ref": self.options.ref, "error": str(exc)})
                continue
            old = self.model
            self.model = fresh
            self.metrics.serving(fresh)
            self.metrics.reloads.inc()
            log_event({"event": "model_reloaded", "ref": self.options.ref, "from": old.run.run_id,
                  "to": fresh.run.run_id, "version": fresh.version})
            del old
            _freeze_startup_objects(again=True)  # the old model was frozen: let it go


def _freeze_startup_objects(again: bool = False) -> None:
    """Collect once, then move everything alive (modules, the model) out of the garbage
    collector's reach: the first full collection after start would otherwise walk them
    all (about 150 ms on a busy 2-core machine) on the event loop in the middle of some
    request.  ``again`` (a ``--follow`` reload): unfreeze first, so the old model goes."""
    import gc

    if again:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


# --------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------


def create_app(options: ServeOptions, model: "ServedModel | None" = None) -> Any:
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response

    model = model or ServedModel.load(options.ref, options.runs_dir)
    if not model.warm:
        model.warm_up()
    state = State(options, model)
    Predict = request_model(model)

    @asynccontextmanager
    async def lifespan(app: Any):
        _freeze_startup_objects()
        follower = asyncio.get_running_loop().create_task(state.follow()) if options.follow else None
        yield
        if follower is not None:
            follower.cancel()

    sig = model.signature
    app = FastAPI(title=f"kampai: {model.run.run_id}", version="1",
                  description=f"{sig.get('task')} model ({sig.get('framework')}) served by kampai; "
                              f"inputs from the run signature.", lifespan=lifespan)
    app.state.kampai = state

    def error(status: int, message: str, field: str | None = None) -> Any:
        return JSONResponse(error_body(status, message, field), status_code=status)

    app.add_middleware(Guard, state=state)

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> Any:
        return error(exc.status, str(exc), exc.field)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Any:
        first = exc.errors()[0]
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        if first.get("type") == "json_invalid":
            return error(400, f"Malformed JSON: {first.get('msg')}.", "body")
        where = ".".join(loc) or "body"
        return error(422, f"{where}: {first.get('msg')}" + (f" (got {first['input']!r})" if "input" in first
                                                            and first.get("type") != "missing" else ""), where)

    async def body_of(request: Request) -> bytes:
        """The body, read in chunks and refused as soon as it passes the limit (a chunked
        body has no Content-Length for the guard to check)."""
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > options.max_body_bytes:
                raise RequestError(f"The body is over the {options.max_body_bytes}-byte limit.", 413, "body")
            chunks.append(chunk)
        return b"".join(chunks)

    @app.get("/ping")
    @app.get("/health")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> Any:
        ok = state.model.warm
        return JSONResponse({"ready": ok, "run_id": state.model.run.run_id}, status_code=200 if ok else 503)

    @app.get("/version")
    async def version() -> dict[str, Any]:
        from importlib.metadata import version as dist_version

        return {"kampai": dist_version("kampai"), "run_id": state.model.run.run_id,
                "model_version": state.model.version, "packages": state.model.signature.get("packages", {})}

    @app.get("/metadata")
    async def metadata() -> dict[str, Any]:
        return state.model.metadata()

    @app.get("/metrics")
    async def metrics() -> Any:
        return Response(state.metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.post("/invocations", summary="MLflow scoring protocol",
              openapi_extra={"requestBody": {"content": {
                  "application/json": {"schema": invocation_schema(model)},
                  "text/csv": {"schema": {"type": "string"}}}, "required": True}})
    async def invocations(request: Request) -> Any:
        model = state.model
        state.parsing += 1
        try:
            body = await body_of(request)
            frame, batchable, horizon, params = await state.offload(
                _invocation, body, state, model, request.headers.get("content-type", ""))
        finally:
            state.parsing -= 1
        headers = _warning_headers(frame)
        text = await state.predict_json(model, frame, batchable, horizon, params)
        return Response('{"predictions": ' + text + "}", media_type="application/json", headers=headers)

    @app.post("/predict", summary="Predict (typed from the run signature)",
              openapi_extra={"requestBody": {"content": {"application/json": {
                  "schema": {"$ref": "#/components/schemas/PredictRequest"}}}, "required": True}})
    async def predict(request: Request) -> Any:
        model = state.model
        state.parsing += 1
        try:
            body = await body_of(request)
            frame, batchable, horizon, options = await state.offload(_predict_request, body, state, model)
        finally:
            state.parsing -= 1
        headers = _warning_headers(frame)
        text = await state.predict_json(model, frame, batchable, horizon, options)
        return Response('{"predictions": ' + text + ', "run_id": ' + json.dumps(model.run.run_id)
                        + ', "classes": ' + json.dumps(model.signature.get("classes")) + "}",
                        media_type="application/json", headers=headers)

    document_predict(app, Predict)
    return app


def _warning_headers(frame: Any) -> dict[str, str] | None:
    """The request's warning lines (unknown categories, accepted) as one ``X-Kampai-Warning``
    header, ASCII and one line whatever the client sent; taken off the frame before it is
    batched with others."""
    if isinstance(frame, Columns):
        lines = frame.warnings
    else:
        lines = frame.attrs.pop(WARNINGS, None) if hasattr(frame, "attrs") else None
    if not lines:
        return None
    text = " | ".join(lines).encode("ascii", "backslashreplace").decode("ascii")
    return {"X-Kampai-Warning": text.replace("\r", " ").replace("\n", " ")[:2000]}


def _invocation(body: bytes, state: State, model: ServedModel, content_type: str) -> tuple:
    """Parse and check one ``/invocations`` body (in the parsing pool)."""
    rows, params = parse_invocation(body, content_type, model.names, state.limits)
    params = dict(params)
    horizon = params.pop("horizon", None)
    return (*state.prepare(model, rows, horizon, params), horizon, params)


def _predict_request(body: bytes, state: State, model: ServedModel) -> tuple:
    """Parse and check one ``/predict`` body (in the parsing pool): the envelope as its
    schema says, the rows by the same rule as ``/invocations`` (422 here)."""
    rows, horizon, options = parse_predict(body, model.kind in ROW_KINDS and bool(model.inputs)
                                           and not model.takes_options, model.ahead, state.limits)
    return (*state.prepare(model, rows, horizon, options, status=422), horizon, options)


def app_from_env() -> Any:
    """The uvicorn factory for ``--workers N`` (each worker loads the model itself)."""
    return create_app(ServeOptions.from_env())
