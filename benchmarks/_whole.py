"""The whole cost of a command: foreground wall, and CPU (user + sys) of the command and of
EVERY process it starts, detached background ones included (an MLflow push, a report).

This process makes itself a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``): a process
that double-forks to detach is re-parented here instead of to init, so after the command
returns we wait for those too and their CPU lands in ``RUSAGE_CHILDREN``.  Run one command
at a time from a process that starts nothing else.
"""

from __future__ import annotations

import ctypes
import os
import resource
import statistics
import subprocess
import time
from dataclasses import dataclass, field

PR_SET_CHILD_SUBREAPER = 36
_armed = False


def _arm() -> None:
    global _armed
    if not _armed:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
        _armed = True


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@dataclass
class Sample:
    wall: float  #: the command itself (what the user waits for at the prompt)
    cpu_fg: float  #: CPU of the command and the children it waited for (and of background
    #: processes that ended while a command of a burst ran)
    cpu_all: float  #: CPU of everything it started, background included
    settle: float  #: seconds from the command's exit until its last background process ended


def run(cmd: list[str], cwd: str, env: dict[str, str], settle_timeout: float = 300.0) -> Sample:
    """One fresh process of ``cmd``; waits for its detached descendants as well."""
    return burst([cmd], cwd, env, settle_timeout)


def burst(cmds: list[list[str]], cwd: str, env: dict[str, str], settle_timeout: float = 300.0) -> Sample:
    """Each of ``cmds`` in a fresh process, one after the other (the user's next command
    starts when the last returned), then their detached descendants are waited for: the
    sample holds the totals (divide by ``len(cmds)`` for the cost per command)."""
    _arm()
    before = _cpu()
    wall = 0.0
    for cmd in cmds:
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        wall += time.perf_counter() - start
    fg = _cpu() - before  # the background processes still running are not in it yet
    end = time.perf_counter()
    while time.perf_counter() - end < settle_timeout:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break  # no descendant left
        if pid == 0:
            time.sleep(0.05)
    return Sample(wall, fg, _cpu() - before, time.perf_counter() - end)


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def table(rows: dict[str, Series], base: str, title: str) -> str:
    """A markdown table of medians, each row's ratios against ``base``."""
    b = rows[base]
    out = [title, "", "| | wall s | CPU s (fg) | CPU s (all processes) | wall ratio | CPU ratio (all) |",
           "|---|---|---|---|---|---|"]
    for name, s in rows.items():
        out.append(f"| {name} | {s.median('wall'):.2f} | {s.median('cpu_fg'):.2f} | {s.median('cpu_all'):.2f} | "
                   f"{s.median('wall') / b.median('wall'):.3f} | {s.median('cpu_all') / b.median('cpu_all'):.3f} |")
    return "\n".join(out)
