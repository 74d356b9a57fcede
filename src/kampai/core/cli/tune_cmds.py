"""``runner tune``: an Optuna study over ``model.search`` (docs/tuning.md).

Imports only typer at module level; the tuner (optuna, pandas, the framework) is
imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import typer

from kampai.core import schema
from kampai.core.cli import options as o


def tune(
    config: Path = o.Config, task: str = o.Task, framework: str = o.Framework, data: str = o.Data,
    target: str = o.Target, model: str = o.Model, runs_dir: str = o.RunsDir,
    trials: int = typer.Option(None, "--trials", "-n",
                               help="Total trials of the study, 1 or more (tune.trials; a resumed study runs up "
                               "to it)."),
    timeout: float = typer.Option(None, "--timeout", min=0, help="Seconds for this invocation (tune.timeout)."),
    metric: str = typer.Option(None, "--metric", help="Objective metric (tune.metric; default: the first metric)."),
    direction: str = typer.Option(None, "--direction", help=f"{' | '.join(schema.TUNE_DIRECTIONS)} (tune.direction; "
                                  "default: from the metric)."),
    sampler: str = typer.Option(None, "--sampler", help=f"{' | '.join(schema.TUNE_SAMPLERS)} (tune.sampler)."),
    pruner: str = typer.Option(None, "--pruner", help=f"{' | '.join(schema.TUNE_PRUNERS)} (tune.pruner)."),
    jobs: int = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes on this machine (tune.jobs); "
                             "with --ray, workers on the cluster."),
    ray: str = typer.Option(None, "--ray", metavar="ADDRESS", help="Run the workers as Ray tasks on the cluster "
                            "at ADDRESS (host:port, ray://host:10001, or auto; tune.backend: ray, "
                            "tune.ray_address; docs/scale.md)."),
    study: str = typer.Option(None, "--study", help="Study name; the same name resumes (tune.study)."),
    storage: str = typer.Option(None, "--storage", help="Optuna storage URL, e.g. postgresql://... "
                                "(tune.storage; default: the journal file .kampai/optuna.journal)."),
    refit: bool = typer.Option(None, "--refit/--no-refit", help="Train the best params as a normal run after."),
    cache: bool = typer.Option(None, "--cache/--no-cache", help="Reuse fitted preprocessing per fold (tune.cache)."),
    plots: bool = typer.Option(None, "--plots/--no-plots", help="Write PNG plots after the study (tune.plots)."),
    json_out: bool = o.Json,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or table."),
    include: list[str] = o.Include,
    overrides: list[str] = o.Overrides,
) -> None:
    """Tune hyperparameters with Optuna; trials go to a study (resumable), not to runs/."""
    from kampai.core.tuning.study import tune as run_tune

    extra = {"model.include": include, "tune.trials": trials, "tune.timeout": timeout, "tune.metric": metric,
             "tune.direction": direction, "tune.sampler": sampler, "tune.pruner": pruner,
             "tune.jobs": jobs, "tune.study": study, "tune.storage": storage, "tune.refit": refit,
             "tune.cache": cache, "tune.plots": plots}
    if ray is not None:
        extra.update({"tune.backend": "ray", "tune.ray_address": None if ray == "auto" else ray})
    cfg = o.build_config(config, task, framework, data, target, model, runs_dir, overrides, extra=extra)
    result = run_tune(cfg, verbose=not (quiet or json_out))
    if json_out:
        from kampai.core.console import dumps

        typer.echo(dumps({
            "study": result.study_name, "storage": result.storage, "metric": result.metric,
            "direction": result.direction, "best_value": result.best_value,
            "best_params": result.best_params, "best_trial": result.best_number, "ran": result.ran,
            "trials": len(result.trials), "output_dir": str(result.output_dir),
            "interrupted": result.interrupted,
            "run_dir": str(result.run.run_dir) if result.run is not None else None,
        }))
    if result.interrupted:
        raise typer.Exit(130)


def register(app: typer.Typer) -> None:
    app.command()(tune)
