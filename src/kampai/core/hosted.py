"""The core's entry points that need the process-wide host, kept out of the modules they
call so that :mod:`kampai.core.config` and :mod:`kampai.core.runs` never import the host
(which imports them: no import circle, tests/test_imports.py):

* :func:`load_config`: :func:`kampai.core.config.load` with the host's settings registry;
* :func:`open_run` / :func:`list_runs`: run records whose model loads through the host's
  serializers and frameworks (:func:`model_store`), references resolved by the plugins'
  ``kampai_resolve_run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core import config as config_mod
from kampai.core import runs
from kampai.core.host import get_host

if TYPE_CHECKING:
    from kampai.core.runs import Run
    from kampai.core.typed import Config


def load_config(config: str | Path | None = None, flags: dict[str, Any] | None = None,
                overrides: list[str] | None = None) -> Config:
    """The experiment config (see :func:`kampai.core.config.load`), every loaded plugin's
    settings known; an unknown key names the plugins that are not loaded."""
    host = get_host()
    return config_mod.load(config, flags, overrides, settings=host.settings(), unloaded=host.unloaded())


def model_store(config: dict[str, Any]) -> Any:
    """What saves and loads a run's model: the ``output.serializer`` plugin, else the framework."""
    name = (config.get("output") or {}).get("serializer")
    if name:
        return get_host().serializers().get(name)
    return get_host().framework(config["framework"])


def _resolve(ref: str) -> Path | None:
    return get_host().hook.kampai_resolve_run(ref=ref)


def open_run(path: str | Path) -> Run:
    """:func:`kampai.core.runs.open_run` with the plugins' references and model stores."""
    return runs.open_run(path, resolve=_resolve, store_for=model_store)


def list_runs(runs_dir: str | Path) -> list[Run]:
    """:func:`kampai.core.runs.list_runs`, each record able to load its model."""
    return runs.list_runs(runs_dir, store_for=model_store)
