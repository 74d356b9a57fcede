"""Console output: steps with timings and warnings on stderr (stdout stays for results),
tables and strict JSON on stdout.  Public to plugins through :mod:`kampai.plugin`."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_console: Any = None
_warned: set[str] = set()
#: something was printed on the console (or a status line) since :func:`reset_started`:
#: :mod:`kampai.core.cli.first_line` then adds no "loading ..." line of its own
_started = False
#: the label of the verbose step running now (``runner train`` without --quiet/--json);
#: None elsewhere: epoch progress (:func:`epoch_progress`) prints only inside one
_live_step: str | None = None


def console() -> Any:
    """The shared rich console on stderr."""
    global _console
    if _console is None:
        from rich.console import Console

        class _Console(Console):
            """Remembers that it printed (:func:`started`)."""

            def print(self, *args: Any, **kwargs: Any) -> None:
                global _started
                _started = True
                super().print(*args, **kwargs)

            def status(self, *args: Any, **kwargs: Any) -> Any:
                global _started
                _started = True
                return super().status(*args, **kwargs)

        _console = _Console(stderr=True, highlight=False, **_notebook_options())
    return _console


def started() -> bool:
    """Whether the command printed anything through this module since :func:`reset_started`."""
    return _started


def reset_started() -> None:
    """A new command starts (``runner`` in a process that ran one before: tests, notebooks)."""
    global _started
    _started = False


def status_line(text: str) -> None:
    """Print ``text`` on stderr as it is (no rich: called while an import is under way)."""
    global _started
    _started = True
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def in_kernel() -> bool:
    """Inside a Jupyter kernel (checked without importing anything of Jupyter's)."""
    if "ipykernel" not in sys.modules:
        return False
    from kampai.core.notebook import in_notebook

    return in_notebook()


def _notebook_options() -> dict[str, Any]:
    """In Jupyter rich shows HTML; its text/plain twin is kept free of escape codes."""
    return {"color_system": None} if in_kernel() else {}


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
        self._log: Any = None  # in a notebook: one display that grows (kampai.core.notebook)
        if verbose and in_kernel():
            from kampai.core.notebook import log

            self._log = log()

    def info(self, message: str) -> None:
        if self._log is not None:
            self._log.add(message)
        elif self.verbose:
            console().print(message, soft_wrap=True)

    @contextmanager
    def step(self, label: str, *, announce: bool = False) -> Iterator[dict[str, str]]:
        """Time a step; the body may set ``detail["text"]`` for the printed line.

        ``announce``: a step that may take long before printing anything (importing a
        framework: seconds, minutes under load) shows a spinner while it runs, in a terminal,
        drawn at once.  It is transient: a step that fails (a config mistake found on the way)
        leaves only the error's one line.  A log or pipe gets the ``✓`` line, after the
        ``loading scikit-learn …`` line ``runner`` prints when the import starts
        (:mod:`kampai.core.cli.first_line`)."""
        global _live_step
        detail = {"text": ""}
        status: Any = None
        if announce and self.verbose and console().is_terminal:
            status = console().status(f"{label} …")
            status.start()
            status.update(f"{label} …")  # drawn now, not at the spinner's first tick
        start = time.perf_counter()
        outer, _live_step = _live_step, (label if self.verbose else None)
        try:
            yield detail
        finally:
            _live_step = outer
            if status is not None:
                status.stop()
        seconds = time.perf_counter() - start
        if self.verbose:
            text = f"  [dim]{detail['text']}[/dim]" if detail["text"] else ""
            self.info(f"[green]✓[/green] {label}{text}  [cyan]{seconds:.2f}s[/cyan]")


class EpochProgress:
    """Per-epoch lines of a training that runs in epochs (see :func:`epoch_progress`)."""

    def __init__(self, total: int | None, label: str = "epoch", every: float = 1.0) -> None:
        self.total, self.label, self.every = total, label, every
        self.active = _live_step is not None
        self.started = self.last = time.perf_counter()
        self.printed = 0
        self._bar: Any = None  # in a notebook: a progress bar updated in place
        if self.active and total and in_kernel():
            from kampai.core.notebook import bar

            self._bar = bar(label, total)

    def update(self, epoch: int, **metrics: float | None) -> None:
        """Epoch ``epoch`` (1-based) is done; ``metrics`` such as ``loss=0.31, val_f1=0.8``
        (None values are left out).  Prints ``  epoch 3/20  loss 0.3100  ETA 41s``, at most
        one line per ``every`` seconds besides the first and last epochs."""
        if not self.active:
            return
        if self._bar is not None:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if v is not None and v == v)
            self._bar.update(epoch, shown)
            if self.total is not None and epoch >= self.total:
                self._bar.close()
            return
        now = time.perf_counter()
        last = self.total is not None and epoch >= self.total
        if self.printed and not last and now - self.last < self.every:
            return
        self.last, self.printed = now, self.printed + 1
        parts = [f"{self.label} {epoch}/{self.total}" if self.total else f"{self.label} {epoch}"]
        parts += [f"{k} {v:.4f}" for k, v in metrics.items() if v is not None and v == v]
        if self.total and not last:
            eta = (now - self.started) / max(1, epoch) * (self.total - epoch)
            parts.append(f"ETA {_duration(eta)}")
        console().print("  [dim]" + "  ".join(parts) + "[/dim]", soft_wrap=True)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 90 else f"{seconds / 60:.1f}min"


def epoch_progress(total: int | None, *, label: str = "epoch") -> EpochProgress:
    """A per-epoch progress reporter for a framework's ``fit``: call ``update(epoch, loss=...,
    val_metric=...)`` after each epoch.  It prints only while ``runner train`` (or
    ``kampai.train(verbose=True)``) shows its step log: silent under ``--quiet``/``--json``,
    in tuning trials and outside a run."""
    return EpochProgress(total, label)


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A rich table on stdout."""
    import sys

    from rich.console import Console
    from rich.table import Table

    global _started
    _started = True
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*[str(v) for v in row])
    # piped (a file, grep, a test): no terminal width to fit, so do not wrap at 80 columns
    width = None if sys.stdout.isatty() else 240
    Console(width=width, **_notebook_options()).print(table)


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
