"""``runner train``, ``evaluate``, ``predict``, ``config show`` and ``runs list``."""

from __future__ import annotations

from pathlib import Path

import typer

from kampai.core.cli import options as o
from kampai.core.cli import runs_extra


def train(
    config: Path = o.Config, task: str = o.Task, framework: str = o.Framework, data: str = o.Data,
    target: str = o.Target, model: str = o.Model, runs_dir: str = o.RunsDir,
    json_out: bool = o.Json,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No step log."),
    include: list[str] = o.Include,
    from_study: str = typer.Option(None, "--from-study", help="Train the best params of this tuning "
                                   "study (its recorded config unless -c/--task is given)."),
    storage: str = typer.Option(None, "--storage", help="The study's storage URL (with --from-study)."),
    ray: str = typer.Option(None, "--ray", metavar="ADDRESS", help="Train on the Ray cluster at ADDRESS (host:port, "
                            "ray://host:10001, or auto); the run folder comes back into runs/ (docs/scale.md)."),
    overrides: list[str] = o.Overrides,
) -> None:
    """Train, evaluate and save a model; writes runs/<run_id>/."""
    from kampai.core import engine
    from kampai.core.console import dumps

    cfg = o.build_config(config, task, framework, data, target, model, runs_dir, overrides,
                         extra={"model.include": include})
    if from_study:
        from kampai.core.tuning.study import study_config

        cfg = study_config(from_study, storage, base=cfg if (config or task) else None,
                           overrides=overrides, runs_dir=runs_dir)
    from kampai.core.distributed import requested

    if ray is not None and requested(cfg):
        from kampai.core.errors import KampaiError

        raise KampaiError("--ray trains on a Ray cluster and --nproc-per-node/--nnodes with torchrun: choose one.")
    if ray is not None:  # a Ray job on the cluster; the run folder comes back verified
        from kampai.core.scaleout.remote import train_remote

        run = train_remote(cfg, None if ray == "auto" else ray, verbose=not (quiet or json_out))
    elif requested(cfg):  # torchrun's workers; rank 0 returns the run
        from kampai.core import torchrun

        run = torchrun.train(cfg, o.current_argv, verbose=not (quiet or json_out))
        if run is None:
            return
    else:
        run = engine.train(cfg, verbose=not (quiet or json_out))
    if json_out:
        typer.echo(dumps({"run_id": run.run_id, "run_dir": str(run.run_dir),
                                 "metrics": run.metrics}))


def evaluate(
    run: str = typer.Argument(..., help="Run folder (runs/<run_id>), or NAME@stage / NAME@version."),
    data: str = typer.Option(..., "--data", help="Labelled CSV/Parquet file or bundled dataset."),
    json_out: bool = o.Json,
) -> None:
    """Score a trained run on other labelled data."""
    from kampai.core import engine
    from kampai.core.console import dumps
    from kampai.core.hosted import open_run

    metrics = engine.evaluate(open_run(run), data)
    if json_out:
        typer.echo(dumps(metrics))
        return
    from kampai.core.console import print_table

    print_table("Metrics", ["metric", "value"], [[k, f"{v:.4f}"] for k, v in metrics.items()])


def predict(
    run: str = typer.Argument(..., help="Run folder (runs/<run_id>), or NAME@stage / NAME@version."),
    data: str = typer.Option(None, "--data", help="CSV/Parquet file or bundled dataset (optional for a "
                             "task that takes predict options, such as --horizon)."),
    output: Path = typer.Option(None, "--output", "-o", help="Write predictions here, in the format its "
                                "suffix names (.csv, .parquet, .json, .jsonl; never inside a run folder); "
                                "default: print CSV to stdout."),
    ray: str = typer.Option(None, "--ray", metavar="ADDRESS", help="Predict a CSV/Parquet file on every node of "
                            "the Ray cluster at ADDRESS (host:port, ray://host:10001, or auto; docs/scale.md)."),
) -> None:
    """Predict with a trained run; probabilities become proba_<class> columns, forecast
    quantiles q<level> columns."""
    from kampai.core import engine
    from kampai.core.hosted import open_run

    flags = o.plugin_flags()
    options = {k.removeprefix("predict."): v for k, v in flags.items() if k.startswith("predict.")}
    # data.* options describe the new data (graphs: --edges of a new graph)
    data_options = {k.removeprefix("data."): v for k, v in flags.items() if k.startswith("data.")}
    if output is not None:
        engine.check_predictions_output(output)  # before the model is loaded
    opened = open_run(run)
    from kampai.core import predict_stream

    if data is not None and not options and not data_options and predict_stream.streams(opened, data, output):
        # a large file streams in chunks, in order (kampai.core.predict_stream); --ray: on the cluster
        if ray is not None:
            from kampai.core.scaleout.batch import predict_on_ray

            tables = predict_on_ray(opened, data, None if ray == "auto" else ray)
        else:
            tables = predict_stream.predict_chunks(opened, data)
        if output is None:
            predict_stream.echo_csv(tables, lambda text: typer.echo(text, nl=False))
            return
        rows = predict_stream.write_stream(tables, output)
        typer.echo(f"Wrote {rows} predictions to {output}", err=True)
        return
    if ray is not None:
        from kampai.core.errors import KampaiError

        raise KampaiError("--ray predicts a CSV/Parquet file (--data) of a task whose rows are predicted "
                          "independently, into .csv, .parquet or .jsonl (-o) or stdout.")
    table = engine.predict(opened, data, options=options, data_options=data_options)
    if output is None:
        typer.echo(table.to_csv(index=False), nl=False)
        return
    engine.write_predictions(table, output)
    typer.echo(f"Wrote {len(table)} predictions to {output}", err=True)


