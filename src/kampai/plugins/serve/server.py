"""The FastAPI app of ``runner serve``: endpoints, auth, limits, micro-batching, metrics,
access log and ``--follow``; everything typed from the run's signature.

The event loop only moves bytes: reading a body (stopped at the byte limit), parsing it and
checking it against the signature run in a bounded worker pool (:data:`PARSE_THREADS`),
the model in another thread, so no request, however hostile, keeps ``/ping`` waiting."""

# no `from __future__ import annotations`: FastAPI reads the endpoint annotations at runtime

import asyncio
import hmac
import json
import logging
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from kampai.plugin.runs import RUNS_DIR
from kampai.plugins.serve.model import ROW_KINDS, WARNINGS, RequestError, Rows, ServedModel, json_type
from kampai.plugins.serve.payloads import MAX_HORIZON, Limits, parse_invocation, parse_predict

log = logging.getLogger("kampai.serve.access")
OPEN_PATHS = ("/ping", "/health")  # liveness probes need no token
PREDICT_PATHS = ("/invocations", "/predict")
# requests parsed and checked at once (each holds a body of up to --max-body-bytes); the
# others wait for a thread, the event loop does not
PARSE_THREADS = max(2, min(8, os.cpu_count() or 2))
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


class Batcher:
    """Concurrent row requests (same kind, no options) become one model call.

    Requests queue while the model is busy, and the next call takes all of them (up to
    ``max_batch_size`` rows): no wait at all when a request is alone (concurrency 1).  The
    batch waits at most ``max_latency_ms`` more only while other requests are still being
    read and parsed.  Each request gets its own rows back as JSON text."""

    def __init__(self, state: "State", max_size: int, max_latency_ms: float) -> None:
        self.state, self.max_size, self.max_wait = state, max_size, max_latency_ms / 1000
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None

    async def submit(self, frame: Any) -> str:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._loop())
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((frame, future))
        return await future

    def _drain(self, items: list, rows: int) -> int:
        while rows < self.max_size and not self.queue.empty():
            item = self.queue.get_nowait()
            items.append(item)
            rows += len(item[0])
        return rows

    async def _collect(self) -> list:
        items = [await self.queue.get()]
        rows = self._drain(items, len(items[0][0]))
        if rows < self.max_size and self.state.parsing > 0:
            deadline = time.perf_counter() + self.max_wait
            while rows < self.max_size and self.state.parsing > 0:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), left)
                except TimeoutError:
                    break
                items.append(item)
                rows = self._drain(items, rows + len(item[0]))
        return items

    async def _loop(self) -> None:
        while True:
            items = await self._collect()
            model = self.state.model
            try:
                texts = await asyncio.to_thread(_predict_parts, model, [f for f, _ in items])
                self.state.metrics.batch(sum(len(f) for f, _ in items))
                for (_, future), text in zip(items, texts, strict=True):
                    if not future.done():
                        future.set_result(text)
            except Exception as exc:
                if len(items) > 1 and isinstance(exc, RequestError):  # find whose rows broke it
                    for part, future in items:
                        try:
                            future.set_result(await asyncio.to_thread(model.predict_json, part))
                        except Exception as one:
                            future.set_exception(one)
                    continue
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)


def _predict_parts(model: ServedModel, frames: list[Any]) -> list[str]:
    """One model call for several requests' frames; each request's rows back as JSON text
    (in a worker thread: concatenating and splitting cost as much as the rows)."""
    if len(frames) == 1:
        return [model.predict_json(frames[0])]
    import pandas as pd

    rows, start, texts = json.loads(model.predict_json(pd.concat(frames, ignore_index=True))), 0, []
    for part in frames:
        texts.append(json.dumps(rows[start:start + len(part)]))
        start += len(part)
    return texts


