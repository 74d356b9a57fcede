"""Options shared by the commands that build an experiment config."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import Any

import typer

from kampai.core import schema

Config = typer.Option(None, "-c", "--config", help="Experiment YAML (e.g. conf/experiments/iris.yaml).")
Task = typer.Option(None, "--task", help="Task name (runner tasks list).")
Framework = typer.Option(None, "--framework", help="Framework name (runner frameworks list).")
Data = typer.Option(None, "--data", help="CSV/Parquet file or bundled dataset (sklearn:iris).")
Target = typer.Option(None, "--target", help="Target column.")
Model = typer.Option(None, "--model", help="Estimator: short name or import path.")
Include = typer.Option([], "--include", help="Also know the estimator classes of this module by their "
                       "short names (repeatable; config: model.include).")
#: the command line being run (``runner <argv>``): torchrun's workers rerun it (core.torchrun)
current_argv: list[str] = []
RUNS_DIR = schema.RUNS_DIR  # declared once, as output.runs_dir's default
RunsDir = typer.Option(None, "--runs-dir", help="Where run folders are (default: runs).")
Json = typer.Option(False, "--json", help="Print JSON on stdout instead of tables.")
Overrides = typer.Argument(None, help="Dotted overrides such as model.params.max_depth=5.",
                           show_default=False)


def build_config(config: Path | None, task: str | None, framework: str | None, data: str | None,
                 target: str | None, model: str | None, runs_dir: str | None,
                 overrides: list[str] | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The config from the shared flags; ``extra`` maps more dotted keys to flag values."""
    from kampai.core.hosted import load_config

    flags = {"task": task, "framework": framework, "data.path": data, "data.target": target,
             "model.estimator": model, "output.runs_dir": runs_dir, **plugin_flags(), **(extra or {})}
    if not flags.get("model.include"):
        flags.pop("model.include", None)  # no --include given: the config's own list stands
    return load_config(config, flags, overrides or [])


#: values of the plugins' options on the command being run, set by :func:`add_plugin_options`
#: for the duration of that command's call only (no state survives it)
_PLUGIN_FLAGS: ContextVar[Mapping[str, Any]] = ContextVar("kampai_plugin_flags", default=MappingProxyType({}))


def plugin_flags() -> dict[str, Any]:
    """``{config key: value}`` of the plugin options given to the command being run ({} outside one)."""
    return dict(_PLUGIN_FLAGS.get())


def add_plugin_options(command: Any, path: str) -> None:
    """Add the options plugins declare for ``path`` (``train``, ``tune``, ``config show``,
    ``predict``) to
    the click ``command``; while the command runs, :func:`plugin_flags` gives their values
    under their config keys."""
    from typer.core import TyperOption  # typer's own click (vendored), not the click package

    from kampai.core.host import get_host

    declared = get_host().settings().options(path)
    if not declared:
        return
    names = {}
    for setting in declared:
        param = "plugin_" + setting.key.replace(".", "__").replace("-", "_")
        names[param] = setting
        if setting.option_value is not None:
            option = TyperOption(param_decls=[setting.option, param], is_flag=True, default=False,
                                  help=f"{setting.help} ({setting.key}={setting.option_value!r}; "
                                  f"plugin {setting.owner}).")
        else:
            number = setting.type if setting.type in (int, float) else None  # parsed by click: --nproc-per-node 2
            option = TyperOption(param_decls=[setting.option, param], default=None, type=number,
                                  metavar="N" if number else "VALUE",
                                  help=f"{setting.help} ({setting.key}; plugin {setting.owner}).")
        # before the overrides argument, if the command ends with one
        last = command.params[-1] if command.params else None
        at = len(command.params) - 1 if last is not None and last.param_type_name == "argument" \
            and last.nargs == -1 else len(command.params)
        command.params.insert(at, option)
    inner = command.callback

    def callback(**kwargs: Any) -> Any:
        flags = {}
        for param, setting in names.items():
            value = kwargs.pop(param, None)
            if setting.option_value is not None:
                value = setting.option_value if value else None
            if value is not None:
                flags[setting.key] = value
        token = _PLUGIN_FLAGS.set(MappingProxyType(flags))
        try:
            return inner(**kwargs)
        finally:
            _PLUGIN_FLAGS.reset(token)

    command.callback = callback
