"""Console output and the options commands share, for a plugin's commands and messages
(part of the plugin SDK).

* output: :func:`console` (rich, on stderr), :func:`warn`, :func:`print_table`, :func:`dumps`
  (strict JSON for ``--json``), :func:`epoch_progress` (per-epoch lines of a training loop);
* options (typer): :data:`Json` (``--json``), :data:`RunsDir` (``--runs-dir``; its default is
  :data:`kampai.plugin.runs.RUNS_DIR`), so a plugin's command declares them as the core's do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kampai.plugin._lazy import lazy_names

_LAZY = {
    "console": "kampai.core.console",
    "warn": "kampai.core.console",
    "print_table": "kampai.core.console",
    "dumps": "kampai.core.console",
    "epoch_progress": "kampai.core.console",
    "Json": "kampai.core.cli.options",
    "RunsDir": "kampai.core.cli.options",
}

__all__ = ["Json", "RunsDir", "console", "dumps", "epoch_progress", "print_table", "warn"]

if TYPE_CHECKING:
    from kampai.core.cli.options import Json, RunsDir
    from kampai.core.console import console, dumps, epoch_progress, print_table, warn

__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY, __all__)
