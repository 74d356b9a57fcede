"""Loading plugins: one pluggy manager, filled from the ``kampai`` entry-point group.

Built-in plugins (the tasks, the scikit-learn framework ...) are declared in kampai's own
``pyproject.toml`` under the same group as third-party ones, so there is exactly one way
in.  Kill switches, as in pytest:

* ``KAMPAI_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry point except those named in
  ``KAMPAI_PLUGINS=name,name``;
* ``KAMPAI_BLOCK_PLUGINS=name,name`` or ``runner -p no:NAME``: skip those plugins.

A plugin whose import fails is recorded as *broken* (with its error) and skipped; the
rest keep working.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from kampai.core import hookspecs
from kampai.core.markers import ENTRY_POINT_GROUP, PROJECT_NAME

#: kampai's own plugins registered first, in this order (the rest of kampai's follow)
CORE_FIRST = ("tasks", "splitters", "sklearn", "sklego")


@dataclass
class PluginInfo:
    """What ``runner plugins list`` shows about one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    error: str | None = None
    blocked: bool = False
    hooks: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "blocked" if self.blocked else "broken" if self.error else "ok"


def _env_list(var: str) -> set[str]:
    return {p.strip() for p in os.environ.get(var, "").split(",") if p.strip()}


class PluginHost:
    """The pluggy manager plus what was found, loaded, blocked or broken."""

    def __init__(self, blocked: set[str] | None = None) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.blocked = set(blocked or ()) | _env_list("KAMPAI_BLOCK_PLUGINS")
        if os.environ.get("KAMPAI_TRACE_PLUGINS"):
            self.pm.trace.root.setwriter(print)
            self.pm.enable_tracing()

    def load_entry_points(self) -> None:
        autoload = not os.environ.get("KAMPAI_DISABLE_PLUGIN_AUTOLOAD")
        allowed = _env_list("KAMPAI_PLUGINS")
        found = metadata.entry_points(group=ENTRY_POINT_GROUP)
        # kampai's own plugins first, its core ones (CORE_FIRST) before the others:
        # registration hooks run in registration order, so a third-party plugin cannot take
        # over a built-in name ('sklearn', 'classification'), and scikit-learn's estimator
        # index is searched before any other (resolving 'Ridge' never imports Darts).
        # (Installed entry_points.txt files list names alphabetically, not as pyproject does.)
        def order(ep: Any) -> tuple[bool, int]:
            own = getattr(ep.dist, "name", None) == "kampai"
            return (not own, CORE_FIRST.index(ep.name) if own and ep.name in CORE_FIRST else len(CORE_FIRST))

        for ep in sorted(found, key=order):
            if not autoload and ep.name not in allowed:
                continue
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name, module=ep.value,
                distribution=dist.metadata["Name"] if dist else None,
                version=dist.version if dist else None,
            )
            self.infos[ep.name] = info
            if ep.name in self.blocked:
                info.blocked = True
                continue
            try:
                plugin = ep.load()
                self.register(plugin, ep.name)
            except Exception as exc:  # a broken plugin must not take the others down
                info.error = f"{type(exc).__name__}: {exc}"

    def register(self, plugin: Any, name: str) -> None:
        """Register a plugin object or module (also how tests add inline plugins)."""
        if name in self.blocked:
            return
        self.pm.register(plugin, name=name)
        info = self.infos.setdefault(name, PluginInfo(name=name, module=repr(plugin)))
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.infos.pop(name, None)

    def call_each(self, hook_name: str, registry: Any) -> None:
        """Call a registration hook plugin by plugin, so each entry knows its plugin and a
        plugin that raises is marked broken instead of stopping the others."""
        hook = getattr(self.pm.hook, hook_name)
        # get_hookimpls() is in registration order (pluggy *calls* them last-first): the
        # first plugin to register a name keeps it, a later one is marked broken
        for impl in hook.get_hookimpls():
            registry.current_plugin = impl.plugin_name
            kwargs = {"registry": registry} if "registry" in impl.argnames else {}
            try:
                impl.function(**kwargs)
            except Exception as exc:
                info = self.infos.setdefault(impl.plugin_name, PluginInfo(impl.plugin_name, "?"))
                info.error = f"{hook_name}: {type(exc).__name__}: {exc}"
        registry.current_plugin = "?"

    @property
    def hook(self) -> Any:
        return self.pm.hook


_host: PluginHost | None = None
_blocked_from_cli: set[str] = set()


def block(names: set[str]) -> None:
    """Block plugins by name for this process (``runner -p no:NAME``); call before use.

    Replaces the previous set, so a second ``main()`` in one process (tests, notebooks)
    does not inherit the first one's ``-p``."""
    global _host
    _blocked_from_cli.clear()
    _blocked_from_cli.update(names)
    _host = None
    from kampai.core import registries

    registries.reset()


def blocked_names() -> set[str]:
    """The plugins blocked with :func:`block` (``-p no:NAME``) in this process."""
    return set(_blocked_from_cli)


def get_host() -> PluginHost:
    """The process-wide plugin host, loading entry points on first use."""
    global _host
    if _host is None:
        host = PluginHost(blocked=_blocked_from_cli)
        host.load_entry_points()
        _host = host
    return _host


def reset() -> None:
    """Forget loaded plugins and registries (tests, or after installing a plugin)."""
    global _host
    _host = None
    from kampai.core import registries

    registries.reset()
