"""``runner inspect``, ``runner learning-curve`` and ``runner report``."""

from __future__ import annotations

from pathlib import Path

import typer

Json = typer.Option(False, "--json", help="Print JSON on stdout instead of tables.")


def inspect_cmd(
    run: str = typer.Argument(..., help="Run folder (runs/<run_id>), or NAME@stage / NAME@version."),
    data: str = typer.Option(None, "--data", help="Inspect on this CSV/Parquet file or bundled dataset "
                             "(default: the run's own data)."),
    step: str = typer.Option(None, "--step", help="Only this step (its path such as preprocess/num/scaler, "
                             "or its last part)."),
    rows: bool = typer.Option(False, "--rows", help="Also print the first rows each step outputs."),
    json_out: bool = Json,
) -> None:
    """Show what each preprocessing step of a run's model outputs: shape, columns, dtypes,
    missing values, a few rows; which input columns went through which branch."""
    from kampai.plugin.cli import dumps, print_table
    from kampai.plugins.insight.steps import inspect_run, summary_rows

    steps = inspect_run(run, data, step)
    if json_out:
        typer.echo(dumps(steps))
        return
    print_table(f"Pipeline steps of {run}", ["step", "kind", "shape", "input columns", "output columns",
                                            "missing"], summary_rows(steps))
    if rows or step:
        for s in steps:
            head = s.get("head") or []
            if not head:
                continue
            columns = list(head[0])[:12]
            print_table(f"{s['name']}: first rows", columns,
                        [[_short(r.get(c)) for c in columns] for r in head])
            print_table(f"{s['name']}: dtypes", ["column", "dtype", "missing"],
                        [[c, t, s.get("missing", {}).get(c, 0)] for c, t in list(s["dtypes"].items())[:30]])


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def learning_curve_cmd(
    config: Path = typer.Option(None, "-c", "--config", help="Experiment YAML."),
    rows: str = typer.Option("10%,25%,50%,100%", "--rows", "--sizes", help="Training sizes: percentages "
                             "(10%), fractions (0.5) or row counts (200), comma-separated."),
    task: str = typer.Option(None, "--task", help="Task name."),
    framework: str = typer.Option(None, "--framework", help="Framework (default: the task's)."),
    data: str = typer.Option(None, "--data", help="CSV/Parquet file or bundled dataset."),
    model: str = typer.Option(None, "--model", help="Estimator."),
    out_dir: Path = typer.Option(None, "--out-dir", help="Where learning_curve.{csv,json,png} go "
                                 "(default: reports/learning-curve/<name>)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-fit log."),
    json_out: bool = Json,
    overrides: list[str] = typer.Argument(None, help="Dotted overrides such as model.params.max_depth=5."),
) -> None:
    """Score vs training rows (same split for every size, spread over folds); CSV, JSON and PNG."""
    from kampai.plugin.cli import dumps, print_table
    from kampai.plugins.insight.curve import curve_for

    result = curve_for(config, rows, task=task, framework=framework, data=data, model=model, out_dir=out_dir,
                       verbose=not (quiet or json_out), overrides=overrides)
    metric, summary = result["metric"], result["summary"]
    if json_out:
        typer.echo(dumps({"metric": metric, "sizes": result["sizes"], "files": result["files"],
                          "points": summary.to_dict(orient="records")}))
        return
    print_table(f"Learning curve ({metric}, {result['split']}, {result['folds']} fold(s))",
                ["rows", metric, "± sd", f"train {metric}", "fit (s)"],
                [[int(r["rows"]), f"{r[metric]:.4f}", f"{r[metric + '_std']:.4f}",
                  f"{r.get('train_' + metric, float('nan')):.4f}", f"{r['fit_seconds']:.3f}"]
                 for _, r in summary.iterrows()])
    for file in result["files"]:
        typer.echo(f"Wrote {file}", err=True)


def report_cmd(
    run: str = typer.Argument(..., help="Run folder (runs/<run_id>), NAME@stage / NAME@version, or a study "
                              "folder of runner tune (studies/<study>)."),
    force: bool = typer.Option(False, "--force", help="Rewrite report.html even if the run has one."),
    study: Path = typer.Option(None, "--study", help="The study folder the run was tuned in: adds its score vs "
                               "each hyperparameter (automatic for runner tune --refit)."),
    open_it: bool = typer.Option(False, "--open", help="Open it in the web browser."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing."),
) -> None:
    """Write a run's report.html (self-contained) if it has none or it is older than the run's
    files, print its path, --open it.
    Of a study folder: the study's page (score vs each hyperparameter, history, top trials)."""
    from kampai.plugins.insight.report import write_report

    path = write_report(run, force=force or study is not None, study=study)
    if not quiet:
        typer.echo(str(path))
    if open_it:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect_cmd)
    app.command("learning-curve")(learning_curve_cmd)
    app.command("report")(report_cmd)
