"""Options shared by the commands that build an experiment config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

Config = typer.Option(None, "-c", "--config", help="Experiment YAML (e.g. conf/experiments/iris.yaml).")
Task = typer.Option(None, "--task", help="Task name (runner tasks list).")
Framework = typer.Option(None, "--framework", help="Framework name (runner frameworks list).")
Data = typer.Option(None, "--data", help="CSV/Parquet file or bundled dataset (sklearn:iris).")
Target = typer.Option(None, "--target", help="Target column.")
Model = typer.Option(None, "--model", help="Estimator: short name or import path.")
RunsDir = typer.Option(None, "--runs-dir", help="Where run folders are written (default: runs).")
Json = typer.Option(False, "--json", help="Print JSON on stdout instead of tables.")
NoTrack = typer.Option(False, "--no-track", help="Log nothing to trackers (tracking.enabled=false).")
TrackingUri = typer.Option(None, "--tracking-uri", help="Tracking store or server for this run (tracking.uri).")
Device = typer.Option(None, "--device", help="auto | cpu | cuda: where device frameworks train (device).")
Text = typer.Option(None, "--text", help="Text column for text tasks (data.text); default: the free-text column.")
Serializer = typer.Option(None, "--serializer", help="Save the model with a serializer plugin (output.serializer).")
Overrides = typer.Argument(None, help="Dotted overrides such as model.params.max_depth=5.",
                           show_default=False)


def build_config(config: Path | None, task: str | None, framework: str | None, data: str | None,
                 target: str | None, model: str | None, runs_dir: str | None,
                 overrides: list[str] | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The config from the shared flags; ``extra`` maps more dotted keys to flag values."""
    from kampai.core import config as config_mod

    flags = {"task": task, "framework": framework, "data.path": data, "data.target": target,
             "model.estimator": model, "output.runs_dir": runs_dir, **(extra or {})}
    return config_mod.load(config, flags, overrides or [])
