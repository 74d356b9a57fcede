"""The loaded config, read typed: ``cfg.split.folds``, ``cfg.tune.cache_max_mb``,
``cfg.section("tracking").enabled``.

:class:`Config` is what :func:`kampai.core.config.load` returns: the merged mapping itself
(``cfg["split"]["folds"]`` and the ``config.yaml`` written into a run are unchanged, and a
plugin handed the config still gets a dict) with attribute access over its checked values.
A :class:`Section` is a read-only view of one section; its values are those the loader
filled from the declarations (:mod:`kampai.core.schema`, plugins' ``kampai_add_settings``)
and checked against them, so a consumer reads them without a default or a check of its own.
:func:`section_of` gives the same view of a plain mapping (a splitter called directly with
``{"folds": 3}``): the core's declared defaults fill what it lacks, and each value is checked.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from kampai.core.errors import ConfigError, did_you_mean


class Section(Mapping[str, Any]):
    """One config section, read by attribute (``split.folds``) or key (``split["folds"]``).

    Free-form values (``model.params``, ``model.search``) come back as the mappings they are."""

    def __init__(self, values: Mapping[str, Any], name: str) -> None:
        self._values = values
        self._name = name

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"Config section '{self._name}' has no key '{key}'."
                                 f"{did_you_mean(key, list(self._values))}") from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Section({self._name!r}, {dict(self._values)!r})"

    def to_dict(self) -> dict[str, Any]:
        """A plain, deep copy of the section's values."""
        return copy.deepcopy(dict(self._values))


class Config(dict):
    """A loaded config: the merged mapping, plus typed reads of its sections and top-level keys."""

    __slots__ = ()

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> Config:
        """``cfg`` as a Config (itself when it is one; a run's config.yaml read back is a dict)."""
        return cfg if isinstance(cfg, Config) else cls(cfg)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self:
            raise AttributeError(f"The config has no key '{name}'.{did_you_mean(name, list(self))}")
        value = self[name]
        return Section(value, name) if isinstance(value, dict) else value

    def section(self, name: str) -> Section:
        """The section ``name`` (a plugin's, e.g. ``tracking``), typed; a ConfigError naming the
        sections there are when it is not one (its plugin is not loaded)."""
        value = self.get(name)
        if not isinstance(value, dict):
            sections = [k for k, v in self.items() if isinstance(v, dict)]
            raise ConfigError(f"The config has no section '{name}'.{did_you_mean(name, sections)} "
                              f"Sections: {', '.join(sections)}.")
        return Section(value, name)

    def to_dict(self) -> dict[str, Any]:
        """A plain, deep copy (what a run's config.yaml holds)."""
        return copy.deepcopy(dict(self))


def section_of(name: str, given: Mapping[str, Any] | None) -> Section:
    """``given`` (a section of a loaded config, or a plain mapping) as a typed :class:`Section`:
    the core's declared defaults of section ``name`` fill the keys it lacks, and every core key
    is checked against its declaration (ConfigError, one line); ``split.seed`` is never null.  Keys the core does not
    declare (a task's own ``split.holdout``) are kept as given."""
    if isinstance(given, Section):
        return given
    from kampai.core.schema import CORE_SETTINGS, DEFAULT_SEED

    values = dict(given or {})
    if name == "split" and values.get("seed") is None:
        # split.seed null = the experiment seed (copied in when a config is resolved; a
        # mapping outside a config: the declared default seed)
        values["seed"] = DEFAULT_SEED
    prefix = name + "."
    for setting in CORE_SETTINGS:
        if not setting.key.startswith(prefix) or "." in setting.key[len(prefix):]:
            continue
        key = setting.key[len(prefix):]
        if values.get(key) is None:  # null = the default, as the loader reads it
            values[key] = copy.deepcopy(setting.default)
        problem = setting.problem(values.get(key))
        if problem:
            raise ConfigError(f"Config key '{setting.key}' {problem}.")
    return Section(values, name)
