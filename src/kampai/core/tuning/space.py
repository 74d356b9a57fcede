"""The search space: parsed and checked from ``model.search``, sampled per trial.

Forms a ``model.search`` entry may take (names are ``model.params`` names, nested pipeline
names with ``__`` included)::

    n_estimators: {type: int, low: 50, high: 400, log: true}
    max_depth: {type: int, low: 2, high: 12, step: 2}
    learning_rate: {type: float, low: 0.01, high: 0.3, log: true}
    subsample: {type: float, low: 0.5, high: 1.0, step: 0.1}
    criterion: {type: categorical, choices: [gini, entropy]}
    class_weight: [null, balanced]            # a list is a categorical
    l1_ratio: {type: float, low: 0, high: 1, when: {penalty: elasticnet}}   # conditional

``type`` may be left out: ``choices`` make a categorical, integer bounds an int, other
bounds a float.  ``when: {param: value}`` (or a list of values; several params must all
match) samples the entry only when the categorical ``param`` took one of those values,
so each trial holds only the params that apply.  Grid mode enumerates categoricals,
ints (with their step, default 1) and floats with a ``step``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kampai.core.errors import ConfigError, TuneError, did_you_mean

TYPES = ("int", "float", "categorical")
KEYS = ("type", "low", "high", "log", "step", "choices", "when")
MAX_GRID = 100_000


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Dimension:
    """One tuned parameter."""

    name: str
    type: str
    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None
    choices: tuple[Any, ...] = ()
    #: ``((param, (allowed values...)), ...)``: sampled only when all hold
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def active(self, params: Mapping[str, Any]) -> bool:
        return all(p in params and params[p] in allowed for p, allowed in self.when)

    def suggest(self, trial: Any) -> Any:
        if self.type == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.type == "int":
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def first(self) -> Any:
        """A valid value (to check the name against the model before any trial)."""
        return self.choices[0] if self.type == "categorical" else self.low

    def count(self) -> int:
        """How many values :meth:`grid_values` lists, without listing them (an int range of
        a billion values is counted, not built)."""
        if self.type == "int":
            return len(range(self.low, self.high + 1, self.step or 1))
        return len(self.grid_values())

    def grid_values(self) -> list[Any]:
        if self.type == "categorical":
            return list(self.choices)
        if self.type == "int":
            return list(range(self.low, self.high + 1, self.step or 1))
        if self.step is None:
            raise TuneError(f"Grid mode needs a step for the float parameter 'model.search."
                            f"{self.name}' (or list its values: {{choices: [...]}}).")
        n = math.floor((self.high - self.low) / self.step + 1e-9)
        return [round(self.low + i * self.step, 12) for i in range(n + 1)]

    def to_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "categorical":
            out["choices"] = list(self.choices)
        else:
            out.update(low=self.low, high=self.high)
            if self.log:
                out["log"] = True
            if self.step is not None:
                out["step"] = self.step
        if self.when:
            out["when"] = {p: list(v) if len(v) > 1 else v[0] for p, v in self.when}
        return out


@dataclass
class SearchSpace:
    """Dimensions in sampling order (a conditional entry after the params it depends on)."""

    dims: list[Dimension] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.dims)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dims]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Sample this trial's params (only the active conditional ones)."""
        params: dict[str, Any] = {}
        for dim in self.dims:
            if dim.active(params):
                params[dim.name] = dim.suggest(trial)
        return params

    def probe(self) -> dict[str, Any]:
        """One valid point, every dimension included (name checks)."""
        return {d.name: d.first() for d in self.dims}

    def grid(self) -> list[dict[str, Any]]:
        """Every combination, each once (conditional entries only where they apply)."""
        combos: list[dict[str, Any]] = [{}]
        for dim in self.dims:
            if dim.count() > MAX_GRID:
                raise TuneError(f"The grid has more than {MAX_GRID:,} combinations: use a "
                                "sampler (tpe, random) or coarser steps.")
            values = dim.grid_values()
            grown = []
            for combo in combos:
                if dim.active(combo):
                    grown.extend({**combo, dim.name: v} for v in values)
                else:
                    grown.append(combo)
                if len(grown) > MAX_GRID:
                    raise TuneError(f"The grid has more than {MAX_GRID:,} combinations: use a "
                                    "sampler (tpe, random) or coarser steps.")
            combos = grown
        return combos

    def signature(self) -> dict[str, str]:
        """``{name: type}``: a resumed study must keep it (ranges may change)."""
        return {d.name: d.type for d in self.dims}

    def to_config(self) -> dict[str, Any]:
        return {d.name: d.to_config() for d in self.dims}


def _bad(name: str, message: str) -> ConfigError:
    return ConfigError(f"Search space entry 'model.search.{name}': {message}")


