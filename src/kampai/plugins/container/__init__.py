"""Container plugin: ``runner container build|run|k8s``.

Builds images with kampai and the extras a framework needs (Docker or Podman, whichever is
present), runs any runner command inside one with the project folder mounted, and writes
Kubernetes manifests for training Jobs, tuning workers (an indexed Job) and serving
(Deployment + Service).  Registered through the ``kampai`` entry point ``container``
(extra ``kampai[container]`` only adds the ``kubernetes`` client used to validate manifests).

Imports nothing heavy: typer only when the command group is added.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl


@hookimpl
def kampai_register_commands(app: Any) -> None:
    if any(group.name == "container" for group in app.registered_groups):
        return
    from kampai.plugins.container.cli import container_app

    app.add_typer(container_app, name="container")
