"""Serving plugin: ``runner serve`` (a FastAPI + uvicorn scoring server) and ``runner app``
(a Streamlit page), both generated from a run's ``signature.json``.

Registered through the ``kampai`` entry point ``serve`` (extra ``kampai[serve]``).  It knows
no framework: it reads the run signature and predicts through
:func:`kampai.plugin.runs.load_run`, so every task and framework is served the same way.  This
module imports nothing heavy (FastAPI, uvicorn and Streamlit are imported by the commands).
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl


@hookimpl
def kampai_register_commands(app: Any) -> None:
    names = {c.name for c in app.registered_commands}
    if "serve" in names:
        return
    from kampai.plugins.serve.cli import app_cmd, serve_cmd

    app.command("serve")(serve_cmd)
    app.command("app")(app_cmd)
