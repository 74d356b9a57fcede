"""What ``runner registry register|promote|best`` do, as functions: the CLI commands and the
Python API (``kampai.registry``) call these, one code path for both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kampai.plugin import KampaiError
from kampai.plugin.runs import RUNS_DIR
from kampai.plugins.mlflow import model_registry as registry


def register_run(run: str | Path | None, name: str, *, best: bool = False, metric: str | None = None,
                 study: str | None = None, stage: str | None = None, description: str | None = None,
                 runs_dir: str | Path = RUNS_DIR, uri: str | None = None) -> dict[str, Any]:
    """Register ``run`` (a folder or run id), the best run under ``runs_dir`` by ``metric``
    (``best``) or a study's refit run (``study``) as a new version of ``name``; ``stage`` also
    points that alias at it.  Returns ``{name, version, run, stage, source}``."""
    if study:
        run = registry.study_run(study, metric, uri)
    elif best:
        if not metric:
            raise KampaiError("--best needs --metric (e.g. --metric f1_macro).")
        run = str(registry.best_local_run(runs_dir, metric).run_dir)
    elif not run:
        raise KampaiError("Give a RUN (folder or run id), --best --metric M, or --study STUDY.")
    run = str(run)
    mv = registry.register(run, name, uri=uri, runs_dir=runs_dir, description=description)
    if stage:
        client, _ = registry.registry_client(uri)
        client.set_registered_model_alias(name, stage, mv.version)
    return {"name": name, "version": int(mv.version), "run": run, "stage": stage, "source": mv.source}


def promote(ref: str, stage: str, uri: str | None = None) -> dict[str, Any]:
    """Point alias ``stage`` of NAME at the version ``ref`` (NAME@VERSION or NAME@ALIAS) names."""
    client, _ = registry.registry_client(uri)
    mv = registry.promote(client, ref, stage)
    return {"name": mv.name, "version": int(mv.version), "stage": stage}


def best(name: str, metric: str, *, stage: str | None = None,
         uri: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The best version of ``name`` by ``metric`` and every scored version; ``stage`` also
    points that alias at the best one."""
    client, _ = registry.registry_client(uri)
    top, scored = registry.best_version(client, name, metric)
    if stage:
        client.set_registered_model_alias(name, stage, top["version"])
    return top, scored


def models(uri: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """Registered models (name, latest version, aliases, description) and the store's URI."""
    client, where = registry.registry_client(uri)
    return registry.list_models(client), where


def versions(name: str, uri: str | None = None) -> list[dict[str, Any]]:
    """Every version of ``name``: aliases, run, estimator, metrics, created."""
    client, _ = registry.registry_client(uri)
    return [registry.version_row(client, mv) for mv in registry.versions(client, name)]
