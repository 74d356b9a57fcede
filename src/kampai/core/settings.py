"""Every config key and every plugin CLI option, with its owner, type, default and help.

The core's keys are the packaged ``kampai/conf/defaults.yaml`` (its comments are their
help).  A plugin adds its own through the ``kampai_add_settings`` hook, as tox's
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
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

from kampai.core.errors import ConfigError, PluginError

#: what a plugin-declared setting may not redefine: sections the core owns as a whole
CORE_OWNER = "core"
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


#: core keys whose type or range the default alone does not tell: (types, minimum)
CORE_TYPES: dict[str, tuple[Any, float | None]] = {
    "seed": (int, 0), "split.folds": (int, 2), "split.test_size": ((int, float), 0),
    "split.seed": (int, 0), "tune.trials": (int, 1), "tune.timeout": ((int, float), 0),
    "tune.jobs": (int, 1), "tune.max_failures": (int, 0), "tune.startup_trials": (int, 0),
    "tune.top": (int, 1), "tune.study": (str, None), "tune.storage": (str, None),
    "tune.metric": (str, None), "tune.direction": (str, None), "task": (str, None), "framework": (str, None),
    "name": ((str, int), None), "metrics": (list, None), "data.features": (list, None),
    "data.target": ((str, list, int), None), "data.group": ((str, int), None), "data.time": ((str, int), None),
    "split.method": (str, None), "split.refit": (bool, None), "tune.refit": (bool, None),
    "tune.cache_dir": (str, None), "tune.output_dir": (str, None), "tune.cache_max_mb": ((int, float), 0),
    "tune.trial_metrics": (str, None), "model.include": (list, None),
}


def _type_of(default: Any) -> Any:
    """The type a core key takes, from its default (None: any; a float also takes an int)."""
    if default is None or isinstance(default, dict):
        return None
    if isinstance(default, bool):
        return bool
    if isinstance(default, float):
        return (int, float)
    return type(default)


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
            return f"must be one of {', '.join(map(str, self.choices))}, got {value!r}"
        if self.minimum is not None and isinstance(value, (int, float)) and value < self.minimum:
            return f"must be >= {self.minimum:g}, got {value!r}"
        if self.key == "device" and not DEVICE_PATTERN.match(str(value).lower()):
            return f"must be auto, cpu, cuda, cuda:N or mps, got {value!r}"
        if self.check is not None:
            return self.check(value)
        return None


class SettingRegistry:
    """The assembled schema: the core's keys plus every loaded plugin's."""

    def __init__(self) -> None:
        self._settings: dict[str, Setting] = {}
        #: set by the host while a plugin's ``kampai_add_settings`` runs
        self.current_plugin = "?"

    @classmethod
    def core(cls) -> SettingRegistry:
        registry = cls()
        for key, default, help_text in _core_keys():
            kind, minimum = CORE_TYPES.get(key, (_type_of(default), None))
            registry._settings[key] = Setting(key, default, help_text, type=kind, minimum=minimum,
                                              owner=CORE_OWNER)
        return registry

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

    def add_capability_settings(self, host: Any) -> None:
        """Keys the core declares for what plugins provide: ``device`` (``--device``) exists
        when a loaded framework trains on a device, with one rule for the values;
        ``output.serializer`` (``--serializer``) when a plugin registers a serializer."""
        serializers = list(host.serializers())
        if serializers and "output.serializer" not in self._settings:
            self._settings["output.serializer"] = Setting(
                "output.serializer", None, "null = the framework's own model format; or a serializer "
                f"plugin ({', '.join(serializers)})", type=str, option="--serializer", commands=("train",),
                owner=f"core (serializer plugins: {', '.join(host.serializers().provided_by[n] for n in serializers)})")
        able = [n for n, f in host.frameworks().items() if "device" in f.capabilities]
        if able and "device" not in self._settings:
            self._settings["device"] = Setting(
                "device", "auto", "auto | cpu | cuda | cuda:N | mps: where frameworks with the 'device' "
                "capability train (auto = cuda if present)", type=str, option="--device",
                owner=f"core (device frameworks: {', '.join(able)})")

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
            if setting.type is None and setting.choices is None and setting.key != "device" \
                    and setting.minimum is None and setting.check is None:
                continue
            node: Any = cfg
            for part in setting.key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            problem = setting.problem(node)
            if problem:
                raise ConfigError(f"Config key '{setting.key}' {problem}."
                                  + (f" ({setting.help})" if setting.help else ""))

    def rows(self) -> list[dict[str, Any]]:
        """``runner config show --schema``: key, default, owner, option and help of every leaf."""
        out = []
        for s in self.items():
            if isinstance(s.default, dict) and s.default and any(k.startswith(s.key + ".") for k in self._settings):
                continue
            out.append({"key": s.key, "default": s.default, "owner": s.owner, "option": s.option,
                        "help": s.help})
        return out


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


@cache
def _core_keys() -> tuple[tuple[str, Any, str], ...]:
    """``(dotted key, default, help)`` for every key of defaults.yaml, help from its comments."""
    from omegaconf import OmegaConf

    text = resources.files("kampai.conf").joinpath("defaults.yaml").read_text()
    values = OmegaConf.to_container(OmegaConf.create(text), resolve=True)
    helps: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    last = None
    for line in text.splitlines():
        match = re.match(r"^(\s*)([A-Za-z_][\w-]*):(.*)$", line)
        if match:
            indent, name, rest = len(match.group(1)), match.group(2), match.group(3)
            while stack and stack[-1][0] >= indent:
                stack.pop()
            key = ".".join([*(k for _, k in stack), name])
            stack.append((indent, name))
            helps[key] = rest.partition("#")[2].strip()
            last = key
        elif last and line.strip().startswith("#") and line.startswith(" "):
            helps[last] = (helps[last] + " " + line.strip().lstrip("#").strip()).strip()
    out = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, value in node.items():
            key = f"{prefix}{name}"
            out.append((key, value, helps.get(key, "")))
            if isinstance(value, dict) and value:
                walk(value, key + ".")

    walk(values, "")  # type: ignore[arg-type]
    return tuple(out)