config_app = typer.Typer(help="Inspect experiment configs.", no_args_is_help=True)


@config_app.command("show")
def config_show(
    config: Path = o.Config, task: str = o.Task, framework: str = o.Framework, data: str = o.Data,
    target: str = o.Target, model: str = o.Model, runs_dir: str = o.RunsDir,
    schema: bool = typer.Option(False, "--schema", help="Print every config key with its default, owner "
                                "(core or the plugin that declares it), CLI option and help."),
    json_out: bool = o.Json, include: list[str] = o.Include,
    overrides: list[str] = o.Overrides,
) -> None:
    """Print the fully resolved config (defaults, file, flags and overrides merged)."""
    from kampai.core import config as config_mod
    from kampai.core import engine

    if schema:
        from kampai.core.console import dumps, print_table
        from kampai.core.host import get_host

        rows = get_host().settings().rows()
        if json_out:
            typer.echo(dumps(rows))
        else:
            print_table("Config keys", ["key", "default", "owner", "option", "help"],
                        [[r["key"], repr(r["default"]), r["owner"], r["option"] or "", r["help"]] for r in rows])
        return
    cfg = o.build_config(config, task, framework, data, target, model, runs_dir, overrides,
                         extra={"model.include": include})
    notes: list[str] = []
    if cfg.get("task"):
        cfg, task_obj, framework_obj = engine.resolve(cfg)
        from kampai.core.tuning.study import check_model

        # the space runner tune uses; the model section checked as train/tune would
        cfg["model"]["search"], source = check_model(cfg, task_obj, framework_obj)
        notes = _searched_and_fixed(cfg, source)
    if json_out:
        from kampai.core.console import dumps

        typer.echo(dumps(cfg))
        return
    typer.echo(config_mod.to_yaml(cfg), nl=False)
    for note in notes:  # YAML comments: the output stays a valid config
        typer.echo(f"# {note}")


def _searched_and_fixed(cfg: dict, source: str) -> list[str]:
    """Which params ``runner tune`` searches and which stay fixed (one line each)."""
    search = (cfg.get("model") or {}).get("search") or {}
    fixed = (cfg.get("model") or {}).get("params") or {}
    lines = []
    if search:
        lines.append(f"searched by runner tune ({source}): {', '.join(search)}")
    if fixed:
        kept = [f"{k}={v!r}" for k, v in fixed.items() if k not in search]
        if kept:
            lines.append(f"fixed (model.params): {', '.join(kept)}")
        overridden = [k for k in fixed if k in search]
        if overridden:
            lines.append(f"in model.params and searched (model.search wins in trials): {', '.join(overridden)}")
    return lines


runs_app = typer.Typer(help="Inspect finished runs.", no_args_is_help=True)


@runs_app.command("list")
def runs_list(runs_dir: str = o.RunsDir, json_out: bool = o.Json) -> None:
    """List runs, newest first, with their main metrics."""
    from kampai.core.hosted import list_runs

    runs_dir = runs_dir or o.RUNS_DIR
    runs = list_runs(runs_dir)
    if json_out:
        from kampai.core.console import dumps

        typer.echo(dumps([{"run_id": r.run_id, "run_dir": str(r.run_dir), "meta": r.meta,
                           "metrics": r.metrics} for r in runs]))
        return
    from kampai.core.console import print_table

    rows = []
    for r in runs:
        shown = [k for k in r.metrics if not k.endswith("_std")][:3]
        rows.append([r.run_id, r.meta.get("task", ""), r.meta.get("framework", ""),
                     r.meta.get("estimator", ""),
                     "  ".join(f"{k}={r.metrics[k]:.4f}" for k in shown),
                     f"{r.meta.get('fit_seconds', 0):.2f}s"])
    print_table(f"Runs in {runs_dir}", ["run", "task", "framework", "estimator", "metrics", "fit"], rows)


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(evaluate)
    app.command()(predict)
    app.add_typer(config_app, name="config")
    app.add_typer(runs_app, name="runs")
    runs_extra.register(runs_app)  # runs compare / export / sync