def _dimension(name: str, spec: Any) -> tuple[Dimension, dict[str, Any]]:
    if isinstance(spec, (list, tuple)):
        spec = {"type": "categorical", "choices": list(spec)}
    if not isinstance(spec, Mapping):
        raise _bad(name, f"expected a mapping such as {{type: int, low: 1, high: 10}} or a list "
                         f"of choices, got {spec!r}.")
    for key in spec:
        if key not in KEYS:
            raise _bad(name, f"unknown key '{key}'.{did_you_mean(str(key), KEYS)} Valid keys: "
                             f"{', '.join(KEYS)}.")
    kind = spec.get("type")
    if kind is None:
        kind = ("categorical" if "choices" in spec else
                "int" if _is_int(spec.get("low")) and _is_int(spec.get("high")) else "float")
    if kind not in TYPES:
        raise _bad(name, f"unknown type '{kind}'.{did_you_mean(str(kind), TYPES)} Types: "
                         f"{', '.join(TYPES)}.")
    when = spec.get("when") or {}
    if not isinstance(when, Mapping):
        raise _bad(name, f"'when' must map a categorical param to its value(s), got {when!r}.")
    conditions = tuple((str(p), tuple(v) if isinstance(v, (list, tuple)) else (v,))
                       for p, v in when.items())
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, (list, tuple)) or not choices:
            raise _bad(name, "a categorical needs a non-empty list 'choices'.")
        for choice in choices:
            if choice is not None and not isinstance(choice, (bool, int, float, str)):
                raise _bad(name, f"choice {choice!r} is not a number, string, boolean or null.")
        if len({repr(c) for c in choices}) != len(choices):
            raise _bad(name, "'choices' holds duplicates.")
        extra = [k for k in ("low", "high", "log", "step") if k in spec]
        if extra:
            raise _bad(name, f"a categorical takes 'choices', not {', '.join(extra)}.")
        return Dimension(name, kind, choices=tuple(choices), when=conditions), dict(spec)
    low, high, log, step = spec.get("low"), spec.get("high"), bool(spec.get("log", False)), spec.get("step")
    if "choices" in spec:
        raise _bad(name, f"type {kind} takes low/high, not 'choices' (use type: categorical).")
    check = _is_int if kind == "int" else _is_number
    for key, value in (("low", low), ("high", high)):
        if not check(value):
            raise _bad(name, f"'{key}' must be {'an integer' if kind == 'int' else 'a number'}, got {value!r}.")
    if low > high:
        raise _bad(name, f"low ({low}) is above high ({high}).")
    if step is not None:
        if not check(step) or step <= 0:
            raise _bad(name, f"'step' must be a positive {'integer' if kind == 'int' else 'number'}, got {step!r}.")
        if log and not (kind == "int" and step == 1):
            raise _bad(name, "'step' and 'log' cannot be used together.")
    if log and low <= 0:
        raise _bad(name, f"a log scale needs low > 0, got {low}.")
    if kind == "float":
        low, high = float(low), float(high)
        step = float(step) if step is not None else None
    return Dimension(name, kind, low=low, high=high, log=log, step=step, when=conditions), dict(spec)


def parse(search: Mapping[str, Any] | None) -> SearchSpace:
    """``model.search`` -> a checked :class:`SearchSpace` (empty when ``search`` is)."""
    if search is None:
        return SearchSpace()
    if not isinstance(search, Mapping):
        raise ConfigError(f"model.search must be a mapping of param -> range, got {search!r}.")
    dims = {str(name): _dimension(str(name), spec)[0] for name, spec in search.items()}
    for dim in dims.values():
        for param, allowed in dim.when:
            if param not in dims:
                raise _bad(dim.name, f"'when' names '{param}', which is not in the search space."
                                     f"{did_you_mean(param, dims)}")
            parent = dims[param]
            if parent.type != "categorical":
                raise _bad(dim.name, f"'when' must name a categorical entry; '{param}' is {parent.type}.")
            for value in allowed:
                if value not in parent.choices:
                    raise _bad(dim.name, f"'when: {{{param}: {value!r}}}' is not one of "
                                         f"{param}'s choices {list(parent.choices)}.")
    ordered: list[Dimension] = []
    placed: set[str] = set()
    pending = list(dims.values())
    while pending:
        ready = [d for d in pending if all(p in placed for p, _ in d.when)]
        if not ready:
            raise _bad(pending[0].name, "its 'when' conditions form a cycle: "
                                        f"{', '.join(d.name for d in pending)}.")
        for dim in ready:
            ordered.append(dim)
            placed.add(dim.name)
        pending = [d for d in pending if d.name not in placed]
    return SearchSpace(ordered)
