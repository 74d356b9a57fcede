"""One place for all parameters: the experiment config.

Layers, later wins: the declared defaults (:mod:`kampai.core.schema`, plugins' settings) <
the experiment YAML (``-c``) < the environment (``KAMPAI_TRACKING__ENABLED=false``: see
:func:`env_layer`) < CLI flags (``--task``, ``--data`` ...) < dotted overrides
(``model.params.max_depth=5``).  Every key is checked against the defaults; an unknown
key is a :class:`ConfigError` with a did-you-mean.  Free-form sections
(``model.params``, ``model.search``) are checked later by the framework, against the
real model.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core.errors import ConfigError, did_you_mean
from kampai.core.settings import CORE_OWNER
from kampai.core.typed import Config

if TYPE_CHECKING:
    from kampai.core.settings import SettingRegistry

#: sections whose keys belong to the user or the framework, not to this schema
FREE_FORM = {("model", "params"), ("model", "search")}
#: sections a task may extend with its own keys (checked by :func:`check_task_keys`)
TASK_SECTIONS = ("data", "split")


def _read_yaml(path: Path) -> dict[str, Any]:
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException
    from yaml import YAMLError

    from kampai.core.yamlsafe import load_yaml

    if not path.is_file():
        raise ConfigError(f"Config file '{path}' does not exist.")
    try:
        with open(path, encoding="utf-8") as handle:
            # bounded: a file of nested aliases or 5,000 levels is one line, not minutes or a crash
            data = load_yaml(handle, _omegaconf_loader())
        if data is not None and not isinstance(data, dict):
            raise ConfigError(f"Config file '{path}' must hold a mapping at the top level.")
        loaded = OmegaConf.create(data or {})
    except UnicodeDecodeError as exc:
        raise ConfigError(f"Config file '{path}' is not valid UTF-8 text (byte {exc.start}): save it as "
                          "UTF-8 YAML.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read config file '{path}': {exc.strerror or exc}.") from None
    except (YAMLError, OmegaConfBaseException) as exc:
        detail = " ".join(str(exc).split())  # one line, as every expected error
        raise ConfigError(f"Config file '{path}' is not valid YAML: {detail}") from None
    data = OmegaConf.to_container(loaded, resolve=False)
    if not isinstance(data, dict):
        raise ConfigError(f"Config file '{path}' must hold a mapping at the top level.")
    return data


#: ``KAMPAI_<SECTION>__<KEY>`` (double underscores between the parts) sets ``section.key``
ENV_PREFIX = "KAMPAI_"


def env_layer(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The config keys the environment sets: ``KAMPAI_TRACKING__ENABLED=false`` is
    ``tracking.enabled=false``, ``KAMPAI_SPLIT__FOLDS=3`` is ``split.folds=3`` (names
    lower-cased, values typed by YAML rules as overrides are).  Only names holding ``__`` are
    read, so ``KAMPAI_CACHE_DIR`` and the plugin switches are not config keys.  Checked as any
    layer by :func:`load`, except that a section no loaded plugin declares is ignored there.

    The switches of CI jobs and test suites are such keys: ``KAMPAI_TRACKING__ENABLED=false``
    (log nothing to MLflow), ``KAMPAI_TRACKING__BACKGROUND=false`` (push in the foreground),
    ``KAMPAI_REPORT__AFTER_TRAIN=off`` (no report.html per run)."""
    environ = os.environ if environ is None else environ
    items = [f"{name[len(ENV_PREFIX):].lower().replace('__', '.')}={value}"
             for name, value in sorted(environ.items()) if name.startswith(ENV_PREFIX) and "__" in name]
    return parse_overrides(items) if items else {}


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["model.params.max_depth=5"]`` -> nested dict, values typed by YAML rules."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException
    from yaml import YAMLError

    from kampai.core.yamlsafe import load_yaml

    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"Override '{item}' must look like 'section.key=value'.")
    try:
        for item in overrides:  # the same bounds as a config file, before OmegaConf expands it
            load_yaml(item.partition("=")[2], _omegaconf_loader())
        return OmegaConf.to_container(OmegaConf.from_dotlist(list(overrides)))  # type: ignore[return-value]
    except (OmegaConfBaseException, YAMLError) as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"Cannot parse overrides {overrides}: {detail} (values are YAML: quote a string "
                          "that holds ':', '[' or '{').") from None


#: sections whose entries a higher layer replaces whole (a search range given as an
#: override is the range: a lower layer's ``log: true`` must not survive into it)
WHOLE_ENTRIES = (("model", "search"),)


