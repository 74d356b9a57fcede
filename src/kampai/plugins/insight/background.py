"""``python -m kampai.plugins.insight.background RUN_DIR [STUDY_DIR]``: the detached process
that writes a finished run's ``report.html`` after ``runner train`` has returned.

It is bookkeeping, so it yields the CPU: it lowers its own priority before it imports
pandas and matplotlib (~2 s of CPU).  Started at normal priority it ran beside the end of
the training process and whatever the user ran next, and on a busy machine both waited for
a CPU behind it.  It starts a session of its own (so Ctrl-C in the terminal does not stop
it), and where the kernel groups the CPU time of each session (Linux autogroup) the nice
value of a process counts only within its session: there the session's own nice value is
lowered too.  Nice 10, not 19: when every CPU is busy it still gets about a tenth of one,
so the page is there within seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import os
import sys

NICE = 10


def lower_priority(nice: int = NICE) -> None:
    """Lower this process's CPU priority to ``nice`` (and its session's, under autogroup)."""
    with contextlib.suppress(AttributeError, OSError):  # no nice on this platform: run as is
        os.nice(max(0, nice - os.nice(0)))
    try:
        with open("/proc/self/autogroup", "w") as fh:  # Linux: only our own session's group
            fh.write(str(nice))
    except OSError:  # no autogroup, or not allowed: the plain nice value is what counts
        pass


def main(argv: list[str]) -> int:
    lower_priority()
    from kampai.plugins.insight.report import write_report

    study = argv[1] if len(argv) > 1 else None
    write_report(argv[0], force=study is not None, study=study)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
