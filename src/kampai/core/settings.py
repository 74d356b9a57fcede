"""Every config key and every plugin CLI option, with its owner, type, default and help.

The core's keys are declared in :mod:`kampai.core.schema` (defaults.yaml and docs/config.md
are generated from there).  A plugin adds its own through the ``kampai_add_settings`` hook, as tox's
``add_config`` and pytest's ``addoption`` do::

    @hookimpl
    def kampai_add_settings(settings):
        settings.add(Setting("wandb.project", None, "W&B project", type=str, option="--wandb-project"))

A plugin's key exists only while the plugin is loaded: without it, its section is an
unknown key (with a did-you-mean) and its option an unknown option.  The config loader
checks every key against :meth:`SettingRegistry.defaults`; ``runner config show --schema``
prints :meth:`SettingRegistry.rows`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from kampai.core.errors import ConfigError, PluginError, did_you_mean

#: what a plugin-declared setting may not redefine: sections the core owns as a whole
CORE_OWNER = "core"


@dataclass(frozen=True)
class Setting:
    """One config key, optionally with a CLI option on some commands.

    ``key`` is dotted (``tracking.uri``; a new top-level section or a key inside a core
    section such as ``data.text``).  ``type`` (a type or tuple of types) and ``choices``
    are checked when the value is not None.  ``option`` is the flag (``--tracking-uri``)
    added to ``commands``; with ``option_value`` set the flag takes no value and sets the
    key to it (``--no-track`` sets ``tracking.enabled`` to False).
    """

    key: str
    default: Any = None
    help: str = ""
    type: type | tuple[type, ...] | None = None
    choices: tuple[Any, ...] | None = None
    option: str | None = None
    option_value: Any = None
    commands: tuple[str, ...] = ("train", "tune")
    owner: str = ""
    #: the smallest value a number may take (``split.folds``: 2)
    minimum: float | None = None
    #: ``check(value)`` returns why a value is wrong (None when it is fine): rules beyond types
    check: Any = None
    #: the longer Markdown of docs/config.md's key tables (``help`` when empty)
    doc: str = ""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not valid for this key (None when it is)."""
        if value is None:
            return None
        if self.type is not None:
            types = self.type if isinstance(self.type, tuple) else (self.type,)
            ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
            if not ok:
                names = " or ".join(t.__name__ for t in types)
                return f"must be {names}, got {value!r}"
        if self.choices is not None and value not in self.choices:
            hint = did_you_mean(value, [str(c) for c in self.choices]) if isinstance(value, str) else ""
            return f"must be one of {', '.join(map(str, self.choices))}, got {value!r}.{hint}".rstrip(".")
        if self.minimum is not None and isinstance(value, (int, float)) and value < self.minimum:
            return f"must be >= {self.minimum:g}, got {value!r}"
        if self.check is not None:
            return self.check(value)
        return None


