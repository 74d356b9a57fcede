"""``runner serve`` and ``runner app``.

Both listen on 127.0.0.1 unless told otherwise, and refuse another interface without a
token or an explicit ``--no-auth`` (:func:`check_exposure`, one rule for both).  Every
option is checked, and the port bound, before anything is loaded or printed: a mistake is
one line and exit 2, never "Serving ..." followed by a uvicorn error."""

from __future__ import annotations

import ipaddress
import math
import os
import socket
from typing import TYPE_CHECKING, Any

import typer

from kampai.plugin.runs import RUNS_DIR

if TYPE_CHECKING:
    from kampai.plugins.serve.model import ServedModel
    from kampai.plugins.serve.server import ServeOptions

LOOPBACK = ("localhost",)
TOKEN_ENV = "KAMPAI_SERVE_TOKEN"
TOKEN_HELP = f"Require 'Authorization: Bearer TOKEN'; prefer ${TOKEN_ENV} (a flag is visible in ps)."


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None, no_auth: bool) -> None:
    """Refuse to listen on a non-loopback interface without a token or ``--no-auth``."""
    from kampai.plugin import ConfigError

    if not _is_loopback(host) and not token and not no_auth:
        raise ConfigError(f"Serving on {host} (not loopback) needs a token (${TOKEN_ENV}, or --auth-token), "
                          "or an explicit --no-auth.")


def check_port(port: int) -> None:
    from kampai.plugin import ConfigError

    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port: give 1 to 65535.")


def bind(host: str, port: int, *, any_port: bool = False) -> socket.socket:
    """A socket bound to ``host:port`` (not listening yet), as uvicorn binds one; a port in
    use, an address not of this machine or a port not ours to take is one line, exit 2.
    ``any_port``: port 0 takes a free port (``kampai.serve``)."""
    from kampai.plugin import ConfigError

    if not (any_port and port == 0):
        check_port(port)
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--host {host}: not an address of this machine ({exc}).") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror or exc} (is another server on that "
                          "port? pick another --port).") from None
    sock.set_inheritable(True)
    return sock


def _positive(name: str, value: float, least: float = 1) -> None:
    from kampai.plugin import ConfigError

    if not math.isfinite(value) or value < least:
        raise ConfigError(f"{name} {value:g} must be at least {least:g}.")


def _warn_if_flag(ctx: typer.Context) -> None:
    """A token on the command line is readable by every user of the machine (ps, /proc)."""
    from kampai.plugin.cli import warn

    source = ctx.get_parameter_source("auth_token")  # typer's own click: compare by name
    if getattr(source, "name", None) == "COMMANDLINE":
        warn(f"--auth-token is visible to every user of this machine (ps, /proc): set ${TOKEN_ENV} instead.")


def uvicorn_settings(host: str, port: int) -> dict[str, Any]:
    """The uvicorn settings of every kampai server (``runner serve`` and ``kampai.serve``)."""
    return {"host": host, "port": port, "access_log": False, "log_level": "warning",
            "timeout_graceful_shutdown": 30}


def prepare(ref: str, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
            auth_token: str | None = None, no_auth: bool = False, max_batch_size: int = 64,
            max_latency_ms: float = 2.0, no_batching: bool = False, max_body_bytes: int = 10 * 1024 * 1024,
            max_rows: int = 100_000, max_columns: int | None = None, follow: bool = False,
            poll_seconds: float = 10.0, no_access_log: bool = False, runs_dir: str = RUNS_DIR,
            any_port: bool = False) -> tuple[socket.socket, ServeOptions, ServedModel]:
    """Check every option, bind the port and load (and warm up) the model: what ``runner
    serve`` and ``kampai.serve`` do before serving.  Returns (bound socket, options, model);
    a mistake is one :class:`kampai.plugin.ConfigError` with nothing left open; ``any_port``:
    port 0 takes a free one."""
    from kampai.plugin import ConfigError

    most = 2 * (os.cpu_count() or 1)
    if not 1 <= workers <= most:
        raise ConfigError(f"--workers {workers}: give 1 to {most} (twice the {os.cpu_count()} CPUs here; "
                          "each worker loads the model).")
    _positive("--max-batch-size", max_batch_size)
    _positive("--max-body-bytes", max_body_bytes)
    _positive("--max-rows", max_rows)
    if max_columns is not None:
        _positive("--max-columns", max_columns)
    _positive("--max-latency-ms", max_latency_ms, 0)
    _positive("--poll-seconds", poll_seconds, 0.1)
    check_exposure(host, auth_token, no_auth)
    sock = bind(host, port, any_port=any_port)  # a busy port stops here, before "Serving ..."
    try:
        # only now the libraries (FastAPI, the model's framework): a mistaken option above is
        # its one line, with no "loading ..." status line before it
        from kampai.plugins.serve.model import ServedModel
        from kampai.plugins.serve.server import ServeOptions

        options = ServeOptions(ref=ref, runs_dir=runs_dir, auth_token=auth_token or None,
                               max_body_bytes=max_body_bytes, max_rows=max_rows, max_columns=max_columns,
                               max_batch_size=max_batch_size, max_latency_ms=max_latency_ms,
                               batching=not no_batching, follow=follow, poll_seconds=poll_seconds,
                               access_log=not no_access_log)
        model = ServedModel.load(ref, runs_dir)  # a bad ref stops here: one line, exit 2
        model.warm_up()
    except BaseException:
        sock.close()
        raise
    return sock, options, model


