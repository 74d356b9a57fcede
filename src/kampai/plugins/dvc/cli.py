"""``runner dvc``: DVC pipelines that run kampai's commands."""

from __future__ import annotations

from pathlib import Path

import typer

dvc_app = typer.Typer(help="DVC pipelines: dvc.yaml stages that run runner train/evaluate/tune, "
                      "params.yaml from the experiment config.", no_args_is_help=True)


@dvc_app.command("init")
def init_cmd(
    config: Path = typer.Option(..., "-c", "--config", help="Experiment YAML the pipeline starts from."),
    tune: bool = typer.Option(False, "--tune", help="Also a tune stage (Optuna study, fresh each run)."),
    eval_data: str = typer.Option(None, "--evaluate", help="Also an evaluate stage scoring the trained run "
                                  "on this labelled file or bundled dataset."),
    rows: str = typer.Option("25%,50%,100%", "--rows", help="Sizes of the learning_curve stage "
                             "('' for no such stage)."),
    force: bool = typer.Option(False, "--force", help="Replace conflicting stages or params."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print dvc.yaml and params.yaml; write nothing."),
    overrides: list[str] = typer.Argument(None, help="Dotted overrides for params.yaml "
                                          "(model.params.max_depth=5)."),
) -> None:
    """Write (or update, keeping your own stages) dvc.yaml and params.yaml for an experiment;
    runs dvc init when the git repository has no DVC yet.  Then: dvc repro."""
    from kampai.plugins.dvc.pipeline import init

    result = init(config, tune=tune, eval_data=eval_data, sizes=rows or None, force=force, dry_run=dry_run,
                  overrides=overrides)
    if dry_run:
        typer.echo("# dvc.yaml\n" + result["dvc"] + "\n# params.yaml\n" + result["params"], nl=False)
        return
    if result["dvc_initialised"]:
        typer.echo("Initialised DVC (.dvc/)", err=True)
    typer.echo(f"Wrote {result['params_yaml']} and {result['dvc_yaml']} (stages: {', '.join(result['stages'])}). "
               "Next: dvc repro; dvc exp run -S model.params.KEY=VALUE; dvc metrics diff.")