class Metrics:
    """Prometheus metrics through ``prometheus_client`` (its own registry per app)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("kampai_requests", "HTTP requests by path and status", ["path", "status"],
                                registry=self.registry)
        self.latency = Histogram("kampai_request_latency_seconds", "Request latency", ["path"],
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10),
                                 registry=self.registry)
        self.batches = Histogram("kampai_batch_size", "Rows per model call",
                                 buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=self.registry)
        self.model = Gauge("kampai_model_info", "The model being served", ["run_id", "version"],
                           registry=self.registry)
        self.reloads = Counter("kampai_model_reloads", "Models swapped in by --follow", registry=self.registry)
        self.in_flight = Gauge("kampai_predictions_in_flight", "Prediction requests being answered",
                               registry=self.registry)

    def batch(self, size: int) -> None:
        self.batches.observe(size)

    def serving(self, model: ServedModel) -> None:
        self.model.clear()
        self.model.labels(run_id=model.run.run_id, version=str(model.version or "")).set(1)

    def text(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


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

    async def offload(self, work: Callable[..., Any], *args: Any) -> Any:
        """``work(*args)`` in the bounded parsing pool: CPU work on a client's bytes never
        runs on the event loop, and at most :data:`PARSE_THREADS` such jobs run at once."""
        import anyio

        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(PARSE_THREADS)
        return await anyio.to_thread.run_sync(work, *args, limiter=self._limiter)

    def prepare(self, model: ServedModel, rows: Rows | None, horizon: int | None, options: dict[str, Any],
                status: int = 400) -> tuple[Any, bool]:
        """``(frame, batchable)`` of a parsed request: its rows checked against the
        signature (``status`` for a mistake).  Runs in the parsing pool."""
        if model.kind in ROW_KINDS and rows is not None:
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
                _log({"event": "follow_failed", "ref": self.options.ref, "error": str(exc)})
                continue
            old = self.model
            self.model = fresh
            self.metrics.serving(fresh)
            self.metrics.reloads.inc()
            _log({"event": "model_reloaded", "ref": self.options.ref, "from": old.run.run_id,
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


def _log(record: dict[str, Any]) -> None:
    sys.stderr.write(json.dumps(record, default=str) + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------------------
# Typed request models from the signature
# --------------------------------------------------------------------------------------


def record_model(model: ServedModel) -> Any:
    """The documented type of one row (OpenAPI): what :meth:`ServedModel.check_rows` accepts."""
    from typing import Annotated

    from pydantic import ConfigDict, Field, create_model

    fields: dict[str, Any] = {}
    for col in model.inputs:
        kind = json_type(col.get("dtype", "object"))
        typ: Any = {"integer": int, "number": float, "boolean": bool}.get(kind, str)
        if kind == "integer":  # the column's dtype range: values outside it are a 400
            import numpy as np

            info = np.iinfo(str(col.get("dtype")))
            typ = Annotated[int, Field(ge=int(info.min), le=int(info.max))]
        if col.get("categories"):
            typ = Literal[tuple(col["categories"])]  # type: ignore[valid-type]
        if col.get("nullable"):
            typ = typ | None
        fields[_field_name(col["name"])] = (typ, Field(..., alias=col["name"],
                                                       description=str(col.get("dtype", "object"))))
    return create_model("Record", __config__=ConfigDict(extra="forbid", populate_by_name=False, strict=True),
                        **fields)


def _field_name(name: str) -> str:
    safe = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return f"f_{safe}" if not safe or safe[0].isdigit() or safe.startswith("_") else safe


def request_model(model: ServedModel) -> Any:
    from pydantic import ConfigDict, Field, create_model

    extra: dict[str, Any] = {}
    if model.kind in ROW_KINDS and model.inputs:
        row = record_model(model)
        required = not model.takes_options
        extra["records"] = (list[row] if required else list[row] | None,  # type: ignore[valid-type]
                            Field(... if required else None, min_length=1 if required else None,
                                  description="rows of the model's inputs"))
    else:
        extra["records"] = (list[dict[str, Any]] | None, Field(None, description="forecasting: new history "
                                                               "rows (time, targets, series id, covariates)"))
    if model.ahead:
        extra["horizon"] = (int | None, Field(None, ge=1, le=MAX_HORIZON, description="steps ahead"))
    extra["options"] = (dict[str, Any], Field(default_factory=dict, description="the task's predict options "
                                              "(e.g. k, users)"))
    return create_model("PredictRequest", __config__=ConfigDict(extra="forbid"), **extra)


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
        return JSONResponse(_error_body(status, message, field), status_code=status)

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
                  "application/json": {"schema": _invocation_schema(model)},
                  "text/csv": {"schema": {"type": "string"}}}, "required": True}})
    async def invocations(request: Request) -> Any:
        model = state.model
        state.parsing += 1
        try:
            body = await body_of(request)
            frame, batchable, horizon, params = await state.offload(
                _invocation, state, model, body, request.headers.get("content-type", ""))
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
            frame, batchable, horizon, options = await state.offload(_predict_request, state, model, body)
        finally:
            state.parsing -= 1
        headers = _warning_headers(frame)
        text = await state.predict_json(model, frame, batchable, horizon, options)
        return Response('{"predictions": ' + text + ', "run_id": ' + json.dumps(model.run.run_id)
                        + ', "classes": ' + json.dumps(model.signature.get("classes")) + "}",
                        media_type="application/json", headers=headers)

    _document_predict(app, Predict)
    return app


def _warning_headers(frame: Any) -> dict[str, str] | None:
    """The request's warning lines (unknown categories, accepted) as one ``X-Kampai-Warning``
    header, ASCII and one line whatever the client sent; taken off the frame before it is
    batched with others."""
    lines = frame.attrs.pop(WARNINGS, None) if hasattr(frame, "attrs") else None
    if not lines:
        return None
    text = " | ".join(lines).encode("ascii", "backslashreplace").decode("ascii")
    return {"X-Kampai-Warning": text.replace("\r", " ").replace("\n", " ")[:2000]}


def _invocation(state: State, model: ServedModel, body: bytes, content_type: str) -> tuple:
    """Parse and check one ``/invocations`` body (in the parsing pool)."""
    rows, params = parse_invocation(body, content_type, model.names, state.limits)
    params = dict(params)
    horizon = params.pop("horizon", None)
    return (*state.prepare(model, rows, horizon, params), horizon, params)


def _predict_request(state: State, model: ServedModel, body: bytes) -> tuple:
    """Parse and check one ``/predict`` body (in the parsing pool): the envelope as its
    schema says, the rows by the same rule as ``/invocations`` (422 here)."""
    rows, horizon, options = parse_predict(body, model.kind in ROW_KINDS and bool(model.inputs)
                                           and not model.takes_options, model.ahead, state.limits)
    return (*state.prepare(model, rows, horizon, options, status=422), horizon, options)


def _document_predict(app: Any, predict_model: Any) -> None:
    """``/predict`` reads its body itself (off the event loop, strict types); its request
    schema, generated from the signature, still goes into ``/openapi.json``."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            schema = predict_model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(schema.pop("$defs", {}))
            schemas["PredictRequest"] = schema
        return app.openapi_schema

    app.openapi = openapi


