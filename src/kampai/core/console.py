"""Console output: steps with timings and warnings on stderr (stdout stays for results),
tables and strict JSON on stdout.  Public to plugins through :mod:`kampai.plugin`."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_console: Any = None
_warned: set[str] = set()


def console() -> Any:
    """The shared rich console on stderr."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(stderr=True, highlight=False)
    return _console


def warn(message: str, *, once: bool = False) -> None:
    """Print ``Warning: message`` on stderr; with ``once``, only the first time per process."""
    if once:
        if message in _warned:
            return
        _warned.add(message)
    from rich.markup import escape

    console().print(f"[yellow]Warning:[/yellow] {escape(message)}", soft_wrap=True)


class Steps:
    """Prints ``✓ step  detail  0.12s`` lines; silent when ``verbose`` is False."""

    def __init__(self, verbose: bool = True) -> None:
        self.verbose = verbose

    def info(self, message: str) -> None:
        if self.verbose:
            console().print(message, soft_wrap=True)

    @contextmanager
    def step(self, label: str) -> Iterator[dict[str, str]]:
        """Time a step; the body may set ``detail["text"]`` for the printed line."""
        detail = {"text": ""}
        start = time.perf_counter()
        yield detail
        seconds = time.perf_counter() - start
        if self.verbose:
            text = f"  [dim]{detail['text']}[/dim]" if detail["text"] else ""
            console().print(f"[green]✓[/green] {label}{text}  [cyan]{seconds:.2f}s[/cyan]", soft_wrap=True)


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A rich table on stdout."""
    import sys

    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*[str(v) for v in row])
    # piped (a file, grep, a test): no terminal width to fit, so do not wrap at 80 columns
    width = None if sys.stdout.isatty() else 240
    Console(width=width).print(table)


def _strict(value: Any) -> Any:
    """NaN/inf (a metric undefined for one cluster, say) -> None: stdout JSON stays strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def human_size(size: float) -> str:
    """``334514`` -> ``"327 KiB"``, ``10236928`` -> ``"9.8 MiB"`` (binary units, 3 digits)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def dumps(payload: Any) -> str:
    """JSON for ``--json`` outputs: strict (no NaN), so any JSON parser reads it."""
    return json.dumps(_strict(payload), indent=2, default=str, allow_nan=False)
