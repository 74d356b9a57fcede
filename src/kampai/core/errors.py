"""Errors shown to the user.

Anything raised as a :class:`KampaiError` is an *expected* failure (bad config, missing
file, unknown name): the CLI prints its message in one line and exits with code 2, with
no traceback unless ``--debug`` is given.  Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable


class KampaiError(Exception):
    """An expected, user-facing failure. ``str(err)`` is what the user reads."""

    exit_code = 2


class ConfigError(KampaiError):
    """The experiment config (file, flags or overrides) is wrong."""


class DataError(KampaiError):
    """The data cannot be read or does not fit the task's data contract."""


class UnknownNameError(KampaiError):
    """A name (task, framework, estimator, metric, split ...) is not registered."""


class PluginError(KampaiError):
    """A plugin could not be loaded or broke a contract; the message names the plugin."""


class RunError(KampaiError):
    """A run directory is missing, incomplete or corrupt."""


class TuneError(KampaiError):
    """A tuning study cannot start or go on (bad search space, sampler, storage, study)."""


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """Return ``" Did you mean 'x' or 'y'?"`` (or ``""``) for a mistyped ``name``."""
    pool = list(candidates)
    close = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), lowered, n=n)]
    if not close:
        # a suffix match catches 'strategy' -> 'preprocess__num__imputer__strategy'
        close = [c for c in pool if c.endswith("__" + name) or c.endswith("." + name)][:n]
    if not close:
        return ""
    return " Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def check_params(given: Iterable[str], valid: Iterable[str], where: str, *,
                 suggest: Iterable[str] | None = None, hint: str | None = None,
                 prefix: str = "model.params.") -> None:
    """The one "Unknown parameter" error of every framework: raise a ConfigError for the first
    name of ``given`` not in ``valid``, e.g. ``Unknown parameter 'model.params.lrr' for PyG model
    'GCN'. Did you mean 'lr'? Valid: dropout, hidden, lr.``.  ``where`` completes "for ..."
    (empty: nothing); ``suggest`` is the pool of the did-you-mean (default ``valid``); ``hint``
    replaces the closing "Valid: ..." sentence."""
    allowed = set(valid)
    for key in given:
        if key in allowed:
            continue
        pool = sorted(allowed if suggest is None else set(suggest))
        closing = hint if hint is not None else f"Valid: {', '.join(pool) or 'none'}."
        raise ConfigError(f"Unknown parameter '{prefix}{key}'{f' for {where}' if where else ''}."
                          f"{did_you_mean(str(key), pool)} {closing}")


def unknown(kind: str, name: str, known: Iterable[str], hint: str = "") -> UnknownNameError:
    """Build the one 'unknown X' error used for every registry lookup."""
    known = sorted(known)
    msg = f"Unknown {kind} '{name}'.{did_you_mean(name, known)}"
    if known and len(known) <= 15:
        msg += f" Known: {', '.join(known)}."
    if hint:
        msg += f" {hint}"
    return UnknownNameError(msg)


#: the one rule for every name that becomes part of a path or a key (runs, studies, registry)
NAME_RULE = ("letters, digits, '.', '_' and '-', starting with a letter or a digit, at most 100 "
             "characters (no '/', no '..')")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_name(kind: str, name: object) -> str:
    """``name`` if it is a valid run, study or registry name, else a ConfigError naming the rule."""
    text = str(name)
    if not _NAME.fullmatch(text) or ".." in text:
        raise ConfigError(f"Invalid {kind} name {text!r}: use {NAME_RULE}.")
    return text
