"""Listing commands: plugins, tasks, frameworks, estimators, datasets, splits, metrics.

``runner plugins list`` must stay light: it fills the registries (cheap by contract) but
never loads estimator sources, which import the frameworks.
"""

from __future__ import annotations

from typing import Any

import typer

from kampai.core.cli import options as o
from kampai.core.console import print_table


def _emit(json_out: bool, payload: Any, title: str, columns: list[str], rows: list[list[Any]]) -> None:
    if json_out:
        import json

        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        print_table(title, columns, rows)


plugins_app = typer.Typer(help="Installed plugins.", no_args_is_help=True)


def plugin_report() -> list[dict[str, Any]]:
    """Every plugin with what it provides (also used by tests and docs)."""
    from kampai.core.host import REGISTRIES, get_host

    host = get_host()
    built = {kind: host.registry(kind) for kind in REGISTRIES}
    report = []
    for name, info in sorted(host.infos.items()):
        provides = {kind: reg.names_by_plugin(name) for kind, reg in built.items()}
        provides["estimators"] = provides["estimators"] + [
            f"{s.name} (all: {s.description})" for s in built["estimators"].sources if s.plugin == name]
        report.append({
            "name": name, "module": info.module, "distribution": info.distribution,
            "version": info.version, "status": info.status, "error": info.error,
            "hooks": info.hooks, "provides": {k: v for k, v in provides.items() if v},
        })
    return report


@plugins_app.command("list")
def plugins_list(json_out: bool = o.Json) -> None:
    """Plugins found through the 'kampai' entry points, with what each provides."""
    report = plugin_report()
    rows = []
    for p in report:
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in p["provides"].items())
        status = p["status"] if not p["error"] else f"[red]{p['status']}[/red]: {p['error']}"
        rows.append([p["name"], p["version"] or "", p["distribution"] or "", status, provides])
    _emit(json_out, report, "Plugins", ["name", "version", "distribution", "status", "provides"], rows)


def tasks_list(json_out: bool = o.Json) -> None:
    """Registered tasks with their default split and metrics."""
    from kampai.core.host import get_host

    tasks = get_host().tasks()
    payload = [{"name": n, "description": t.description, "plugin": tasks.provided_by[n],
                "default_split": t.default_split["method"], "default_metrics": list(t.default_metrics)}
               for n, t in tasks.items()]
    rows = [[p["name"], p["description"], p["default_split"], ", ".join(p["default_metrics"]),
             p["plugin"]] for p in payload]
    _emit(json_out, payload, "Tasks", ["task", "description", "split", "metrics", "plugin"], rows)


def frameworks_list(json_out: bool = o.Json) -> None:
    """Registered frameworks and the tasks each supports."""
    from kampai.core.host import get_host

    frameworks = get_host().frameworks()
    payload = [{"name": n, "description": f.description, "tasks": list(f.tasks),
                "capabilities": sorted(f.capabilities), "extra": f.extra,
                "plugin": frameworks.provided_by[n]} for n, f in frameworks.items()]
    rows = [[p["name"], ", ".join(p["tasks"]), ", ".join(p["capabilities"]), p["description"], p["plugin"]]
            for p in payload]
    _emit(json_out, payload, "Frameworks", ["framework", "tasks", "capabilities", "description", "plugin"], rows)


estimators_app = typer.Typer(help="The estimator registry.", no_args_is_help=True)


@estimators_app.command("list")
def estimators_list(
    kind: str = typer.Option(None, "--type", help="classifier | regressor | transformer | cluster"),
    include: list[str] = typer.Option([], "--include", help="Also register the estimators of this "
                                      "module (e.g. mypkg.models); repeatable."),
    json_out: bool = o.Json,
) -> None:
    """Every estimator configs can name: scikit-learn's, plugins' and your own."""
    from kampai.core.host import get_host

    registry = get_host().estimators()
    registry.load_sources()
    for module in include:
        registry.include(module)
    listing = registry.listing(kind)
    payload = [{"name": e.name, "type": e.kind, "package": e.package, "path": e.path} for e in listing]
    rows = [[p["name"], p["type"] or "", p["package"], p["path"]] for p in payload]
    _emit(json_out, payload, f"Estimators ({len(rows)})", ["name", "type", "package", "path"], rows)


