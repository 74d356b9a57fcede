"""``runner runs compare``, ``runs export`` and ``runs sync`` (added to the ``runs`` group)."""

from __future__ import annotations

from pathlib import Path

import typer

from kampai.core.cli import options as o


def compare(
    metric: str = typer.Option(None, "--metric", help="Metric to rank by (default: the primary metric)."),
    task: str = typer.Option(None, "--task", help="Only runs of this task."),
    top: int = typer.Option(None, "--top", help="Show only the N best runs."),
    out_dir: Path = typer.Option(Path("reports"), "--out-dir", help="Where the PNG plots go."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Table only."),
    data: str = typer.Option(None, "--data", help="Compare the runs on this data (a prefix of its "
                             "fingerprint; default: the newest run's data)."),
    all_data: bool = typer.Option(False, "--all-data", help="Rank runs on any data together."),
    runs_dir: str = o.RunsDir, json_out: bool = o.Json,
) -> None:
    """Rank runs on the same data by a metric; plot score vs training time and vs model size."""
    from kampai.core import compare as compare_mod
    from kampai.core.console import human_size, warn

    result = compare_mod.compare(runs_dir or o.RUNS_DIR, metric, task, None if no_plots else out_dir, top,
                                 data=data, all_data=all_data)
    table, metric = result["table"], result["metric"]
    if json_out:
        from kampai.core.console import dumps

        typer.echo(dumps({key: value for key, value in result.items() if key != "table"}
                         | {"runs": table.to_dict(orient="records")}))
        return
    from kampai.core.console import print_table

    rows = [[i + 1, r["run_id"], r["estimator"], f"{r[metric]:.4f}", r["protocol"],
             f"{(r['fit_seconds'] or 0):.3f}s", human_size(r["model_size_bytes"] or 0)]
            for i, r in table.iterrows()]
    arrow = "higher is better" if result["greater_is_better"] else "lower is better"
    print_table(f"Runs by {metric} ({arrow})", ["#", "run", "estimator", metric, "protocol", "fit", "model size"],
                rows)
    if result["data"]:
        typer.echo(f"Data: {result['data']['source']} (fingerprint {result['data']['fingerprint'][:12]})"
                   + (f"; {result['left_out']} run{'s' if result['left_out'] != 1 else ''} on other data left "
                      "out (--all-data ranks them together, --data FINGERPRINT picks that data)"
                      if result["left_out"] else ""), err=True)
    elif result["mixed_data"]:
        warn("these runs were trained on different data: their scores are not directly comparable.")
    if len(result["protocols"]) > 1:
        warn(f"the scores come from different evaluation protocols ({'; '.join(result['protocols'])}): "
             "a k-fold mean and a holdout score are not directly comparable.")
    for path in result["plots"]:
        typer.echo(f"Wrote {path}", err=True)


def export(
    fmt: str = typer.Option("csv", "--format", "-f", help="csv or json."),
    output: Path = typer.Option(None, "--output", "-o", help="Write here; default stdout."),
    runs_dir: str = o.RunsDir,
) -> None:
    """Write the metrics (and meta) of every run as one CSV/JSON table."""
    from kampai.core import compare as compare_mod

    text = compare_mod.export(runs_dir or o.RUNS_DIR, fmt, output)
    if text is not None:
        typer.echo(text, nl=False)
    else:
        typer.echo(f"Wrote {output}", err=True)


def sync(
    runs_dir: str = o.RunsDir,
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="Push there instead of where each run "
                                     "was meant to go."),
) -> None:
    """Push runs that trackers could not record when they were made (server unreachable)."""
    from kampai.core.errors import KampaiError
    from kampai.core.host import get_host

    hook = get_host().hook.kampai_sync_runs
    if not hook.get_hookimpls():
        raise KampaiError("No tracker plugin is installed (or all are blocked): nothing to sync.")
    results = hook(runs_dir=Path(runs_dir or o.RUNS_DIR), tracking_uri=tracking_uri)
    pushed = [run_id for result in results for run_id in (result or [])]
    if not pushed:
        typer.echo("Nothing to push: every run is tracked.")
        return
    typer.echo(f"Pushed {len(pushed)} run(s): " + ", ".join(pushed))


def trust(
    run: str = typer.Argument(..., help="Run folder to re-sign (runs/<run_id>)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask."),
) -> None:
    """Re-sign a run folder you trust (an older run, or one made with another key): its files
    are hashed anew and the manifest signed with this machine's key."""
    from kampai.core.errors import RunError
    from kampai.core.runs import MANIFEST, write_manifest

    folder = Path(run)
    if not (folder / "meta.json").is_file():
        raise RunError(f"'{run}' is not a run folder (no meta.json).")
    if not yes and not typer.confirm(f"Trust every file in {folder} (models are unpickled when loaded)?"):
        raise typer.Exit(1)
    files = write_manifest(folder)
    typer.echo(f"Signed {len(files)} files of {folder} ({MANIFEST}).", err=True)


def register(runs_app: typer.Typer) -> None:
    runs_app.command("compare")(compare)
    runs_app.command("export")(export)
    runs_app.command("sync")(sync)
    runs_app.command("trust")(trust)
