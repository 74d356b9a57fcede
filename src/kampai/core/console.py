"""Console output: training steps with timings, on stderr so stdout stays for results."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_console: Any = None


def console() -> Any:
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(stderr=True, highlight=False)
    return _console


class Reporter:
    """Prints ``✓ step  detail  0.12s`` lines; silent when ``verbose`` is False."""

    def __init__(self, verbose: bool = True) -> None:
        self.verbose = verbose

    def info(self, message: str) -> None:
        if self.verbose:
            console().print(message)

    @contextmanager
    def step(self, label: str) -> Iterator[dict[str, str]]:
        """Time a step; the body may set ``detail["text"]`` for the printed line."""
        detail = {"text": ""}
        start = time.perf_counter()
        yield detail
        seconds = time.perf_counter() - start
        if self.verbose:
            text = f"  [dim]{detail['text']}[/dim]" if detail["text"] else ""
            console().print(f"[green]✓[/green] {label}{text}  [cyan]{seconds:.2f}s[/cyan]")