def _invocation_schema(model: ServedModel) -> dict[str, Any]:
    props = {}
    for col in model.inputs:
        prop: dict[str, Any] = {"type": json_type(col.get("dtype", "object"))}
        if col.get("categories"):
            prop["enum"] = col["categories"]
        props[col["name"]] = prop
    record = {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
    return {"type": "object", "description": "exactly one of dataframe_split, dataframe_records, instances, "
            "inputs; optional params (horizon, the task's predict options)",
            "properties": {
                "dataframe_split": {"type": "object", "properties": {
                    "columns": {"type": "array", "items": {"type": "string", "enum": list(props) or None}},
                    "data": {"type": "array", "items": {"type": "array"}}}},
                "dataframe_records": {"type": "array", "items": record},
                "instances": {"type": "array", "items": record},
                "inputs": {"oneOf": [{"type": "array", "items": record}, {"type": "object"}]},
                "params": {"type": "object"}},
            "example": {"dataframe_records": model.example_records()} if model.inputs else {"params": {}}}


def _error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error_code": "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR", "message": message,
            "field": field}


KNOWN_PATHS = frozenset({"/invocations", "/predict", "/ping", "/health", "/ready", "/metadata", "/version",
                         "/metrics", "/docs", "/openapi.json"})


class Guard:
    """A plain ASGI middleware (cheaper than Starlette's ``BaseHTTPMiddleware``): the bearer
    token, the body limit by ``Content-Length``, a 500 for a server fault (a generic message
    and an id; the traceback goes to the server's log, never to the client; the server keeps
    serving), and per request the metrics and one access-log line."""

    def __init__(self, app: Any, state: State) -> None:
        self.app, self.state = app, state
        token = state.options.auth_token
        self.expected = f"Bearer {token}".encode() if token else None
        self.limit = state.options.max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        path = scope["path"]
        status = [0]
        headers = dict(scope["headers"])
        if self.expected is not None and path not in OPEN_PATHS and not hmac.compare_digest(
                headers.get(b"authorization", b""), self.expected):
            await _send_error(send, status, 401, "Missing or wrong bearer token: send 'Authorization: Bearer TOKEN'.",
                              "Authorization", [(b"www-authenticate", b"Bearer")])
            return self._done(scope, status[0], start)
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await _send_error(send, status, 413, f"The body is over the {self.limit}-byte limit.", "body")
            return self._done(scope, status[0], start)

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        predicting = path in PREDICT_PATHS
        if predicting:
            self.state.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, sending)
        except Exception:  # a server fault: logged here, a 500 without its text there
            error_id = uuid.uuid4().hex[:12]
            _log({"event": "internal_error", "id": error_id, "method": scope.get("method"), "path": path,
                  "traceback": traceback.format_exc()})
            if not status[0]:
                await _send_error(send, status, 500, f"Internal error (id {error_id}): the server's log "
                                  "has the details.")
            else:
                status[0] = 500
        finally:
            if predicting:
                self.state.metrics.in_flight.dec()
        self._done(scope, status[0], start)

    def _done(self, scope: dict, status: int, start: float) -> None:
        state = self.state
        seconds = time.perf_counter() - start
        path = scope["path"]
        known = path if path in KNOWN_PATHS else "other"
        state.metrics.requests.labels(path=known, status=str(status)).inc()
        state.metrics.latency.labels(path=known).observe(seconds)
        if state.options.access_log:
            client = scope.get("client")
            _log({"ts": round(time.time(), 3), "method": scope.get("method"), "path": path, "status": status,
                  "ms": round(seconds * 1000, 2), "client": client[0] if client else None,
                  "run_id": state.model.run.run_id})


async def _send_error(send: Any, status: list, code: int, message: str, field: str | None = None,
                      extra: list | None = None) -> None:
    body = json.dumps(_error_body(code, message, field)).encode()
    status[0] = code
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


def app_from_env() -> Any:
    """The uvicorn factory for ``--workers N`` (each worker loads the model itself)."""
    return create_app(ServeOptions.from_env())
