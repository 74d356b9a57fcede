"""Progress lines inside a long step: reading a big file or a fit that runs for minutes
prints ``  … fit HistGradientBoostingClassifier  40s  iteration 7/20`` at least every
``output.progress_seconds`` instead of staying silent until its ``✓`` line.

A :class:`Heartbeat` is a background thread that wakes every ``every`` seconds and prints
the step's label, the time so far and what its ``probe`` says (how much of the file is read,
the estimator's iteration); the probe runs in that thread, so it only reads (a counter, the
length of a list the estimator appends to) and may answer None.  A step shorter than
``every`` prints nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

Probe = Callable[[], "str | None"]


class Heartbeat:
    """``with Heartbeat(label, probe, every, say):`` prints a line every ``every`` seconds
    through ``say`` while the block runs; ``every`` <= 0 (or ``say`` None) prints nothing."""

    def __init__(self, label: str, probe: Probe | None, every: float,
                 say: Callable[[str], Any] | None) -> None:
        self.label, self.probe, self.every, self.say = label, probe, float(every or 0), say
        self.lines = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self.every > 0 and self.say is not None:
            self.started = time.perf_counter()
            self._thread = threading.Thread(target=self._beat, name="kampai-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def line(self) -> str:
        """The progress line as printed now."""
        seconds = time.perf_counter() - self.started
        text = None
        if self.probe is not None:
            try:
                text = self.probe()
            except Exception:  # a probe reads another thread's state: never break the step for it
                text = None
        elapsed = f"{seconds:.0f}s" if seconds < 90 else f"{seconds / 60:.1f}min"
        return f"  [dim]… {self.label}  {elapsed}" + (f"  {text}" if text else "") + "[/dim]"

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            assert self.say is not None
            self.say(self.line())
            self.lines += 1



def every(config: Any) -> float:
    """``output.progress_seconds`` of a run's config (the declared default when it has none)."""
    from kampai.core.typed import section_of

    return float(section_of("output", (config or {}).get("output")).progress_seconds)


def step_heartbeat(probe: Probe | None, seconds: float) -> Heartbeat:
    """A :class:`Heartbeat` for the step of the step log running now, labelled with it; silent
    where no step log shows (``--quiet``/``--json``, tuning trials, outside a run), as
    :func:`kampai.core.console.epoch_progress` is."""
    from kampai.core import console as console_mod

    label = console_mod._live_step
    if label is None:
        return Heartbeat("", probe, 0, None)

    def say(line: str) -> None:
        console_mod.console().print(line, soft_wrap=True)

    return Heartbeat(label, probe, seconds, say)
