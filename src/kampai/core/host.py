"""The host: one object owning the pluggy manager and every registry the plugins fill.

Plugins come only from the ``kampai`` entry-point group; kampai's own are declared there
like third-party ones, so there is exactly one way in.  Kill switches, as in pytest:

* ``KAMPAI_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry point except those named in
  ``KAMPAI_PLUGINS=name,name``;
* ``KAMPAI_BLOCK_PLUGINS=name,name`` or ``runner -p no:NAME``: skip those plugins.

A plugin is *broken* (listed with its reason, skipped; the rest keep working) when its
import fails, when it implements a hook kampai does not define (a misspelled
``kampai_after_fitt``: pluggy's ``check_pending``, reported per plugin with a
did-you-mean), when a hook's arguments do not match the spec, or when what it registers
breaks the contract (:mod:`kampai.core.contract`).

Each registry is built once per host, the first time it is needed, by calling its
registration hook plugin by plugin (so every entry knows its plugin).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from kampai.core import hookcalls, hookspecs
from kampai.core import registry as r
from kampai.core.envflags import env_flag
from kampai.core.errors import PluginError, did_you_mean, unknown
from kampai.core.markers import ENTRY_POINT_GROUP, PROJECT_NAME

if TYPE_CHECKING:
    from kampai.core.contract import Framework, Task
    from kampai.core.settings import SettingRegistry

#: kampai's own plugins registered first, in this order (the rest of kampai's follow)
CORE_FIRST = ("tasks", "splitters", "sklearn", "sklego")

#: registry kind -> (registration hook, registry class)
REGISTRIES: dict[str, tuple[str, Callable[[], r.Registry]]] = {
    "tasks": ("kampai_register_tasks", r.TaskRegistry),
    "frameworks": ("kampai_register_frameworks", r.FrameworkRegistry),
    "estimators": ("kampai_register_estimators", r.EstimatorRegistry),
    "datasets": ("kampai_register_datasets", r.DatasetRegistry),
    "splitters": ("kampai_register_splitters", r.SplitterRegistry),
    "metrics": ("kampai_register_metrics", r.MetricRegistry),
    "serializers": ("kampai_register_serializers", r.SerializerRegistry),
}


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


class Host:
    """The pluggy manager, what was found, loaded, blocked or broken, and the registries."""

    def __init__(self, blocked: set[str] | None = None) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.blocked = set(blocked or ()) | _env_list("KAMPAI_BLOCK_PLUGINS")
        self._registries: dict[str, r.Registry] = {}
        #: per registry kind: the registration hook implementations not called yet
        self._pending: dict[str, list[Any]] = {}
        self._filling: set[str] = set()
        self._settings: SettingRegistry | None = None
        self._spec_names = {n for n in vars(hookspecs) if n.startswith("kampai_")}
        #: observers' exceptions become errors (``--strict-plugins``, KAMPAI_STRICT_PLUGINS=1)
        self.strict = env_flag("KAMPAI_STRICT_PLUGINS")
        self.observers = _Observers(self)
        if os.environ.get("KAMPAI_TRACE_PLUGINS"):  # one line per hook call, on stderr
            self.pm.add_hookcall_monitoring(*hookcalls.tracer(sys.stderr))

    # -- loading ---------------------------------------------------------------------------

    def load_entry_points(self) -> None:
        autoload = not os.environ.get("KAMPAI_DISABLE_PLUGIN_AUTOLOAD")
        allowed = _env_list("KAMPAI_PLUGINS")
        from kampai.core.plugin_index import entry_points

        found = entry_points(ENTRY_POINT_GROUP)

        # kampai's own plugins first, its core ones (CORE_FIRST) before the others:
        # registration hooks run in registration order, so a third-party plugin cannot take
        # over a built-in name ('sklearn', 'classification'), and scikit-learn's estimator
        # index is searched before any other (resolving 'Ridge' never imports Darts).
        def order(ep: Any) -> tuple[bool, int]:
            own = ep.distribution == "kampai"
            return (not own, CORE_FIRST.index(ep.name) if own and ep.name in CORE_FIRST else len(CORE_FIRST))

        for ep in sorted(found, key=order):
            if not autoload and ep.name not in allowed:
                continue
            info = PluginInfo(name=ep.name, module=ep.value, distribution=ep.distribution, version=ep.version)
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
        """Register a plugin object or module (also how tests add inline plugins).

        Raises :class:`PluginError` (and registers nothing) when the plugin implements a
        hook kampai does not define, a hook with arguments its spec does not have, or asks
        for what kampai cannot honour (:func:`kampai.core.hookcalls.refusal`).  pluggy
        registers a :class:`~kampai.core.hookcalls.Registered` namespace in its place.
        """
        if name in self.blocked:
            return
        unknown_hooks = [h for h in dir(plugin) if h.startswith("kampai_") and h not in self._spec_names
                         and callable(getattr(plugin, h, None))]
        if unknown_hooks:
            hook = unknown_hooks[0]
            raise PluginError(f"Plugin '{name}' implements '{hook}', which is not a kampai hook."
                              f"{did_you_mean(hook, self._spec_names)}")
        if any(getattr(p, "plugin", None) is plugin for p in self.pm.get_plugins()):
            raise ValueError(f"Plugin already registered under a different name: {name}={plugin!r}")
        functions = hookcalls.implementations(self.pm, plugin, name, self._guarded_failed)
        for attr in functions:  # the hook implementations only (not every name of a module)
            opts = self.pm.parse_hookimpl_opts(plugin, attr)
            why = opts and hookcalls.refusal(name, opts.get("specname") or attr, opts)
            if why:
                raise PluginError(why)
        registered = hookcalls.Registered(plugin, name, functions)
        try:
            self.pm.register(registered, name=name)
        except pluggy.PluginValidationError as exc:
            if self.pm.get_plugin(name) is not None:  # pluggy adds impls one by one
                self.pm.unregister(name=name)
            raise PluginError(" ".join(str(exc).split())) from None
        info = self.infos.setdefault(name, PluginInfo(name=name, module=repr(plugin)))
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(registered) or [])
        self._registries.clear()
        self._settings = None

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.infos.pop(name, None)
        self._registries.clear()
        self._settings = None

    def unloaded(self) -> list[str]:
        """The plugins found but not loaded, as ``"name (blocked|broken)"``."""
        return sorted(f"{n} ({i.status})" for n, i in self.infos.items() if i.status != "ok")

    def mark_broken(self, plugin: str, reason: str) -> None:
        info = self.infos.setdefault(plugin, PluginInfo(plugin, "?"))
        info.error = info.error or reason

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a lifecycle hook through pluggy (wrappers, ``tryfirst``/``trylast`` and
        tracing apply).  No observer can break the command: each implementation is guarded
        (:mod:`kampai.core.hookcalls`), an exception in one is reported once as a warning
        naming its plugin and the others still run (unless :attr:`strict`, for plugin
        developers: a :class:`PluginError`)."""
        getattr(self.pm.hook, hook_name)(**kwargs)

    def _guarded_failed(self, plugin: str, hook_name: str, exc: Exception) -> None:
        """A guarded implementation raised (:func:`kampai.core.hookcalls.guard`)."""
        if not hookcalls.is_observer(hook_name):  # kampai_register_commands
            self.mark_broken(plugin, f"{hook_name}: {type(exc).__name__}: {exc}")
            return
        if self.strict:  # one line naming the plugin; --debug shows its traceback (chained)
            raise PluginError(f"plugin '{plugin}' failed in {hook_name} "
                              f"({type(exc).__name__}: {exc}) and --strict-plugins makes that an "
                              "error; add --debug for its traceback.") from exc
        from kampai.core.console import warn

        warn(f"plugin '{plugin}' failed in {hook_name} ({type(exc).__name__}: {exc}); "
             "the command goes on (--strict-plugins makes this an error)", once=True)

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a registration hook plugin by plugin in registration order, each through
        pluggy (a subset hook caller holding that plugin alone), each plugin's failure
        marking it broken instead of stopping the others; ``[(plugin, result), ...]``."""
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()  # registration order (pluggy
        # *calls* them last-first): the first plugin to register a name keeps it, a later one is
        # marked broken
        return [result for impl in impls if (result := self._call_one(hook_name, impl, impls, kwargs))]

    def _call_one(self, hook_name: str, impl: Any, impls: list[Any],
                  kwargs: dict[str, Any]) -> tuple[str, Any] | None:
        """One plugin's implementation of a registration hook (:meth:`call_each`); None when
        it failed (the plugin is then marked broken)."""
        alone = self.pm.subset_hook_caller(hook_name, [i.plugin for i in impls if i is not impl])
        registry = kwargs.get("registry") or kwargs.get("settings")
        if registry is not None:
            registry.current_plugin = impl.plugin_name
        try:
            return impl.plugin_name, next(iter(alone(**kwargs)), None)
        except Exception as exc:
            self.mark_broken(impl.plugin_name, f"{hook_name}: {type(exc).__name__}: {exc}")
            return None
        finally:
            if registry is not None:
                registry.current_plugin = "?"

    # -- registries ------------------------------------------------------------------------

    def registry(self, kind: str, until: Callable[[Any], bool] | None = None) -> Any:
        """The registry ``kind`` (tasks, frameworks, ...), built on first use by calling its
        registration hook plugin by plugin, in registration order; with ``until``, only until
        ``until(registry)`` holds (a run looks up its framework without importing every framework
        plugin's module; a later use without ``until`` calls the rest).  The order is kept, so a
        name found is the one a full build gives (the first plugin to register a name keeps it)."""
        hook_name, factory = REGISTRIES[kind]
        registry = self._registries.get(kind)
        if registry is None:
            registry = factory()
            registry.host = self
            self._registries[kind] = registry
            self._pending[kind] = list(getattr(self.pm.hook, hook_name).get_hookimpls())
        pending = self._pending.get(kind)
        if not pending or kind in self._filling:
            return registry
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()  # all: each call leaves the others out
        self._filling.add(kind)
        try:
            while pending and not (until is not None and until(registry)):
                self._call_one(hook_name, pending.pop(0), impls, {"registry": registry})
        finally:
            self._filling.discard(kind)
        return registry

    def tasks(self) -> r.TaskRegistry:
        return self.registry("tasks")

    def frameworks(self) -> r.FrameworkRegistry:
        return self.registry("frameworks")

    def estimators(self) -> r.EstimatorRegistry:
        return self.registry("estimators")

    def datasets(self) -> r.DatasetRegistry:
        return self.registry("datasets")

    def splitters(self) -> r.SplitterRegistry:
        return self.registry("splitters")

    def metrics(self) -> r.MetricRegistry:
        return self.registry("metrics")

    def serializers(self) -> r.SerializerRegistry:
        return self.registry("serializers")

    def settings(self) -> SettingRegistry:
        """Every config key and CLI option: the core's and the plugins' (``kampai_add_settings``)."""
        if self._settings is None:
            from kampai.core import schema
            from kampai.core.settings import SettingRegistry

            settings = SettingRegistry.core(schema.CORE_SETTINGS)
            self.call_each("kampai_add_settings", settings=settings)
            schema.add_capability_settings(settings, self)
            self._settings = settings
        return self._settings

    # -- lookups that say where a name should have come from ----------------------------------

    def task(self, name: str) -> Task:
        registry = self.tasks()
        if name not in registry:
            raise self._missing("task", name, registry)
        return registry.get(name)

    def framework(self, name: str) -> Framework:
        """The framework ``name``, its library checked: a clear error when the plugin that
        provides it is blocked, broken, or its extra is not installed."""
        registry = self.registry("frameworks", until=lambda found: name in found)
        if name not in registry:
            registry = self.frameworks()  # every plugin called: its did-you-mean and broken plugins
            if name not in registry:
                raise self._missing("framework", name, registry)
        framework = registry.get(name)
        from importlib.util import find_spec

        missing = [m for m in framework.requires if _find(find_spec, m) is None]
        if missing:
            extra = f": pip install 'kampai[{framework.extra}]'" if framework.extra else ""
            raise PluginError(f"Framework '{name}' needs {', '.join(missing)}, which is not installed"
                              f"{extra or '.'}")
        return framework

    def _missing(self, kind: str, name: str, registry: r.Registry) -> Exception:
        info = self.infos.get(name)
        if info is not None and info.blocked:
            return PluginError(f"Unknown {kind} '{name}': plugin '{name}' is blocked "
                               f"(-p no:{name} or KAMPAI_BLOCK_PLUGINS).")
        if info is not None and info.error:
            return PluginError(f"Unknown {kind} '{name}': plugin '{name}' failed to load: {info.error}")
        broken = sorted(n for n, i in self.infos.items() if i.error)
        hint = f"Broken plugins: {', '.join(broken)} (runner plugins list)." if broken else ""
        return unknown(kind, name, list(registry), hint)


class _Observers:
    """``host.observers.kampai_after_train(ctx=..., run=...)``: lifecycle hooks through
    :meth:`Host.notify`."""

    def __init__(self, host: Host) -> None:
        self._host = host

    def __getattr__(self, name: str) -> Any:
        return lambda **kwargs: self._host.notify(name, **kwargs)


def _find(find_spec: Any, module: str) -> Any:
    try:
        return find_spec(module)
    except (ImportError, ValueError):
        return None


_host: Host | None = None
_blocked_from_cli: set[str] = set()
_strict_from_cli = False


def set_strict(strict: bool) -> None:
    """``runner --strict-plugins``: observers' exceptions stop the command."""
    global _strict_from_cli
    _strict_from_cli = strict
    if _host is not None:
        _host.strict = _host.strict or strict


def block(names: set[str]) -> None:
    """Block plugins by name for this process (``runner -p no:NAME``); call before use.

    Replaces the previous set, so a second ``main()`` in one process (tests, notebooks)
    does not inherit the first one's ``-p``."""
    global _host
    _blocked_from_cli.clear()
    _blocked_from_cli.update(names)
    _host = None


def blocked_names() -> set[str]:
    """The plugins blocked with :func:`block` (``-p no:NAME``) in this process."""
    return set(_blocked_from_cli)


def get_host() -> Host:
    """The process-wide host, loading entry points on first use."""
    global _host
    if _host is None:
        host = Host(blocked=_blocked_from_cli)
        host.strict = host.strict or _strict_from_cli
        host.load_entry_points()
        _host = host
    return _host


def reset() -> None:
    """Forget loaded plugins and registries (tests, or after installing a plugin)."""
    global _host
    _host = None


def registry_of(kind: str) -> Any:
    """A registry of the process-wide host by kind (``tasks``, ``frameworks``, ``estimators``,
    ``datasets``, ``splitters``, ``metrics``, ``serializers``): read-only use by plugins
    (the MLflow registry reads whether a metric is greater-is-better)."""
    if kind not in REGISTRIES:
        raise unknown("registry", kind, REGISTRIES)
    return get_host().registry(kind)
