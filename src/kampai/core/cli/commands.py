"""The ``runner`` typer app: the global options, the built-in commands, and the plugins'
commands and options added for the command being run.

Imports only typer and the command modules (each command imports the engine, and through
it pandas, scikit-learn ..., inside its body).  :func:`kampai.core.cli.main` runs it.
"""

from __future__ import annotations

from typing import Any

import typer

from kampai.core.cli import cache_cmds, inspect_cmds, project_cmds, run_cmds, tune_cmds
from kampai.core.cli.words import command_name, command_words

app = typer.Typer(
    name="runner",
    help="kampai: one engine, many frameworks. Train, evaluate and predict from one config.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich help imports markdown-it (+0.1 s on every --help)
)

#: ``--debug`` given to the command being run (main() shows tracebacks then)
debug = False


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"kampai {version('kampai')}")
        raise typer.Exit()


@app.callback()
def _global(
    debug_flag: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
    strict_plugins: bool = typer.Option(False, "--strict-plugins", help="An exception in a plugin's "
                                        "lifecycle hook stops the command (for plugin developers)."),
    plugin: list[str] = typer.Option(
        [], "-p", metavar="no:NAME", help="Block a plugin for this command (repeatable), as in pytest."
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Global options."""
    global debug
    debug = debug_flag
    from kampai.core import host as host_mod

    host_mod.set_strict(strict_plugins)
    blocked = set()
    for item in plugin:
        if not item.startswith("no:"):
            raise typer.BadParameter(f"-p takes 'no:NAME' to block a plugin, got '{item}'.")
        blocked.add(item[3:])
    from kampai.core import host

    if blocked != host.blocked_names():  # also un-blocks what an earlier main() blocked
        host.block(blocked)


run_cmds.register(app)
inspect_cmds.register(app)
tune_cmds.register(app)
cache_cmds.register(app)
project_cmds.register(app)


#: commands that take the options plugins declare (``kampai_add_settings``)
OPTION_COMMANDS = ("train", "tune", "config show", "predict")


def build_command(argv: list[str]) -> Any:
    """The click command for ``argv``: the typer app, plus the plugins' options on the
    command being run (loading plugins only when that command takes them)."""
    import typer.main

    from kampai.core.cli import options

    root = typer.main.get_command(app)
    words = command_words(argv)
    for path in OPTION_COMMANDS:
        parts = path.split()
        if words[:len(parts)] != parts:
            continue
        command = root
        for part in parts:
            command = command.commands[part]
        options.add_plugin_options(command, path)
    return root


def add_plugin_commands(argv: list[str]) -> None:
    """Let plugins add command groups, unless a built-in command was asked for."""
    # app.command()(train) leaves CommandInfo.name None: the name comes from the function
    builtin = {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands
               if c.callback is not None} | {g.name for g in app.registered_groups if g.name}
    name = command_name(argv)
    if name is not None and name in builtin:
        return
    from kampai.core.host import get_host

    host = get_host()
    # through pluggy; each implementation is guarded: a broken plugin is marked broken
    # (runner plugins list) and does not break the CLI (kampai.core.hookcalls)
    host.hook.kampai_register_commands(app=app)
    known = builtin | {g.name for g in app.registered_groups if g.name} | {
        c.name for c in app.registered_commands if c.name}
    off = host.unloaded()
    if name is not None and name not in known and off:
        from kampai.core.errors import UnknownNameError

        raise UnknownNameError(f"No such command '{name}'. It may come from a plugin that is not loaded: "
                               f"{', '.join(off)} (runner plugins list).")


def help_text(root: Any) -> str:
    """What ``runner --help`` prints (click's help option prints ``ctx.get_help()``)."""
    ctx = root.context_class(root, info_name="runner", **root.context_settings)
    return ctx.get_help()
