"""Insight plugin: step inspection, learning curves and one ``report.html`` per run.

Registered through the ``kampai`` entry point ``insight`` (extra ``kampai[insight]``:
matplotlib).  It uses only public hooks and the framework capability ``inspect``:

* ``kampai_register_commands``: ``runner inspect RUN``, ``runner learning-curve`` and
  ``runner report RUN``;
* ``kampai_after_train``: writes ``report.html`` into the finished run folder (an observer:
  the run is complete before; a failure here only warns); ``--no-report`` or
  ``report.enabled: false`` switches it off;
* ``kampai_add_settings``: the ``report:`` section.

From Python: :func:`inspect_run`, :func:`learning_curve`, :func:`write_report`.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl

__all__ = ["inspect_run", "learning_curve", "write_report"]


def inspect_run(run: Any, data: Any = None, step: str | None = None) -> list[dict[str, Any]]:
    """What each preprocessing step of ``run`` (a run, a folder or NAME@stage) outputs."""
    from kampai.plugins.insight.steps import inspect_run as inspect

    return inspect(run, data, step)


def learning_curve(config: Any = None, sizes: str = "10%,25%,50%,100%", **kwargs: Any) -> dict[str, Any]:
    """Score vs training rows for an experiment config (see :mod:`kampai.plugins.insight.curve`)."""
    from kampai.plugins.insight.curve import learning_curve as curve

    return curve(config, sizes, **kwargs)


def write_report(run: Any, force: bool = True) -> Any:
    """Write (or rewrite) ``report.html`` of a run; returns its path."""
    from kampai.plugins.insight.report import write_report as write

    return write(run, force=force)


@hookimpl
def kampai_add_settings(settings: Any) -> None:
    from kampai.plugin import Setting

    settings.add(Setting("report.enabled", True, "write report.html into every run folder after training "
                         "(false or --no-report: only on runner report RUN)", type=bool,
                         option="--no-report", option_value=False, commands=("train",)))


@hookimpl
def kampai_after_train(ctx: Any, run: Any) -> None:
    if ctx.quiet or not (ctx.config.get("report") or {}).get("enabled", True):
        return
    from kampai.plugin import warn

    try:
        write_report(run)
    except Exception as exc:  # bookkeeping: the run itself is done and in place
        warn(f"report.html not written for {run.run_id}: {exc} (runner report {run.run_dir} retries).")


@hookimpl
def kampai_register_commands(app: Any) -> None:
    names = {c.name for c in app.registered_commands}
    if "inspect" in names:
        return
    from kampai.plugins.insight import cli

    cli.register(app)