def merge(base: dict[str, Any], top: dict[str, Any], *, whole: tuple[tuple[str, ...], ...] = (),
          _where: tuple[str, ...] = ()) -> dict[str, Any]:
    """Deep-merge ``top`` into a copy of ``base`` (mappings merge, other values replace);
    the entries of the sections named in ``whole`` are replaced, not merged."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and _where not in whole:
            out[key] = merge(out[key], value, whole=whole, _where=(*_where, str(key)))
        else:
            out[key] = copy.deepcopy(value)
    return out


def check_keys(user: dict[str, Any], schema: dict[str, Any], extra: dict[tuple, set[str]],
               where: tuple[str, ...] = ()) -> None:
    """Raise ConfigError for the first key of ``user`` that ``schema`` does not know."""
    for key, value in user.items():
        allowed = set(schema) | extra.get(where, set())
        dotted = ".".join((*where, str(key)))
        if key not in allowed:
            hint = did_you_mean(str(key), allowed)
            raise ConfigError(f"Unknown config key '{dotted}'.{hint} Valid keys here: "
                              f"{', '.join(sorted(allowed))}.")
        sub = (*where, key)
        if sub in FREE_FORM:
            if value is not None and not isinstance(value, dict):
                raise ConfigError(f"Config key '{dotted}' must be a mapping, got {value!r}.")
            continue
        # a section with extra keys (model: the framework's own) is still checked below,
        # so model.params must be a mapping even before the framework is known
        if isinstance(schema.get(key), dict) or sub in extra:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"Config key '{dotted}' must be a mapping, got {value!r}.")
            check_keys(value, schema.get(key) or {}, extra, sub)


def load(config: str | Path | None = None, flags: dict[str, Any] | None = None,
         overrides: list[str] | None = None, *, settings: SettingRegistry,
         unloaded: Sequence[str] = ()) -> Config:
    """The user's layers merged (YAML < environment < flags < overrides), keys checked,
    defaults filled: a :class:`~kampai.core.typed.Config` (``cfg.split.folds``; still the
    merged dict).  A core key set to null that declares a default other than null gets that
    default.

    ``settings`` holds every key (the core's and the loaded plugins', see
    :func:`kampai.core.hosted.load_config`); ``unloaded`` names the plugins not loaded
    (``"name (status)"``), whose keys an unknown-key error mentions.

    The environment is shared by every command of a shell or CI job, which do not all load the
    same plugins: its variables for a section no loaded plugin declares
    (``KAMPAI_TRACKING__ENABLED`` under ``-p no:mlflow``) are ignored; in a declared section an
    unknown key is an error, as in any layer.

    Framework-specific ``model`` keys (``model.preprocess`` for scikit-learn) are checked
    once the framework is known, by :func:`check_framework_keys`.
    """
    user: dict[str, Any] = {}
    if config is not None:
        user = _read_yaml(Path(config))
    flag_layer: dict[str, Any] = {}
    for dotted, value in (flags or {}).items():
        if value is None:
            continue
        node = flag_layer
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    defaults = settings.defaults()
    # a section no loaded plugin declares is another command's (a blocked or absent plugin's)
    environment = {key: value for key, value in env_layer().items() if key in defaults}
    user = merge(user, environment, whole=WHOLE_ENTRIES)
    user = merge(user, flag_layer, whole=WHOLE_ENTRIES)
    user = merge(user, parse_overrides(list(overrides or [])), whole=WHOLE_ENTRIES)
    model_keys = set((user.get("model") or {}).keys()) - set(defaults["model"])
    # framework keys (model.*) and task keys (data.*, split.*) are checked later, when the
    # framework and task are known
    later = {(s,): set((user.get(s) or {}) if isinstance(user.get(s), dict) else ()) - set(defaults[s])
             for s in TASK_SECTIONS}
    try:
        check_keys(user, defaults, {("model",): model_keys, **later})
    except ConfigError as exc:
        raise ConfigError(str(exc) + _absent_plugins_hint(unloaded)) from None
    cfg = merge(defaults, _drop_empty_sections(user, defaults))
    _null_means_default(cfg)
    settings.check_values(cfg)
    return Config(cfg)


def _null_means_default(cfg: dict[str, Any]) -> None:
    """``split.folds: null`` is the declared default (5), not a None every reader must guard."""
    from kampai.core.schema import CORE_SETTINGS

    for setting in CORE_SETTINGS:
        if setting.default is None or isinstance(setting.default, dict):
            continue
        *parents, leaf = setting.key.split(".")
        node: Any = cfg
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(leaf, 0) is None:
            node[leaf] = copy.deepcopy(setting.default)


def _absent_plugins_hint(unloaded: Sequence[str]) -> str:
    """An unknown key may belong to a plugin that is not loaded: say which ones are not."""
    return f" Plugins not loaded, whose keys are unknown: {', '.join(unloaded)}." if unloaded else ""


def _drop_empty_sections(user: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``model:`` with every child commented out is YAML null: it means "the defaults",
    not "no model section" (which would crash later)."""
    out = {}
    for key, value in user.items():
        default = schema.get(key)
        if isinstance(default, dict) and default:
            if value is None:
                continue
            if isinstance(value, dict):
                value = _drop_empty_sections(value, default)
        out[key] = value
    return out


