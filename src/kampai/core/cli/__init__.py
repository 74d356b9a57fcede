"""The ``runner`` command line.

Fast to start by design: this package imports only typer; every command imports the
engine (and through it pandas, scikit-learn ...) inside its body.  Expected failures
(:class:`kampai.core.errors.KampaiError`) print one line and exit with code 2;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from kampai.core.cli import cache_cmds, inspect_cmds, project_cmds, run_cmds, tune_cmds

app = typer.Typer(
    name="runner",
    help="kampai: one engine, many frameworks. Train, evaluate and predict from one config.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich help imports markdown-it (+0.1 s on every --help)
)

_debug = False


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"kampai {version('kampai')}")
        raise typer.Exit()


@app.callback()
def _global(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
    strict_plugins: bool = typer.Option(False, "--strict-plugins", help="An exception in a plugin's "
                                        "lifecycle hook stops the command (for plugin developers)."),
    plugin: list[str] = typer.Option(
        [], "-p", metavar="no:NAME", help="Block a plugin for this command (repeatable), as in pytest."
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Global options."""
    global _debug
    _debug = debug
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


def _command_words(argv: list[str]) -> list[str]:
    """The words that are not global options (or the value of ``-p``)."""
    skip, words = False, []
    for arg in argv:
        if skip:
            skip = False
        elif arg == "-p":
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
    return words


def _command_name(argv: list[str]) -> str | None:
    """The first word that is not a global option (or the value of ``-p``)."""
    words = _command_words(argv)
    return words[0] if words else None


#: commands that take the options plugins declare (``kampai_add_settings``)
OPTION_COMMANDS = ("train", "tune", "config show", "predict")


def _blocked_in(argv: list[str]) -> set[str]:
    return {argv[i + 1][3:] for i, a in enumerate(argv[:-1]) if a == "-p" and argv[i + 1].startswith("no:")}


def build_command(argv: list[str]) -> Any:
    """The click command for ``argv``: the typer app, plus the plugins' options on the
    command being run (loading plugins only when that command takes them)."""
    import typer.main

    from kampai.core.cli import options

    root = typer.main.get_command(app)
    words = _command_words(argv)
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
    name = _command_name(argv)
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


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, CI cancellation, Kubernetes), handled like Ctrl-C:
    a run being written is removed, a study stops its workers and writes its trial log."""


_terminated = False


def _on_sigterm(signum: int, frame: Any) -> None:
    import signal

    global _terminated
    _terminated = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills
    raise Terminated


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, turning expected errors into exit code 2
    (a file-system error naming its path too) and SIGTERM into a clean stop (exit 143)."""
    import signal
    import threading

    from kampai.core.errors import KampaiError

    global _terminated
    argv = list(sys.argv[1:] if argv is None else argv)
    _terminated = False
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        _main(argv)
    except (Terminated, SystemExit):
        if _terminated:  # stopped cleanly after a SIGTERM (click turns it into Abort)
            sys.exit(143)
        raise
    except OSError as exc:
        import errno

        environment = exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EPERM)
        if _debug or not (exc.filename or environment):
            raise
        where = f"'{exc.filename}'" if exc.filename else "a file (the disk or folder refused the write)"
        _error(f"Cannot use {where}: {exc.strerror or exc}. Nothing was left half-written.", 2)
    except KampaiError as exc:
        if _debug:
            raise
        _error(str(exc), exc.exit_code)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _error(message: str, code: int) -> None:
    from kampai.core.console import console

    console().print("[bold red]Error:[/bold red] " + _escape(message), soft_wrap=True)
    sys.exit(code)


def _main(argv: list[str]) -> None:
    from kampai.core import host
    from kampai.core.cli.options import current_argv

    current_argv[:] = argv  # torchrun's workers rerun it (runner train --nproc-per-node)

    blocked = _blocked_in(argv)
    if blocked != host.blocked_names():  # before plugins add commands and options
        host.block(blocked)
    add_plugin_commands(argv)
    build_command(argv)(args=argv, prog_name="runner")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
