"""The ASGI guard in front of ``runner serve``'s app: bearer token, body limit, a 500 that
keeps the traceback in the server's log, metrics and one access-log line per request."""

from __future__ import annotations

import hmac
import json
import sys
import time
import traceback
import uuid
from typing import Any

OPEN_PATHS = ("/ping", "/health")  # liveness probes need no token
PREDICT_PATHS = ("/invocations", "/predict")


def log_event(record: dict[str, Any]) -> None:
    sys.stderr.write(json.dumps(record, default=str) + "\n")
    sys.stderr.flush()


def error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error_code": "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR", "message": message,
            "field": field}


KNOWN_PATHS = frozenset({"/invocations", "/predict", "/ping", "/health", "/ready", "/metadata", "/version",
                         "/metrics", "/docs", "/openapi.json"})


class Guard:
    """A plain ASGI middleware (cheaper than Starlette's ``BaseHTTPMiddleware``): the bearer
    token, the body limit by ``Content-Length``, a 500 for a server fault (a generic message
    and an id; the traceback goes to the server's log, never to the client; the server keeps
    serving), and per request the metrics and one access-log line."""

    def __init__(self, app: Any, state: Any) -> None:
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
            log_event({"event": "internal_error", "id": error_id, "method": scope.get("method"), "path": path,
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
            log_event({"ts": round(time.time(), 3), "method": scope.get("method"), "path": path, "status": status,
                  "ms": round(seconds * 1000, 2), "client": client[0] if client else None,
                  "run_id": state.model.run.run_id})


async def _send_error(send: Any, status: list, code: int, message: str, field: str | None = None,
                      extra: list | None = None) -> None:
    body = json.dumps(error_body(code, message, field)).encode()
    status[0] = code
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
