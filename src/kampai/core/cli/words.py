"""What a ``runner`` command line asks for, read from its words before any parsing (no
typer, no click: :func:`kampai.core.cli.main` decides with it what to import)."""

from __future__ import annotations

#: options that make a command print no step log or status line
QUIET_OPTIONS = ("-q", "--quiet", "--json")


def command_words(argv: list[str]) -> list[str]:
    """The words that are not options (nor the value of the global ``-p``)."""
    skip, words = False, []
    for arg in argv:
        if skip:
            skip = False
        elif arg == "-p":
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
    return words


def command_name(argv: list[str]) -> str | None:
    """The first word that is not an option (nor the value of ``-p``): the command."""
    words = command_words(argv)
    return words[0] if words else None


def blocked_in(argv: list[str]) -> set[str]:
    """The plugins blocked with ``-p no:NAME``."""
    return {argv[i + 1][3:] for i, a in enumerate(argv[:-1]) if a == "-p" and argv[i + 1].startswith("no:")}


def quiet(argv: list[str]) -> bool:
    """``-q``, ``--quiet`` or ``--json`` before a ``--`` (what follows ``--`` is another
    command's, as in ``runner container run -- train -q``)."""
    own = argv[:argv.index("--")] if "--" in argv else argv
    return any(arg in QUIET_OPTIONS for arg in own)
