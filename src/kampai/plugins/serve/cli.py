"""``runner serve`` and ``runner app``."""

from __future__ import annotations

import ipaddress
import os

import typer

LOOPBACK = ("localhost",)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_cmd(
    ref: str = typer.Argument(..., help="Run folder, run id under --runs-dir, NAME@stage or NAME@version."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; non-loopback needs a token or --no-auth."),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", help="uvicorn worker processes (each loads the model)."),
    auth_token: str = typer.Option(None, "--auth-token", envvar="KAMPAI_SERVE_TOKEN",
                                   help="Require 'Authorization: Bearer TOKEN' (or $KAMPAI_SERVE_TOKEN)."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve a non-loopback host without a token."),
    max_batch_size: int = typer.Option(64, "--max-batch-size", help="Rows per micro-batched model call."),
    max_latency_ms: float = typer.Option(2.0, "--max-latency-ms", help="Longest wait to fill a batch."),
    no_batching: bool = typer.Option(False, "--no-batching", help="One model call per request."),
    max_body_bytes: int = typer.Option(10 * 1024 * 1024, "--max-body-bytes"),
    follow: bool = typer.Option(False, "--follow", help="Reload when NAME@stage moves to another version."),
    poll_seconds: float = typer.Option(10.0, "--poll-seconds", help="--follow: how often to look."),
    no_access_log: bool = typer.Option(False, "--no-access-log"),
    runs_dir: str = typer.Option("runs", "--runs-dir"),
) -> None:
    """Serve a model over HTTP (FastAPI): /invocations (MLflow's payloads), /predict, /docs."""
    from kampai.plugin import ConfigError
    from kampai.plugins.serve.model import ServedModel
    from kampai.plugins.serve.server import ServeOptions, create_app

    if not _is_loopback(host) and not auth_token and not no_auth:
        raise ConfigError(f"Serving on {host} (not loopback) needs --auth-token TOKEN (or $KAMPAI_SERVE_TOKEN), "
                          "or an explicit --no-auth.")
    options = ServeOptions(ref=ref, runs_dir=runs_dir, auth_token=auth_token or None,
                           max_body_bytes=max_body_bytes, max_batch_size=max_batch_size,
                           max_latency_ms=max_latency_ms, batching=not no_batching, follow=follow,
                           poll_seconds=poll_seconds, access_log=not no_access_log)
    model = ServedModel.load(ref, runs_dir)  # a bad ref stops here: one line, exit 2
    model.warm_up()
    import uvicorn

    typer.echo(f"Serving {model.run.run_id} ({model.signature.get('task')}) on http://{host}:{port} "
               f"(docs: /docs)", err=True)
    common = {"host": host, "port": port, "access_log": False, "log_level": "warning",
              "timeout_graceful_shutdown": 30}
    if workers > 1:
        os.environ["KAMPAI_SERVE_OPTIONS"] = options.to_env()
        uvicorn.run("kampai.plugins.serve.server:app_from_env", factory=True, workers=workers, **common)
    else:
        uvicorn.run(create_app(options, model), **common)


def app_cmd(
    ref: str = typer.Argument(..., help="Run folder, run id, NAME@stage or NAME@version."),
    port: int = typer.Option(8501, "--port"),
    runs_dir: str = typer.Option("runs", "--runs-dir"),
) -> None:
    """A Streamlit page for a model: a form from its signature, CSV upload, metrics."""
    import subprocess
    import sys
    from pathlib import Path

    from kampai.plugins.serve.model import ServedModel

    ServedModel.load(ref, runs_dir)  # fail early with one line
    script = Path(__file__).with_name("streamlit_app.py")
    env = {**os.environ, "KAMPAI_APP_REF": ref, "KAMPAI_APP_RUNS_DIR": runs_dir}
    raise typer.Exit(subprocess.call([sys.executable, "-m", "streamlit", "run", str(script), "--server.port",
                                      str(port), "--server.headless", "true"], env=env))
