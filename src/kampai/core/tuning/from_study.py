"""Registry mode: from a study to a normal run (``train --from-study``, ``tune.refit``)."""

from __future__ import annotations

from typing import Any

from kampai.core import config as config_mod
from kampai.core.errors import TuneError, unknown
from kampai.core.tuning import record
from kampai.core.tuning.resume import META_KEY, SIG_KEY
from kampai.core.tuning.storage import mask, open_storage, resolve_url


def best_of(study: Any) -> Any:
    """The study's best trial, or None before the first completed one."""
    try:
        return study.best_trial
    except ValueError:
        return None


def best_config(cfg: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """``cfg`` with the study's best params in ``model.params`` (the search space stays)."""
    out = config_mod.merge(cfg, {})
    out["model"]["params"] = {**(out["model"].get("params") or {}), **params}
    return out


def study_config(name: str, storage: str | None = None, base: dict[str, Any] | None = None,
                 overrides: list[str] | None = None, runs_dir: str | None = None) -> dict[str, Any]:
    """The config of study ``name`` (or ``base``) with its best params: ``train --from-study``.

    Without ``base``, the study's recorded config is used, with ``overrides`` (dotted) and
    ``runs_dir`` applied on top.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = resolve_url(storage)
    store = open_storage(url)
    try:
        study = optuna.load_study(study_name=name, storage=store)
    except KeyError:
        names = optuna.get_all_study_names(storage=store)
        raise unknown(f"study in '{mask(url)}'", name, names) from None
    best = best_of(study)
    if best is None:
        raise TuneError(f"Study '{name}' has no completed trial yet.")
    meta = study.user_attrs.get(META_KEY)
    why = None if meta is None else record.problem(meta, study.user_attrs.get(SIG_KEY))
    if base is None:
        if not isinstance(meta, dict) or not meta.get("config"):
            raise TuneError(f"Study '{name}' was not created by kampai: pass -c CONFIG with it.")
        if why is not None:
            raise TuneError(f"Study '{name}': its recorded config {why}, so it is not used (a config names "
                            "classes to build). Pass your own with -c CONFIG, or tune again with this "
                            "machine's key (docs/tuning.md).")
    # the trials' params are data: checked against the signed search space, else the user's
    space = meta.get("space") if why is None and isinstance(meta, dict) else (base.get("model") or {}).get("search")
    params = record.checked_params(dict(best.params), space if isinstance(space, dict) else None, name)
    if base is None:
        base = config_mod.merge(meta["config"], config_mod.parse_overrides(list(overrides or [])))
        if runs_dir:
            base["output"]["runs_dir"] = runs_dir
    return best_config(base, params)
