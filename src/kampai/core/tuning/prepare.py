"""Steps 1-2 of ``runner tune``: a checked :class:`~.objective.Plan` before any storage is touched.

Resolve the config; check sampler, pruner, metric and direction; parse the search space
(``model.search``, else the framework's default for the estimator); load the data once,
fingerprint it, split it; build the model once with the space's first point so a misspelt
param fails now, with a did-you-mean.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from kampai.core import data as data_mod
from kampai.core import engine
from kampai.core import metrics as metrics_mod
from kampai.core.contract import RunContext
from kampai.core.errors import ConfigError, TuneError
from kampai.core.host import get_host
from kampai.core.schema import DEFAULT_TRIALS, TUNE_CACHE_DIR
from kampai.core.tuning import space as space_mod
from kampai.core.tuning.objective import Plan, build
from kampai.core.tuning.storage import resolve_url
from kampai.core.typed import Config


def search_in_use(cfg: dict[str, Any], task: Any, framework: Any) -> tuple[dict[str, Any], str]:
    """``(model.search, where it comes from)``: the config's, else the framework default."""
    search = (cfg.get("model") or {}).get("search") or {}
    if search:
        return dict(search), "config"
    if "search_space" in framework.capabilities:
        space = framework.default_search_space(str(cfg["model"]["estimator"]), task) or {}
        # a param the user fixed in model.params stays fixed: only their own model.search
        # may search it
        fixed = set((cfg.get("model") or {}).get("params") or {})
        kept = {k: v for k, v in space.items() if k not in fixed}
        if kept:
            dropped = sorted(fixed & set(space))
            note = f" (fixed in model.params: {', '.join(dropped)})" if dropped else ""
            return dict(kept), f"default of framework '{framework.name}'{note}"
    return {}, "none"


def check_model(cfg: dict[str, Any], task: Any, framework: Any, frame: Any = None) -> tuple[dict[str, Any], str]:
    """``runner config show``'s check of the model section, before anything runs: the
    search space parses, and the model builds with ``model.params``, the preprocessing
    steps' params and a point of the space (unknown names fail with a did-you-mean, as
    ``runner train``/``tune`` would).  The data (when the config names it) is read to build
    against, as training does.  Returns ``(model.search in use, where it comes from)``."""
    search, source = search_in_use(cfg, task, framework)
    space = space_mod.parse(search) if search else space_mod.SearchSpace()
    if frame is not None or (cfg.get("data") or {}).get("path"):
        loaded = data_mod.load(cfg["data"], frame)
        data = task.prepare(loaded, cfg["data"], training=True)
        _probe(framework, task, cfg, space, data)
    return search, source


def study_name_for(cfg: dict[str, Any]) -> str:
    """The study's name (also its output folder under ``tune.output_dir``): a checked name."""
    from kampai.core.errors import check_name

    return check_name("study", Config.of(cfg).tune.study or cfg.get("name")
                      or f"{cfg['task']}-{engine.short_name(cfg['model']['estimator'])}")


def _metric_and_direction(cfg: dict[str, Any], task: Any) -> tuple[str, str, list[str]]:
    names = list(cfg.get("metrics") or task.default_metrics)
    tune = Config.of(cfg).tune
    metric = tune.metric or names[0]
    if metric not in names:
        names = [metric, *names]
    resolved = {m.name: m for m in metrics_mod.resolve(task, names)}
    direction = tune.direction  # one of schema.TUNE_DIRECTIONS: checked by the loader
    if direction is None:
        direction = "maximize" if resolved[metric].greater_is_better else "minimize"
    return metric, direction, names


def _size(space: space_mod.SearchSpace, grid: list | None) -> int | None:
    """The number of distinct points of a finite space (None for a continuous one)."""
    if grid is not None:
        return len(grid)
    if any(d.type == "float" and d.step is None for d in space.dims):
        return None
    if not any(d.when for d in space.dims):
        size = 1
        for dim in space.dims:
            size *= dim.count()
        return size if size <= space_mod.MAX_GRID else None  # as good as infinite
    try:
        return len(space.grid())
    except TuneError:  # more points than a grid may hold: as good as infinite here
        return None


def _probe(framework: Any, task: Any, cfg: dict[str, Any], space: space_mod.SearchSpace, data: Any) -> None:
    """Build once with the space's first point: unknown names fail before any trial."""
    model_cfg = dict(cfg["model"])
    model_cfg["params"] = {**(model_cfg.get("params") or {}), **space.probe()}
    ctx = RunContext(config=cfg, run_id="probe", run_dir=Path("."), task=task, framework=framework,
                     state={"quiet": True})
    try:
        build(ctx, model_cfg, data)
    except ConfigError as exc:
        message = str(exc)
        for name in space.names:
            message = message.replace(f"'model.params.{name}'", f"'model.search.{name}'")
        raise ConfigError(message) from None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def prepare(cfg: dict[str, Any], frame: Any = None) -> tuple[Plan, dict[str, Any], Any, Any]:
    """Steps 1-2: a checked :class:`Plan` (no storage touched yet)."""
    cfg, task, framework = engine.resolve(cfg)
    t = cfg.tune  # typed and checked by the loader (kampai.core.schema): no defaults, ranges or choices here
    sampler, pruner = t.sampler, t.pruner
    search, source = search_in_use(cfg, task, framework)
    if not search:
        raise TuneError(f"No search space for '{cfg['model']['estimator']}': set model.search in the "
                        f"config (see docs/tuning.md); framework '{framework.name}' has no default for it.")
    space = space_mod.parse(search)
    cfg["model"]["search"] = space.to_config()
    metric, direction, names = _metric_and_direction(cfg, task)
    grid = order = None
    if sampler == "grid":
        grid = space.grid()
        order = list(range(len(grid)))
        random.Random(cfg.seed).shuffle(order)
    total = t.trials if t.trials is not None else (len(grid) if grid else DEFAULT_TRIALS)
    if grid is not None:
        total = min(total, len(grid))
    loaded = data_mod.load(cfg["data"], frame)
    fingerprint = data_mod.fingerprint(loaded)
    data = task.prepare(loaded, cfg["data"], training=True)
    splitter = get_host().splitters().get(cfg.split.method)
    folds = splitter.fn(data, cfg.split)
    _probe(framework, task, cfg, space, engine.fold_part(data, folds[0][0]))
    name = study_name_for(cfg)
    url = resolve_url(t.storage)
    if t.jobs > 1 and url.startswith("sqlite") and ":memory:" in url:
        raise TuneError("An in-memory SQLite storage cannot be shared by --jobs workers: use a file.")
    from kampai.core import host as plugins

    plan = Plan(
        cfg=_jsonable(cfg), study_name=name, storage_url=url, data=data, folds=folds, cv=splitter.cv,
        fingerprint=fingerprint, space=space, metric=metric, direction=direction, metric_names=names,
        sampler=sampler, pruner=pruner, seed=cfg.seed, total=total,
        deadline=None if t.timeout is None else float(t.timeout),
        cache_dir=str(Path(t.cache_dir or TUNE_CACHE_DIR).resolve()),
        grid=grid, grid_order=order, blocked=plugins.blocked_names(),
        output_dir=str(Path(t.output_dir) / name), space_size=_size(space, grid),
    )
    meta = {"version": 1, "task": task.name, "framework": framework.name,
            "estimator": str(cfg["model"]["estimator"]), "metric": metric, "direction": direction,
            "fingerprint": fingerprint, "sampler": sampler, "space": space.to_config(),
            "signature": space.signature(), "space_source": source, "config": plan.cfg}
    return plan, _jsonable(meta), task, framework
