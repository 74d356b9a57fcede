"""Step 3 of ``runner tune``: create or load the study under the study lock, and refuse a
resume whose task, estimator, metric, direction, data or param types changed.

The study's record (config, search space ...) is stored with its HMAC
(:mod:`kampai.core.tuning.record`): ``train --from-study`` trusts only a signed record.
"""

from __future__ import annotations

from typing import Any

from kampai.core.errors import TuneError
from kampai.core.tuning import record
from kampai.core.tuning.objective import Plan
from kampai.core.tuning.storage import StudyLock, open_storage

META_KEY = "kampai"
#: the HMAC of META_KEY's value (kampai.core.tuning.record)
SIG_KEY = "kampai_signature"


def open_study(plan: Plan, meta: dict[str, Any]) -> Any:
    """Create or load the study (under the lock); refuse an incompatible resume."""
    import optuna

    storage = open_storage(plan.storage_url)
    lock = StudyLock(plan.storage_url, plan.study_name)
    try:
        with lock:
            try:
                study = optuna.load_study(study_name=plan.study_name, storage=storage)
            except KeyError:
                study = optuna.create_study(study_name=plan.study_name, storage=storage,
                                            direction=plan.direction)
            old = study.user_attrs.get(META_KEY)
            if old:
                _check_resume(plan, old, meta)
                if not _signed_by_us(study):
                    _record(study, meta)  # an unsigned (older) record: this run's own, signed
                elif old.get("space") != meta["space"]:
                    _record(study, {**old, "space": meta["space"], "config": meta["config"]})
            else:
                if study.trials and study.direction.name.lower() != plan.direction:
                    raise TuneError(f"Study '{plan.study_name}' exists and {study.direction.name.lower()}s;"
                                    f" this config asks to {plan.direction}.")
                _record(study, meta)
    finally:
        lock.close()
    return study


def _record(study: Any, meta: dict[str, Any]) -> None:
    """Store ``meta`` (config, search space ...) with its HMAC: ``train --from-study`` trusts
    only a recorded config signed with this key (anyone who can write the database file could
    otherwise put code-running config into it)."""
    study.set_user_attr(META_KEY, meta)
    study.set_user_attr(SIG_KEY, record.seal(meta))


def _signed_by_us(study: Any) -> bool:
    return record.problem(study.user_attrs.get(META_KEY), study.user_attrs.get(SIG_KEY)) is None


def _check_resume(plan: Plan, old: dict[str, Any], new: dict[str, Any]) -> None:
    problems = []
    for key in ("task", "framework", "estimator", "metric", "direction", "fingerprint"):
        if old.get(key) != new.get(key):
            what = "the data" if key == "fingerprint" else key
            problems.append(f"{what} was {old.get(key)!r}, now {new.get(key)!r}")
    before, now = old.get("signature") or {}, new["signature"]
    for name in sorted(set(before) | set(now)):
        if name not in now:
            problems.append(f"param '{name}' was removed")
        elif name not in before:
            problems.append(f"param '{name}' was added")
        elif before[name] != now[name]:
            problems.append(f"param '{name}' was {before[name]}, now {now[name]}")
    if (old.get("sampler") == "grid") != (new["sampler"] == "grid"):
        problems.append(f"the sampler was {old.get('sampler')!r}, now {new['sampler']!r}")
    elif new["sampler"] == "grid" and old.get("space") != new["space"]:
        problems.append("the grid changed")
    if problems:
        raise TuneError(f"Study '{plan.study_name}' cannot resume with this config: "
                        f"{'; '.join(problems)}. Its trials are kept; start a new study with "
                        "--study NAME (or tune.study).")
