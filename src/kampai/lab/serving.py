"""``kampai.serve``: ``runner serve`` in a background thread of this process, for notebooks
and tests; the same checks, app and uvicorn settings as the command."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from kampai.core.schema import RUNS_DIR
from kampai.lab._plugins import plugin_module

__all__ = ["Server", "serve"]


class Server:
    """A running model server: ``url``, ``run_id``, ``stop()``; also a context manager.
    Renders as a link in Jupyter."""

    def __init__(self, server: Any, thread: threading.Thread, url: str, run_id: str) -> None:
        self._server, self._thread = server, thread
        self.url, self.run_id = url, run_id

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (requests in flight finish) and free the port."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():  # a request that does not end: stop waiting for it
            self._server.force_exit = True
            self._thread.join(timeout)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<kampai server {self.run_id} at {self.url} ({'running' if self.running else 'stopped'})>"

    def _repr_html_(self) -> str:
        import html

        state = "running" if self.running else "stopped"
        return (f"<p>kampai server for <code>{html.escape(self.run_id)}</code> ({state}): "
                f"<a href='{html.escape(self.url)}/docs' target='_blank'>{html.escape(self.url)}</a> "
                "(POST /predict, /invocations; .stop() to end it)</p>")


def serve(run: Any, *, host: str = "127.0.0.1", port: int = 0, auth_token: str | None = None,
          no_auth: bool = False, runs_dir: str | Path = RUNS_DIR, max_batch_size: int = 64,
          max_latency_ms: float = 2.0, batching: bool = True, max_body_bytes: int = 10 * 1024 * 1024,
          max_rows: int = 100_000, max_columns: int | None = None, follow: bool = False,
          poll_seconds: float = 10.0, access_log: bool = False, timeout: float = 30.0) -> Server:
    """Serve a run (a run object, its folder, a run id or ``NAME@stage``) over HTTP in the
    background, as ``runner serve`` does (same options, same app: ``/predict``,
    ``/invocations``, ``/docs``); ``port=0`` takes a free port.  Returns a :class:`Server`
    with ``.url`` and ``.stop()``::

        import kampai, requests
        server = kampai.serve("iris@production")
        requests.post(server.url + "/predict", json={"rows": [...]}).json()
        server.stop()
    """
    cli = plugin_module("serve", "cli", "kampai.serve")
    server_mod = plugin_module("serve", "server", "kampai.serve")
    import uvicorn

    folder = getattr(run, "run_dir", None)
    ref = str(folder if folder is not None else run)
    sock, options, model = cli.prepare(
        ref, host=host, port=port, auth_token=auth_token, no_auth=no_auth, max_batch_size=max_batch_size,
        max_latency_ms=max_latency_ms, no_batching=not batching, max_body_bytes=max_body_bytes, max_rows=max_rows,
        max_columns=max_columns, follow=follow, poll_seconds=poll_seconds, no_access_log=not access_log,
        runs_dir=str(runs_dir), any_port=True)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(server_mod.create_app(options, model), **cli.uvicorn_settings(host, bound)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"kampai-serve-{bound}",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        thread.join(5)
        sock.close()
        from kampai.core.errors import KampaiError

        raise KampaiError(f"The server for {ref} did not start within {timeout:g} s.")
    shown = f"[{host}]" if ":" in host else host
    return Server(server, thread, f"http://{shown}:{bound}", model.run.run_id)
