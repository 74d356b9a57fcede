"""Insight plugin: step inspection, learning curves and one ``report.html`` per run.

Registered through the ``kampai`` entry point ``insight`` (extra ``kampai[insight]``:
matplotlib).  It uses only public hooks and the framework capability ``inspect``:

* ``kampai_register_commands``: ``runner inspect RUN``, ``runner learning-curve`` and
  ``runner report RUN``;
* ``kampai_after_train``: by default nothing (``report.after_train: demand``): the page is
  rendered when it is asked for (``runner report RUN``, :func:`report_path`), which costs a
  run nothing (drawing it after every run cost ~0.7 s of CPU in the training process, or
  ~2.4 s in a process of its own that imports pandas and matplotlib again);
  ``background`` writes it from a detached process at low CPU priority, ``inline`` before
  ``train`` returns; ``off``, ``--no-report`` or ``KAMPAI_REPORT__AFTER_TRAIN=off`` skip it;
* ``kampai_after_tune``: ``params.png`` in the study folder (score vs each searched
  hyperparameter); ``runner report studies/NAME`` writes the study's page;
* ``kampai_add_settings``: the ``report:`` section.

From Python: :func:`inspect_run`, :func:`learning_curve`, :func:`write_report`,
:func:`report_path` (the page of a run, rendered when missing or stale).
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl

__all__ = ["inspect_run", "learning_curve", "report_path", "write_report"]


def inspect_run(run: Any, data: Any = None, step: str | None = None) -> list[dict[str, Any]]:
    """What each preprocessing step of ``run`` (a run, a folder or NAME@stage) outputs."""
    from kampai.plugins.insight.steps import inspect_run as inspect

    return inspect(run, data, step)


def learning_curve(config: Any = None, sizes: str = "10%,25%,50%,100%", **kwargs: Any) -> dict[str, Any]:
    """Score vs training rows for an experiment config (see :mod:`kampai.plugins.insight.curve`)."""
    from kampai.plugins.insight.curve import learning_curve as curve

    return curve(config, sizes, **kwargs)


def write_report(run: Any, force: bool = True, study: Any = None) -> Any:
    """Write (or rewrite) ``report.html`` of a run, or of a study folder of ``runner tune``;
    returns its path.  ``study``: the study folder the run was tuned in (a Tuning section)."""
    from kampai.plugins.insight.report import write_report as write

    return write(run, force=force, study=study)


def report_path(run: Any, study: Any = None) -> Any:
    """The path of ``report.html`` of a run (a run, its folder or NAME@stage) or of a study
    folder, rendered first when it is missing or older than what it shows: what opens a
    run's page (``runner report RUN``) calls."""
    from kampai.plugins.insight.report import report_path as path_of

    return path_of(run, study=study)


MODES = ("demand", "background", "inline", "off")
DEFAULT_MODE = "demand"


@hookimpl
def kampai_add_settings(settings: Any) -> None:
    from kampai.plugin import Setting

    settings.add(Setting("report.after_train", DEFAULT_MODE, "report.html of every run: demand (rendered when "
                         "asked for: runner report RUN; costs a run nothing), background (a detached process "
                         "writes it: ~2.4 s of CPU per run), inline (written before train returns: ~0.7 s), "
                         "off (or --no-report; runner report RUN still writes it)",
                         type=(str, bool), choices=(*MODES, False, True), option="--no-report",
                         option_value="off",
                         commands=("train",)))


def report_mode(config: dict[str, Any]) -> str:
    """``report.after_train`` (``KAMPAI_REPORT__AFTER_TRAIN=off`` for a test suite or a CI
    job: the config's environment layer)."""
    value = (config.get("report") or {}).get("after_train")
    if value is False:  # YAML 1.1 reads a bare `off` as false
        return "off"
    return DEFAULT_MODE if value is None else "background" if value is True else str(value)


@hookimpl
def kampai_after_train(ctx: Any, run: Any) -> None:
    mode = report_mode(ctx.config)
    if ctx.quiet or mode in ("off", "demand"):
        return
    from pathlib import Path

    from kampai.plugin.cli import warn

    # a refit of runner tune --refit: the study's folder, for the report's Tuning section
    parent = getattr(ctx, "parent", None)
    study = Path(parent.run_dir).resolve() if parent is not None and parent.run_dir else None
    try:
        if mode == "background":
            import subprocess
            import sys

            # bookkeeping off the critical path: the run is complete and in place already
            # (for a refit the study's trial log is exported already: it precedes the refit);
            # the process lowers its own CPU priority (background.py says why)
            subprocess.Popen([sys.executable, "-m", "kampai.plugins.insight.background", str(run.run_dir),
                              *([str(study)] if study else [])],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        else:
            write_report(run, study=study)
    except Exception as exc:  # bookkeeping: the run itself is done and in place
        warn(f"report.html not written for {run.run_id}: {exc} (runner report {run.run_dir} retries).")


@hookimpl
def kampai_after_tune(ctx: Any, study: Any, best: Any) -> None:
    """``params.png`` in the study folder: the score of every complete trial vs each
    searched hyperparameter (beside the core's history/importances/duration plots)."""
    if best is None or not (ctx.config.get("tune") or {}).get("plots", True):
        return
    from kampai.plugin.cli import warn

    try:
        from kampai.plugins.insight.plots import params_scatter, trials_frame

        log = {name for name, d in best.distributions.items() if getattr(d, "log", False)}
        direction = (ctx.state or {}).get("direction") or study.direction.name.lower()
        metric = (ctx.state or {}).get("metric") or "value"
        picture = params_scatter(trials_frame(study), metric, direction, title=f"Study {study.study_name}",
                                 log_params=log)
        if picture is not None:
            from pathlib import Path

            Path(ctx.run_dir).mkdir(parents=True, exist_ok=True)
            (Path(ctx.run_dir) / "params.png").write_bytes(picture)
    except Exception as exc:  # bookkeeping: the study is done and stored
        warn(f"params.png not drawn for study {study.study_name}: {exc}")


@hookimpl
def kampai_register_commands(app: Any) -> None:
    names = {c.name for c in app.registered_commands}
    if "inspect" in names:
        return
    from kampai.plugins.insight import cli

    cli.register(app)