def check_framework_keys(cfg: dict[str, Any], framework: Any) -> None:
    """Model keys beyond estimator/params/search/include must be ones the framework declares."""
    allowed = {"estimator", "params", "search", "include", *framework.model_keys}
    for key in cfg.get("model") or {}:
        if key not in allowed:
            raise ConfigError(
                f"Unknown config key 'model.{key}' for framework '{framework.name}'."
                f"{did_you_mean(key, allowed)} Valid keys here: {', '.join(sorted(allowed))}."
            )


def check_task_keys(cfg: dict[str, Any], task: Any, settings: SettingRegistry, tasks: Iterable[Any] = ()) -> None:
    """``data``/``split`` keys beyond the core's must be ones the task declares
    (``Task.data_keys`` / ``Task.split_keys``, e.g. forecasting's ``split.horizon``).

    ``tasks`` are every registered task: a key another task declares (recommendation's
    ``data.user``) is not one of this task's, so a typo is matched and listed against this
    task's keys and the core's only; keys no task declares (a plugin's ``data.text``) stay valid."""
    defaults = settings.defaults()
    own = {section: set(getattr(task, f"{section}_keys", ())) for section in TASK_SECTIONS}
    for section in TASK_SECTIONS:
        others = {key for other in tasks if getattr(other, "name", None) != task.name
                  for key in getattr(other, f"{section}_keys", ())}
        core = {key for key in defaults[section]
                if getattr(settings.get(f"{section}.{key}"), "owner", CORE_OWNER) == CORE_OWNER}
        allowed = (set(defaults[section]) - others) | core | own[section]
        for key, value in (cfg.get(section) or {}).items():
            # every plugin's keys are in a loaded config with their defaults: only a value set
            # to something else is another task's key used here
            if key not in allowed and (key not in defaults[section] or value != defaults[section][key]):
                hint = did_you_mean(key, allowed) or _other_section_hint(key, section, own)
                raise ConfigError(
                    f"Unknown config key '{section}.{key}' for task '{task.name}'."
                    f"{hint} Valid keys here: {', '.join(sorted(allowed))}."
                )


def _other_section_hint(key: str, section: str, own: dict[str, set[str]]) -> str:
    """Forecasting's ``data.horizn`` is this task's ``split.horizon``: name it with its section."""
    for other, keys in own.items():
        hint = did_you_mean(key, keys) if other != section else ""
        if hint:
            return hint.replace(" '", f" '{other}.")
    return ""


def to_yaml(cfg: dict[str, Any]) -> str:
    """The config as YAML, exactly as ``OmegaConf.to_yaml(OmegaConf.create(cfg))`` writes it.

    A config of plain values (dicts with text keys, lists, text, numbers, booleans, None:
    every config the CLI and the API make) goes straight to OmegaConf's YAML dumper, without
    building the OmegaConf tree first (that tree was most of the time a run spent writing
    config.yaml); anything else takes OmegaConf's whole path, with its conversions and errors."""
    plain = _plain(cfg)
    if plain is not None:
        try:
            import yaml
            from omegaconf._utils import get_omega_conf_dumper
        except ImportError:
            pass
        else:  # the arguments of OmegaConf.to_yaml
            return yaml.dump(plain, default_flow_style=False, allow_unicode=True, sort_keys=False,
                             Dumper=get_omega_conf_dumper())
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(cfg))


def read_yaml_file(path: Path) -> Any:
    """What ``OmegaConf.to_container(OmegaConf.load(path))`` gives (a run's config.yaml),
    parsed by OmegaConf's own YAML loader; a file of plain values skips building the
    OmegaConf tree (most of the time of a read), anything else goes through it."""
    return parse_yaml_bytes(Path(path).read_bytes())


def parse_yaml_bytes(data: bytes) -> Any:
    """:func:`read_yaml_file` of bytes already read (a run's verified ``config.yaml``)."""
    from omegaconf import OmegaConf

    from kampai.core.yamlsafe import load_yaml

    loaded = load_yaml(data.decode("utf-8"), _omegaconf_loader())  # bounded, like a user's config
    plain = _plain(loaded) if type(loaded) is dict else None
    return plain if plain is not None else OmegaConf.to_container(OmegaConf.create(loaded))


def _omegaconf_loader() -> type | None:
    """OmegaConf's own YAML loader (a SafeLoader with its float and duplicate-key rules)."""
    try:
        from omegaconf._utils import get_yaml_loader
    except ImportError:  # a private helper: a plain SafeLoader where it is gone
        return None
    return get_yaml_loader()


_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists (what OmegaConf makes of them), or None when it holds
    anything but plain values (an exact type check: no subclasses, enums, paths ...)."""
    kind = type(value)
    if kind is dict or kind is Config:
        out = {}
        for key, item in value.items():
            converted = _plain(item)
            if type(key) is not str or (converted is None and item is not None):
                return None
            out[key] = converted
        return out
    if kind is list or kind is tuple:
        items = [_plain(item) for item in value]
        if any(c is None and i is not None for c, i in zip(items, value, strict=True)):
            return None
        return items
    return value if kind in _SCALARS else None
