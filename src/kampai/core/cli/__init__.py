"""The ``runner`` command line.

Fast to start by design: :func:`main` imports nothing but the standard library until it
knows what was asked.  ``runner --help`` comes from the user cache while nothing it was
made from changed (:mod:`kampai.core.cli.help_cache`); anything else builds the typer app
(:mod:`kampai.core.cli.commands`), and every command imports the engine (and through it
pandas, scikit-learn ...) inside its body, after its first line
(:mod:`kampai.core.cli.first_line`).  Expected failures
(:class:`kampai.core.errors.KampaiError`) print one line and exit with code 2; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing itself costs runner --help a few ms
if TYPE_CHECKING:
    from typing import Any

#: names of :mod:`kampai.core.cli.commands` readable here (``kampai.core.cli.app``)
_COMMANDS = ("app", "add_plugin_commands", "build_command", "OPTION_COMMANDS")


def __getattr__(name: str) -> Any:
    if name in _COMMANDS:
        from kampai.core.cli import commands

        return getattr(commands, name)
    raise AttributeError(f"module 'kampai.core.cli' has no attribute '{name}'")


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
    from kampai.core.cli import help_cache

    command_line = argv is None  # the console script or python -m kampai, not a program's call
    argv = list(sys.argv[1:] if argv is None else argv)
    text = help_cache.cached(argv)
    if text is not None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        sys.exit(0)  # as click's --help does
    import signal
    import threading

    from kampai.core.cli import first_line, words
    from kampai.core.errors import KampaiError

    global _terminated
    _terminated = False
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    from kampai.core.cli import commands

    commands.debug = False  # set by the global --debug option as the command line is parsed
    # a command line's first line before a framework import; a program calling main(argv)
    # (tests, notebooks) reads the output itself and gets no such line, nor do the workers
    # torchrun starts (runner train --nproc-per-node: the launching command printed its own)
    worker = os.environ.get("KAMPAI_DISTRIBUTED_WORKER") == "1"  # core.distributed.WORKER_ENV
    first_line.watch(quiet=not command_line or worker or words.quiet(argv))
    try:
        _main(argv)
    except (Terminated, SystemExit):
        if _terminated:  # stopped cleanly after a SIGTERM (click turns it into Abort)
            sys.exit(143)
        raise
    except OSError as exc:
        import errno

        environment = exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EPERM)
        if commands.debug or not (exc.filename or environment):
            raise
        where = f"'{exc.filename}'" if exc.filename else "a file (the disk or folder refused the write)"
        _error(f"Cannot use {where}: {exc.strerror or exc}. Nothing was left half-written.", 2)
    except KampaiError as exc:
        if commands.debug:
            raise
        _error(str(exc), exc.exit_code)
    finally:
        first_line.unwatch()
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _error(message: str, code: int) -> None:
    from kampai.core.console import console

    console().print("[bold red]Error:[/bold red] " + _escape(message), soft_wrap=True)
    sys.exit(code)


def _main(argv: list[str]) -> None:
    from kampai.core import host
    from kampai.core.cli import commands, help_cache
    from kampai.core.cli.options import current_argv
    from kampai.core.cli.words import blocked_in

    current_argv[:] = argv  # torchrun's workers rerun it (runner train --nproc-per-node)

    blocked = blocked_in(argv)
    if blocked != host.blocked_names():  # before plugins add commands and options
        host.block(blocked)
    commands.add_plugin_commands(argv)
    root = commands.build_command(argv)
    if help_cache.enabled(argv):  # runner --help: rendered as click would, then kept
        text = commands.help_text(root)
        if not any(info.error for info in host.get_host().infos.values()):
            help_cache.store(argv, text)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        sys.exit(0)
    root(args=argv, prog_name="runner")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
