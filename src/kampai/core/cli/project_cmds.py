"""``runner init`` (a ready project folder) and ``runner doctor`` (is this environment the
one you think?).  Both import only typer here; their work is in :mod:`kampai.scaffold` and
:mod:`kampai.core.doctor`."""

from __future__ import annotations

from pathlib import Path

import typer

from kampai.core.cli import options as o


def init(
    folder: Path = typer.Argument(..., help="The project folder to create (or fill)."),
    task: str = typer.Option("classification", "--task", help="classification or regression."),
    framework: str = typer.Option("sklearn", "--framework", help="sklearn, torch (an MLP) or fastai (tabular)."),
    force: bool = typer.Option(False, "--force", help="Write into a folder that is not empty (a file you "
                               "changed is still never overwritten)."),
) -> None:
    """Create a project: conf/experiment.yaml (commented), data/ with a sample, dvc.yaml, a
    notebook, .gitignore, README and a CI workflow.  Then: cd FOLDER && runner train -c conf/experiment.yaml"""
    from kampai.scaffold import create

    result = create(folder, task=task, framework=framework, force=force)
    for path in result["written"]:
        typer.echo(f"  wrote {path}", err=True)
    for path in result["kept"]:
        typer.echo(f"  kept  {path} (you changed it)", err=True)
    if result["dvc"]:
        typer.echo(f"  {result['dvc']}", err=True)
    typer.echo(f"Project ready in {folder}. Next:\n  cd {folder}\n  runner train -c conf/experiment.yaml")


def doctor(
    json_out: bool = o.Json,
    gpu: bool = typer.Option(False, "--gpu", help="Also import torch and ask it for the GPU (slower)."),
) -> None:
    """Check the environment: Python and venv, kampai, plugins, extras the configs in conf/
    need, torch and GPU, the MLflow store, the secret key (never its value), container
    engine, DVC, git.  Exit 1 when something a config needs is missing."""
    from kampai.core.doctor import failed, run_checks

    checks = run_checks(gpu=gpu)
    if json_out:
        from kampai.core.console import dumps

        typer.echo(dumps({"ok": not failed(checks), "checks": [c.as_dict() for c in checks]}))
    else:
        marks = {"ok": "ok  ", "warn": "WARN", "missing": "MISS", "info": "--  "}
        section = None
        for c in checks:
            if c.section != section:
                section = c.section
                typer.echo(f"{section}:")
            typer.echo(f"  [{marks.get(c.status, c.status)}] {c.name}: {c.detail}")
        problems = [c for c in checks if c.needed and c.status == "missing"]
        typer.echo(f"{len(problems)} problem(s) a config needs fixed." if problems else "Everything the configs "
                   "need is here.")
    if failed(checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(doctor)
