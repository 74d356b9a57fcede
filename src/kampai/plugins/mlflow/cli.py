"""``runner registry``: register, list, show, promote and pick the best model version."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer

from kampai.plugin.cli import Json, RunsDir
from kampai.plugin.runs import RUNS_DIR

registry_app = typer.Typer(help="Model registry (MLflow): versions, aliases such as production, "
                                "best version by a metric.", no_args_is_help=True)

Uri = typer.Option(None, "--tracking-uri", help="Registry store or server; default $MLFLOW_TRACKING_URI, "
                   "else .kampai/mlflow.db.")


def _echo_json(payload: Any) -> None:
    from kampai.plugin.cli import dumps

    typer.echo(dumps(payload))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from kampai.plugin.cli import print_table

    print_table(title, columns, rows)


def _when(millis: Any) -> str:
    if not millis:
        return ""
    return datetime.fromtimestamp(int(millis) / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _metrics_text(metrics: dict[str, float], first: str | None = None, n: int = 3) -> str:
    keys = [k for k in metrics if not k.startswith("fold.") and not k.endswith("_std")
            and k not in ("fit_seconds", "total_seconds", "model_size_bytes", "data_rows")]
    if first in metrics:
        keys = [first] + [k for k in keys if k != first]
    return "  ".join(f"{k}={metrics[k]:.4f}" for k in keys[:n])


@registry_app.command("register")
def register_cmd(
    run: str = typer.Argument(None, help="Run folder or run id; omit with --best."),
    name: str = typer.Option(..., "--name", help="Registered model name (created if new)."),
    best: bool = typer.Option(False, "--best", help="Register the best run under --runs-dir by --metric."),
    metric: str = typer.Option(None, "--metric", help="Metric for --best (or to rank a study's runs)."),
    study: str = typer.Option(None, "--study", help="Register the trained (--refit) run of this tuning study."),
    stage: str = typer.Option(None, "--stage", help="Also point this alias (e.g. production) at the new version."),
    description: str = typer.Option(None, "--description"),
    runs_dir: str = RunsDir, uri: str = Uri, json_out: bool = Json,
) -> None:
    """Register a run as a new version of NAME (pushing it to the tracking store if needed)."""
    from kampai.plugins.mlflow.actions import register_run

    payload = register_run(run, name, best=best, metric=metric, study=study, stage=stage, description=description,
                           runs_dir=runs_dir or RUNS_DIR, uri=uri)
    if json_out:
        _echo_json(payload)
        return
    typer.echo(f"Registered {name} version {payload['version']} from {payload['run']}"
               + (f" ({name}@{stage})" if stage else ""))


@registry_app.command("list")
def list_cmd(uri: str = Uri, json_out: bool = Json) -> None:
    """Registered models with their latest version and aliases."""
    from kampai.plugins.mlflow.actions import models as list_models

    models, where = list_models(uri)
    if json_out:
        _echo_json(models)
        return
    _table(f"Registered models ({where})", ["name", "latest", "aliases", "description"],
           [[m["name"], m["latest_version"] or "",
             ", ".join(f"{a}→v{v}" for a, v in sorted(m["aliases"].items())), m["description"]] for m in models])


@registry_app.command("show")
def show_cmd(name: str = typer.Argument(..., help="Registered model name."), uri: str = Uri,
             json_out: bool = Json) -> None:
    """Every version of NAME: aliases, run, estimator, metrics."""
    from kampai.plugins.mlflow.actions import versions

    rows = versions(name, uri)
    if json_out:
        _echo_json(rows)
        return
    _table(f"{name}", ["version", "aliases", "run", "estimator", "metrics", "created"],
           [[r["version"], ", ".join(r["aliases"]), r["run_id"] or "", r["estimator"] or "",
             _metrics_text(r["metrics"]), _when(r["created"])] for r in rows])


@registry_app.command("promote")
def promote_cmd(
    ref: str = typer.Argument(..., help="NAME@VERSION (or NAME@ALIAS) to promote."),
    stage: str = typer.Option(..., "--stage", help="Alias to set, e.g. production or staging."),
    uri: str = Uri,
) -> None:
    """Point an alias (stage) at a version: NAME@STAGE then loads it."""
    from kampai.plugins.mlflow.actions import promote

    done = promote(ref, stage, uri)
    typer.echo(f"{done['name']}@{stage} → version {done['version']}")


@registry_app.command("best")
def best_cmd(
    name: str = typer.Argument(..., help="Registered model name."),
    metric: str = typer.Option(..., "--metric", help="Metric to rank versions by (direction from the metric)."),
    stage: str = typer.Option(None, "--promote", help="Also point this alias at the best version."),
    uri: str = Uri, json_out: bool = Json,
) -> None:
    """The best version of NAME by a metric (higher is better unless the metric is a loss/error)."""
    from kampai.plugins.mlflow import actions
    from kampai.plugins.mlflow import model_registry as registry

    best, scored = actions.best(name, metric, stage=stage, uri=uri)
    if json_out:
        _echo_json({**best, "metric": metric, "value": best["metrics"][metric], "promoted": stage})
        return
    ranked = sorted(scored, key=lambda r: r["metrics"][metric], reverse=registry.greater_is_better(metric))
    _table(f"{name} by {metric}", ["version", metric, "protocol", "data", "aliases", "run"],
           [[r["version"], f"{r['metrics'][metric]:.4f}", r["protocol"] or "?", (r["data_fingerprint"] or "?")[:12],
             ", ".join(r["aliases"]), r["run_id"] or ""] for r in ranked])
    from kampai.plugin.cli import warn

    protocols = {r["protocol"] for r in scored}
    if len(protocols) > 1:
        warn(f"these versions were scored by different evaluation protocols ({'; '.join(sorted(map(str, protocols)))}):"
             " a k-fold mean and a holdout score are not directly comparable.")
    if len({r["data_fingerprint"] for r in scored}) > 1:
        warn("these versions were trained and scored on different data: their scores are not directly comparable.")
    typer.echo(f"Best: {name}@{best['version']} ({metric}={best['metrics'][metric]:.4f})"
               + (f"; {name}@{stage} → version {best['version']}" if stage else ""))