@estimators_app.command("show")
def estimators_show(name: str = typer.Argument(..., help="Short name or import path."),
                    json_out: bool = o.Json) -> None:
    """An estimator's parameters and their defaults."""
    from kampai.core.errors import KampaiError
    from kampai.core.host import get_host

    host = get_host()
    registry = host.estimators()
    cls = registry.resolve(name)
    plugin = registry.provided_by.get(name, "")
    short = getattr(cls, "__name__", "")
    if not plugin and short in registry and registry.get(short).load() is cls:  # an import path
        plugin = registry.provided_by[short]
    # the frameworks of the plugin that registered the name first, then any other
    frameworks = sorted(host.frameworks().items(), key=lambda item: host.frameworks().provided_by[item[0]] != plugin)
    from kampai.core.contract import BuildContext
    from kampai.core.diskcache import cache_dir

    ctx = BuildContext(resolve=registry.resolve, cache_dir=cache_dir())
    params = {}
    for _, framework in frameworks:
        try:
            params = framework.describe(name, ctx)
        except Exception:
            continue
        if params:
            break
    if not params and not frameworks:
        raise KampaiError(f"No framework can describe '{name}'.")
    _emit(json_out, params, f"{cls.__module__}.{cls.__name__}", ["parameter", "default"],
          [[k, repr(v)] for k, v in params.items()])


def datasets_list(json_out: bool = o.Json) -> None:
    """Bundled datasets usable as --data NAME."""
    from kampai.core.host import get_host

    reg = get_host().datasets()
    payload = [{"name": n, "task": d.task, "target": d.target, "description": d.description,
                "plugin": reg.provided_by[n]} for n, d in reg.items()]
    rows = [[p["name"], p["task"] or "", p["target"] or "", p["description"]] for p in payload]
    _emit(json_out, payload, "Datasets", ["name", "task", "target", "description"], rows)


def splits_list(json_out: bool = o.Json) -> None:
    """Split methods for split.method."""
    from kampai.core.host import get_host

    reg = get_host().splitters()
    payload = [{"name": n, "cv": s.cv, "description": s.description} for n, s in reg.items()]
    rows = [[p["name"], "cv" if p["cv"] else "holdout", p["description"]] for p in payload]
    _emit(json_out, payload, "Split methods", ["method", "kind", "description"], rows)


def metrics_list(task: str = typer.Option(None, "--task"), json_out: bool = o.Json) -> None:
    """Registered metrics (any scikit-learn scorer name works as well)."""
    from kampai.core.host import get_host

    reg = get_host().metrics()
    chosen = reg.for_task(task) if task else [m for _, m in reg.items()]
    payload = [{"name": m.name, "tasks": list(m.tasks), "greater_is_better": m.greater_is_better,
                "needs_proba": m.needs_proba, "description": m.description} for m in chosen]
    rows = [[p["name"], ", ".join(p["tasks"]), "↑" if p["greater_is_better"] else "↓",
             p["description"]] for p in payload]
    _emit(json_out, payload, "Metrics", ["metric", "tasks", "better", "description"], rows)


def _group(app: typer.Typer, name: str, help_text: str, fn: Any) -> None:
    sub = typer.Typer(help=help_text, no_args_is_help=True)
    sub.command("list")(fn)
    app.add_typer(sub, name=name)


def register(app: typer.Typer) -> None:
    app.add_typer(plugins_app, name="plugins")
    _group(app, "tasks", "Registered tasks.", tasks_list)
    _group(app, "frameworks", "Registered frameworks.", frameworks_list)
    app.add_typer(estimators_app, name="estimators")
    _group(app, "datasets", "Bundled datasets.", datasets_list)
    _group(app, "splits", "Split methods.", splits_list)
    _group(app, "metrics", "Registered metrics.", metrics_list)