class SettingRegistry:
    """The assembled schema: the core's keys plus every loaded plugin's."""

    def __init__(self) -> None:
        self._settings: dict[str, Setting] = {}
        self._owner_of: dict[str, Callable[[], str]] = {}
        #: set by the host while a plugin's ``kampai_add_settings`` runs
        self.current_plugin = "?"

    @classmethod
    def core(cls, declarations: tuple[Setting, ...]) -> SettingRegistry:
        """A registry holding the core's declarations (:data:`kampai.core.schema.CORE_SETTINGS`)."""
        registry = cls()
        for setting in declarations:
            registry._settings[setting.key] = replace(setting, owner=CORE_OWNER)
        return registry

    def declare(self, setting: Setting, owner: str, owner_of: Callable[[], str] | None = None) -> None:
        """Declare a key the core owns (``device``, ``output.serializer``: keys that exist when a
        loaded plugin provides what they configure); nothing when the key already exists.
        ``owner_of()``, when given, is the longer owner :meth:`rows` shows (it may load every
        plugin of a kind: only a listing of the schema asks for it)."""
        if setting.key not in self._settings:
            self._settings[setting.key] = replace(setting, owner=owner)
            if owner_of is not None:
                self._owner_of[setting.key] = owner_of

    def add(self, setting: Setting) -> None:
        """Declare a key (and its option).  Refused (PluginError naming the plugin) when it is
        not a :class:`Setting`, when it redefines a key another owner declared, or when it
        puts a key under a value that is not a section."""
        plugin = self.current_plugin
        if not isinstance(setting, Setting):
            raise PluginError(f"Plugin '{plugin}' adds a setting that is not a kampai.plugin.Setting: {setting!r}.")
        key = setting.key
        if not re.fullmatch(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*", key or ""):
            raise PluginError(f"Plugin '{plugin}' adds setting {key!r}: not a dotted key such as 'section.name'.")
        existing = self._settings.get(key)
        if existing is not None and existing.owner != plugin:
            raise PluginError(f"Plugin '{plugin}' adds setting '{key}', already declared by '{existing.owner}'.")
        parent = key.rpartition(".")[0]
        while parent:
            holder = self._settings.get(parent)
            if holder is not None and not isinstance(holder.default, dict):
                raise PluginError(f"Plugin '{plugin}' adds setting '{key}' under '{parent}', which is a key, "
                                  "not a section.")
            parent = parent.rpartition(".")[0]
        if setting.option and any(s.option == setting.option and s.key != key for s in self._settings.values()):
            raise PluginError(f"Plugin '{plugin}' adds option '{setting.option}', already taken.")
        self._settings[key] = replace(setting, owner=plugin)

    def add_option(self, key: str, option: str, commands: tuple[str, ...] = ("train", "tune")) -> None:
        """Give an existing key (a core one such as ``data.time``) a CLI option of this
        plugin's (``--time``).  Refused when the key does not exist or the option is taken."""
        plugin = self.current_plugin
        setting = self._settings.get(key)
        if setting is None:
            raise PluginError(f"Plugin '{plugin}' adds option '{option}' for '{key}', which is not a config key.")
        if any(s.option == option for s in self._settings.values()):
            raise PluginError(f"Plugin '{plugin}' adds option '{option}', already taken.")
        if setting.option:
            raise PluginError(f"Plugin '{plugin}' adds option '{option}' for '{key}', which already has "
                              f"'{setting.option}'.")
        self._settings[key] = replace(setting, option=option, commands=commands)

    def __contains__(self, key: object) -> bool:
        return key in self._settings

    def get(self, key: str) -> Setting | None:
        return self._settings.get(key)

    def items(self) -> list[Setting]:
        return [self._settings[k] for k in sorted(self._settings)]

    def defaults(self) -> dict[str, Any]:
        """The nested defaults of every key (the schema the config loader checks against)."""
        out: dict[str, Any] = {}
        for key in sorted(self._settings, key=lambda k: k.count(".")):
            node = out
            *parents, leaf = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            default = self._settings[key].default
            if isinstance(default, dict) and isinstance(node.get(leaf), dict):
                continue
            node[leaf] = _copy(default)
        return out

    def options(self, command: str) -> list[Setting]:
        """The plugin options of ``command`` (``train``, ``tune``, ``config show``)."""
        return [s for s in self.items() if s.option and command in s.commands]

    def check_values(self, cfg: dict[str, Any]) -> None:
        """Raise ConfigError for the first value that breaks its key's type or choices."""
        for setting in self._settings.values():
            if setting.type is None and setting.choices is None and setting.minimum is None \
                    and setting.check is None:
                continue
            node: Any = cfg
            for part in setting.key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            problem = setting.problem(node)
            if problem:
                end = "" if problem.endswith("?") else "."  # a did-you-mean closes its own sentence
                raise ConfigError(f"Config key '{setting.key}' {problem}{end}"
                                  + (f" ({setting.help})" if setting.help else ""))

    def rows(self) -> list[dict[str, Any]]:
        """``runner config show --schema``: key, default, owner, option and help of every leaf."""
        out = []
        for s in self.items():
            if isinstance(s.default, dict) and any(k.startswith(s.key + ".") for k in self._settings):
                continue
            owner = self._owner_of[s.key]() if s.key in self._owner_of else s.owner
            out.append({"key": s.key, "default": s.default, "owner": owner, "option": s.option,
                        "help": s.help})
        return out


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)
