"""Progress in a Jupyter notebook: one display that updates in place (an HTML ``<progress>``
bar through IPython's ``display(..., display_id=True)``), instead of a terminal bar's
escape codes or one line per step.

Nothing here imports IPython unless a kernel is already running in this process
(:func:`in_notebook`): the CLI and scripts never pay for it.
"""

from __future__ import annotations

import html
import sys
import time
from typing import Any


def in_notebook() -> bool:
    """True inside a Jupyter (ipykernel) kernel: the kernel module is loaded and the running
    shell is its ZMQ shell (a plain IPython terminal is not a notebook)."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class NotebookBar:
    """``label [#####-----] 7/20  best accuracy 0.9600 (#4)  12s`` updated in place."""

    def __init__(self, label: str, total: int, done: int = 0, text: str = "") -> None:
        from IPython.display import HTML, display

        self._html = HTML
        self.label, self.total, self.done, self.text = label, max(total, 1), done, text
        self.started = time.perf_counter()
        self._handle = display(HTML(self._render()), display_id=True)

    def _render(self, final: bool = False) -> str:
        elapsed = time.perf_counter() - self.started
        eta = ""
        if not final and 0 < self.done < self.total:
            eta = f", ETA {elapsed / self.done * (self.total - self.done):.0f}s"
        return (f"<div style='font-family:system-ui,sans-serif;font-size:13px'><b>{html.escape(self.label)}</b> "
                f"<progress value='{self.done}' max='{self.total}' style='width:240px;vertical-align:middle'>"
                f"</progress> {self.done}/{self.total} &nbsp;{html.escape(self.text)} "
                f"<span style='color:#777'>{elapsed:.0f}s{eta}</span></div>")

    def update(self, done: int | None = None, text: str | None = None, total: int | None = None) -> None:
        if done is not None:
            self.done = done
        if text is not None:
            self.text = text
        if total is not None:
            self.total = max(total, 1)
        if self._handle is not None:
            self._handle.update(self._html(self._render()))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.update(self._html(self._render(final=True)))
            self._handle = None


class NotebookLog:
    """The lines of a step log (``✓ fit RandomForestClassifier  0.42s``) in one display that
    grows in place, instead of one output per line."""

    def __init__(self) -> None:
        from IPython.display import HTML, display

        self._html = HTML
        self.lines: list[str] = []
        self._handle = display(HTML(""), display_id=True)

    def add(self, markup: str) -> None:
        from rich.text import Text

        self.lines.append(Text.from_markup(markup).plain)
        body = html.escape("\n".join(self.lines))
        self._handle.update(self._html(f"<pre style='margin:0;font-size:12px;line-height:1.35'>{body}</pre>"))


def bar(label: str, total: int, done: int = 0, text: str = "") -> Any:
    """A :class:`NotebookBar` in a notebook, else None."""
    return NotebookBar(label, total, done, text) if in_notebook() else None


def log() -> Any:
    """A :class:`NotebookLog` in a notebook, else None."""
    return NotebookLog() if in_notebook() else None
