"""DVC plugin: ``runner dvc init`` writes a DVC pipeline whose stages run ``runner`` commands.

Registered through the ``kampai`` entry point ``dvc`` (extra ``kampai[insight]``, which
installs ``dvc``).  Public hooks only:

* ``kampai_register_commands``: the ``runner dvc`` group (``init``, ``params``);
* ``kampai_add_settings``: ``output.run_dir`` (``--run-dir``), ``output.overwrite``
  (``--overwrite``) and ``output.metrics_file`` (``--metrics-file``) of ``runner train``: a
  fixed path DVC can track;
* ``kampai_after_train`` (last of the observers): copies the finished run folder to
  ``output.run_dir`` and its metrics to ``output.metrics_file``.

The run itself is still written to ``runs/<run_id>/`` as always (the history); the copy
at the fixed path replaces the one there only when that is a kampai run (its signed manifest
verifies with this key) and ``--overwrite`` is given; the engine refuses anything else
before it trains (exit 2, the folder untouched).  DVC is run as its own program.
"""

from __future__ import annotations

from typing import Any

from kampai.plugin import hookimpl


@hookimpl
def kampai_add_settings(settings: Any) -> None:
    from kampai.plugin import Setting

    settings.add(Setting("output.run_dir", None, "also copy the finished run folder to this fixed path "
                         "(what a DVC stage tracks); a folder already there is replaced only when it is a "
                         "kampai run and with --overwrite", type=str, option="--run-dir", commands=("train",)))
    settings.add(Setting("output.overwrite", False, "let --run-dir replace the kampai run already at its path",
                         type=bool, option="--overwrite", option_value=True, commands=("train",)))
    settings.add(Setting("output.metrics_file", None, "also write the run's metrics.json here (DVC "
                         "metrics, outside the tracked run folder)", type=str,
                         option="--metrics-file", commands=("train",)))


@hookimpl(trylast=True)
def kampai_after_train(ctx: Any, run: Any) -> None:
    output = ctx.config.get("output") or {}
    if output.get("run_dir") or output.get("metrics_file"):
        from kampai.plugins.dvc.pipeline import place_run

        place_run(run.run_dir, output.get("run_dir"), output.get("metrics_file"),
                  overwrite=bool(output.get("overwrite")))


@hookimpl
def kampai_register_commands(app: Any) -> None:
    if any(group.name == "dvc" for group in app.registered_groups):
        return
    from kampai.plugins.dvc.cli import dvc_app

    app.add_typer(dvc_app, name="dvc")
