"""The ``runner`` command line.

Fast to start by design: this package imports only typer; every command imports the
engine (and through it pandas, scikit-learn ...) inside its body.  Expected failures
(:class:`kampai.core.errors.KampaiError`) print one line and exit with code 2;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys

import typer

from kampai.core.cli import inspect_cmds, run_cmds

app = typer.Typer(
    name="runner",
    help="kampai: one engine, many frameworks. Train, evaluate and predict from one config.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
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
    plugin: list[str] = typer.Option(
        [], "-p", metavar="no:NAME", help="Block a plugin for this command (repeatable), as in pytest."
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Global options."""
    global _debug
    _debug = debug
    blocked = set()
    for item in plugin:
        if not item.startswith("no:"):
            raise typer.BadParameter(f"-p takes 'no:NAME' to block a plugin, got '{item}'.")
        blocked.add(item[3:])
    if blocked:
        from kampai.core import plugins

        plugins.block(blocked)


run_cmds.register(app)
inspect_cmds.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, turning expected errors into exit code 2."""
    from kampai.core.errors import KampaiError

    try:
        app(args=argv, prog_name="runner")
    except KampaiError as exc:
        if _debug:
            raise
        from kampai.core.console import console

        console().print("[bold red]Error:[/bold red] " + _escape(str(exc)), soft_wrap=True)
        sys.exit(exc.exit_code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