def serve_cmd(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Run folder, run id under --runs-dir, NAME@stage or NAME@version."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; non-loopback needs a token or --no-auth."),
    port: int = typer.Option(8000, "--port", help="TCP port (1-65535), bound before the model loads."),
    workers: int = typer.Option(1, "--workers", help="uvicorn worker processes, each loading the model "
                                                    "(1 to twice the CPUs)."),
    auth_token: str = typer.Option(None, "--auth-token", envvar=TOKEN_ENV, help=TOKEN_HELP),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve a non-loopback host without a token."),
    max_batch_size: int = typer.Option(64, "--max-batch-size", help="Rows per micro-batched model call."),
    max_latency_ms: float = typer.Option(2.0, "--max-latency-ms", help="Longest wait to fill a batch."),
    no_batching: bool = typer.Option(False, "--no-batching", help="One model call per request."),
    max_body_bytes: int = typer.Option(10 * 1024 * 1024, "--max-body-bytes", help="Larger bodies get 413."),
    max_rows: int = typer.Option(100_000, "--max-rows", help="Rows per request (413 beyond)."),
    max_columns: int = typer.Option(None, "--max-columns", help="Columns a request may name (400 beyond); "
                                    "default: twice the model's inputs, at least 256."),
    follow: bool = typer.Option(False, "--follow", help="Reload when NAME@stage moves to another version."),
    poll_seconds: float = typer.Option(10.0, "--poll-seconds", help="--follow: how often to look."),
    no_access_log: bool = typer.Option(False, "--no-access-log"),
    runs_dir: str = typer.Option(RUNS_DIR, "--runs-dir"),
) -> None:
    """Serve a model over HTTP (FastAPI): /invocations (MLflow's payloads), /predict, /docs."""
    sock, options, model = prepare(
        ref, host=host, port=port, workers=workers, auth_token=auth_token, no_auth=no_auth,
        max_batch_size=max_batch_size, max_latency_ms=max_latency_ms, no_batching=no_batching,
        max_body_bytes=max_body_bytes, max_rows=max_rows, max_columns=max_columns, follow=follow,
        poll_seconds=poll_seconds, no_access_log=no_access_log, runs_dir=runs_dir)
    import uvicorn

    from kampai.plugins.serve.server import create_app

    _warn_if_flag(ctx)
    typer.echo(f"Serving {model.run.run_id} ({model.signature.get('task')}) on http://{host}:{port} "
               f"(docs: /docs)", err=True)
    common = uvicorn_settings(host, port)
    if workers > 1:
        sock.close()  # uvicorn binds the shared socket of its workers itself
        os.environ["KAMPAI_SERVE_OPTIONS"] = options.to_env()
        uvicorn.run("kampai.plugins.serve.server:app_from_env", factory=True, workers=workers, **common)
        return
    server = uvicorn.Server(uvicorn.Config(create_app(options, model), **common))
    server.run(sockets=[sock])
    if not server.started:
        raise typer.Exit(3)


def app_cmd(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Run folder, run id, NAME@stage or NAME@version."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; non-loopback needs a token or --no-auth."),
    port: int = typer.Option(8501, "--port", help="TCP port (1-65535)."),
    auth_token: str = typer.Option(None, "--auth-token", envvar=TOKEN_ENV,
                                   help=f"The page asks for this token first; prefer ${TOKEN_ENV}."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve a non-loopback host without a token."),
    runs_dir: str = typer.Option(RUNS_DIR, "--runs-dir"),
) -> None:
    """A Streamlit page for a model: a form from its signature, CSV upload, metrics.  Streamlit's
    usage statistics are off."""
    import subprocess
    import sys
    from pathlib import Path

    from kampai.plugins.serve.model import ServedModel

    check_exposure(host, auth_token, no_auth)
    bind(host, port).close()  # a busy port or a bad address: one line now, not Streamlit's error later
    ServedModel.load(ref, runs_dir)  # fail early with one line
    _warn_if_flag(ctx)
    script = Path(__file__).with_name("streamlit_app.py")
    env = {**os.environ, "KAMPAI_APP_REF": ref, "KAMPAI_APP_RUNS_DIR": runs_dir,
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    env.pop(TOKEN_ENV, None)
    env.pop("KAMPAI_APP_TOKEN", None)
    if auth_token:  # to the page through its environment, never its command line
        env["KAMPAI_APP_TOKEN"] = auth_token
    raise typer.Exit(subprocess.call([sys.executable, "-m", "streamlit", "run", str(script),
                                      "--server.address", host, "--server.port", str(port),
                                      "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                                     env=env))
