"""MLflow plugin: tracking as a lifecycle-hook observer, and a model registry.

Registered through the ``kampai`` entry point ``mlflow`` (extra ``kampai[mlflow]``); block
it with ``runner -p no:mlflow`` or switch tracking off per run with ``--no-track``.  It uses
only public hooks:

* ``kampai_after_train``: every ``runner train`` becomes an MLflow run (params flattened
  from the config and the fitted pipeline, metrics, timings, model size, data
  fingerprint, versions, git commit, the run folder as artifacts);
* ``kampai_before_tune`` / ``kampai_after_trial`` / ``kampai_after_tune`` /
  ``kampai_on_tune_error``: one parent run per study (trial table, best params and
  score), trials as child runs when ``tracking.trials`` is true;
* ``kampai_sync_runs``: ``runner runs sync`` pushes runs the server missed;
* ``kampai_resolve_run``: ``NAME@stage`` / ``NAME@version`` for predict and evaluate;
* ``kampai_register_commands``: the ``runner registry`` command group;
* ``kampai_add_settings``: its ``tracking:`` section and the ``--no-track`` /
  ``--tracking-uri`` options of ``runner train`` and ``runner tune``.

This module imports nothing heavy: MLflow is imported only when something is logged.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any

from kampai.plugin import hookimpl

if find_spec("mlflow") is None:  # listed as broken by `runner plugins list`, nothing else breaks
    raise ImportError("mlflow is not installed: pip install 'kampai[mlflow]'")

STATE_KEY = "mlflow_study"
#: URI schemes MLflow can track to (a typo such as foo://bar is refused before the run)
URI_SCHEMES = ("", "file", "sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks")


def _check_uri(uri: str) -> str | None:
    from urllib.parse import urlparse

    scheme = urlparse(str(uri)).scheme.split("+")[0]
    if len(scheme) > 1 and scheme not in URI_SCHEMES:  # one letter: a Windows drive
        return f"has the scheme '{scheme}', which MLflow cannot track to (use {', '.join(s for s in URI_SCHEMES if s)})"
    return None


@hookimpl
def kampai_add_settings(settings: Any) -> None:
    from kampai.plugin import Setting

    settings.add(Setting("tracking.enabled", True, "false (or --no-track): log nothing, keep only runs/",
                         type=bool, option="--no-track", option_value=False))
    settings.add(Setting("tracking.uri", None, "tracking store or server; null = $MLFLOW_TRACKING_URI, "
                         "else .kampai/mlflow.db", type=str, option="--tracking-uri", check=_check_uri))
    settings.add(Setting("tracking.background", True, "push each finished run to MLflow from a background "
                         "process (the command does not wait; runner runs sync --wait waits); false: log in "
                         "the foreground", type=bool, option="--track-foreground", option_value=False,
                         commands=("train",)))
    settings.add(Setting("tracking.linger", 30.0, "seconds the project's background pusher waits for more "
                         "finished runs before it exits (a burst of runs is pushed by one process that "
                         "imports MLflow once)", type=(float, int), minimum=0))
    settings.add(Setting("tracking.experiment", None, 'experiment name; null = the config\'s name, else "kampai"',
                         type=str))
    settings.add(Setting("tracking.trials", False, "tuning: also log every trial as a child run of the "
                         "study's run", type=bool))


def _tracking_on(ctx: Any) -> bool:
    from kampai.plugins.mlflow import store

    return store.enabled(ctx.config)


@hookimpl
def kampai_after_train(ctx: Any, run: Any) -> None:
    if not _tracking_on(ctx):
        return
    from kampai.plugins.mlflow import tracking

    tracking.track_run(ctx, run)


@hookimpl
def kampai_before_tune(ctx: Any, study: Any) -> None:
    if not _tracking_on(ctx):
        return
    from kampai.plugins.mlflow.studies import StudyTracker

    tracker = StudyTracker(ctx)
    ctx.state[STATE_KEY] = tracker
    tracker.start(ctx, study)


@hookimpl
def kampai_after_trial(ctx: Any, trial: Any, metrics: dict[str, float]) -> None:
    tracker = ctx.state.get(STATE_KEY)
    if tracker is not None:
        tracker.trial(ctx, trial, metrics)


@hookimpl
def kampai_after_tune(ctx: Any, study: Any, best: Any) -> None:
    tracker = ctx.state.pop(STATE_KEY, None)
    if tracker is not None:
        tracker.finish(ctx, study, best)


@hookimpl
def kampai_on_tune_error(ctx: Any, error: BaseException) -> None:
    tracker = ctx.state.pop(STATE_KEY, None)
    if tracker is not None:
        tracker.finish(ctx, None, None, status="FAILED")


@hookimpl
def kampai_sync_runs(runs_dir: Path, tracking_uri: str | None) -> list[str]:
    from kampai.plugins.mlflow import push

    return push.sync(Path(runs_dir), tracking_uri, wait=True)


@hookimpl
def kampai_resolve_run(ref: str) -> Path | None:
    from kampai.plugins.mlflow import model_registry as registry

    if registry.parse_ref(ref) is None:
        return None
    return registry.resolve(ref)


@hookimpl
def kampai_register_commands(app: Any) -> None:
    if any(group.name == "registry" for group in app.registered_groups):
        return
    from kampai.plugins.mlflow.cli import registry_app

    app.add_typer(registry_app, name="registry")
