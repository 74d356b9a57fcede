"""The built-in plugins the API calls into, imported with a clear error when missing."""

from __future__ import annotations

import importlib
from typing import Any

from kampai.core.errors import KampaiError

#: plugin -> (the extra that installs its libraries, the libraries it needs)
EXTRAS = {"mlflow": ("mlflow", "mlflow"), "serve": ("serve", "fastapi, uvicorn"),
          "insight": ("insight", "matplotlib")}


def plugin_module(plugin: str, module: str, what: str) -> Any:
    """``kampai.plugins.<plugin>.<module>``; a one-line error naming the extra when the
    plugin is blocked or its libraries are missing."""
    from kampai.core.host import blocked_names

    extra, needs = EXTRAS.get(plugin, (plugin, plugin))
    if plugin in blocked_names():
        raise KampaiError(f"{what} comes from the '{plugin}' plugin, which is blocked (-p no:{plugin}).")
    try:
        return importlib.import_module(f"kampai.plugins.{plugin}.{module}")
    except ImportError as exc:
        raise KampaiError(f"{what} needs {needs} ({exc.name or exc} is missing): pip install "
                          f"'kampai[{extra}]'.") from None
