"""``runner tune`` / ``kampai.tune``: prepare once, run workers, report, refit.

Order of work, so that bad input costs nothing and loses nothing:

1. resolve the config; check sampler, pruner, jobs, metric and direction; parse the
   search space (``model.search``, else the framework's default for the estimator);
2. load the data once, fingerprint it, split it; build the model once with the space's
   first point so a misspelt param fails now, with a did-you-mean;
3. open the storage and create or load the study under the study lock; a resumed study
   must have the same task, estimator, metric, direction, data and param types;
4. ``kampai_before_tune``; workers (this process, or ``jobs`` spawned processes) claim
   and run trials; every finished trial goes through ``kampai_after_trial`` here;
5. the trial log (CSV/Parquet), plots and ``best.json``; then ``kampai_after_tune`` (the
   folder is complete for observers); the top-trials table; with ``refit`` a normal
   ``train`` of the best params (registry mode).
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core import config as config_mod
from kampai.core import data as data_mod
from kampai.core import engine
from kampai.core import metrics as metrics_mod
from kampai.core.console import Steps
from kampai.core.contract import RunContext
from kampai.core.errors import ConfigError, TuneError, unknown
from kampai.core.host import get_host
from kampai.core.schema import DEFAULT_TRIALS, TUNE_CACHE_DIR
from kampai.core.tuning import record, report, samplers
from kampai.core.tuning import space as space_mod
from kampai.core.tuning.objective import Plan, build
from kampai.core.tuning.storage import StudyLock, mask, open_storage, resolve_url, storage_failure
from kampai.core.typed import Config

if TYPE_CHECKING:
    import pandas as pd

    from kampai.core.runs import Run

META_KEY = "kampai"
#: the HMAC of META_KEY's value (kampai.core.tuning.record)
SIG_KEY = "kampai_signature"


@dataclass
class TuneResult:
    """What :func:`tune` returns (``kampai.tune``)."""

    study_name: str
    storage: str
    study: Any
    metric: str
    direction: str
    best_value: float | None
    best_params: dict[str, Any]
    best_number: int | None
    trials: pd.DataFrame
    output_dir: Path
    ran: int
    interrupted: bool = False
    run: Run | None = None
    plots: list[Path] | None = None


# -- the pieces ------------------------------------------------------------------------


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
    direction = tune.direction
    if direction is None:
        direction = "maximize" if resolved[metric].greater_is_better else "minimize"
    if direction not in ("maximize", "minimize"):
        raise unknown("direction", str(direction), ["maximize", "minimize"])
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
            size *= len(dim.grid_values())
        return size
    try:
        return len(space.grid())
    except TuneError:  # more points than a grid may hold: as good as infinite here
        return None


def _trial_metrics(value: Any) -> str:
    value = str(value or "objective")
    if value not in ("objective", "all"):
        raise unknown("tune.trial_metrics", value, ["objective", "all"])
    return value


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


def _open_study(plan: Plan, meta: dict[str, Any]) -> Any:
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


def prepare(cfg: dict[str, Any], frame: Any = None) -> tuple[Plan, dict[str, Any], Any, Any]:
    """Steps 1-2: a checked :class:`Plan` (no storage touched yet)."""
    cfg, task, framework = engine.resolve(cfg)
    t = cfg.tune  # typed and checked by the loader (kampai.core.schema): no defaults or ranges here
    sampler = samplers.check_sampler(t.sampler)
    pruner = samplers.check_pruner(t.pruner)
    _trial_metrics(t.trial_metrics)
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


# -- running ---------------------------------------------------------------------------


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity, as taskset or a container sets it)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def worker_count(jobs: int, left: int) -> tuple[int, str]:
    """``--jobs`` capped at the CPUs and at the trials left (more workers only compete for
    the CPUs and the memory), and the line that says so ("" when not capped)."""
    cpus = cpu_count()
    count = max(1, min(jobs, cpus, left))
    if count >= jobs:
        return jobs, ""
    why = [f"{cpus} CPU{'s' if cpus > 1 else ''}" if cpus == count else "",  # the bound(s) that apply
           f"{max(left, 0)} trial{'s' if left != 1 else ''} left" if max(left, 1) == count else ""]
    return count, (f"--jobs {jobs}: starting {count} worker{'s' if count > 1 else ''} "
                   f"({', '.join(w for w in why if w)}).")


def _run_in_process(plan: Plan, on_trial: Any) -> bool:
    from kampai.core.tuning.worker import Worker

    try:
        Worker(plan, on_trial).run()
    except KeyboardInterrupt:
        return True
    return False


def _run_processes(plan: Plan, jobs: int, on_trial: Any) -> bool:
    """Spawn ``jobs`` worker processes; relay their trials; True if interrupted."""
    import multiprocessing as mp
    import os
    import queue as queue_mod
    import signal

    from kampai.core.tuning.worker import process_main

    context = mp.get_context("spawn")
    queue = context.Queue()
    procs = [context.Process(target=process_main, args=(plan, queue), name=f"kampai-tune-{i}")
             for i in range(jobs)]
    for p in procs:
        p.start()
    finished: set[int] = set()
    errors: list[tuple[bool, str]] = []
    interrupted = False

    signalled: set[int] = set()

    def stop_others() -> None:
        for p in procs:
            if p.is_alive() and p.pid not in finished and p.pid not in signalled:
                signalled.add(p.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)  # workers ignore SIGINT; SIGTERM stops them once

    deadline_kill: float | None = None
    while True:
        try:  # a Ctrl-C anywhere in here (also in a hook) stops the workers cleanly
            try:
                kind, a, b = queue.get(timeout=0.2)
            except queue_mod.Empty:
                if all(not p.is_alive() for p in procs):
                    try:  # the last messages may still be in the pipe
                        kind, a, b = queue.get(timeout=0.5)
                    except queue_mod.Empty:
                        break
                else:
                    if deadline_kill is not None and time.time() > deadline_kill:
                        for p in procs:
                            if p.is_alive():
                                p.terminate()
                    continue
            if kind == "trial":
                on_trial(a, b)
            elif kind in ("done", "interrupted"):
                finished.add(a)
                interrupted = interrupted or kind == "interrupted"
            elif kind == "error":
                finished.add(a)
                errors.append(b)
                stop_others()
                deadline_kill = time.time() + 30
        except KeyboardInterrupt:
            interrupted = True
            stop_others()
            deadline_kill = time.time() + 30
    for p in procs:
        p.join(timeout=10)
    if errors:
        is_kampai, message = errors[0]
        if is_kampai:
            raise TuneError(message)
        raise RuntimeError(f"A tuning worker failed: {message}")
    return interrupted


def tune(cfg: dict[str, Any], frame: Any = None, *, verbose: bool = True) -> TuneResult:
    """Run (or resume) the study for ``cfg`` (a loaded config, see :func:`config.load`)."""
    try:
        import optuna
    except ImportError:
        raise TuneError("Tuning needs Optuna: pip install 'kampai[tune]'.") from None

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    plan, meta, task, framework = prepare(cfg, frame)
    try:
        study = _open_study(plan, meta)
    except Exception as exc:
        failure = storage_failure(exc, plan.storage_url)  # a full disk: one line
        if failure is not None:
            raise failure from exc
        raise
    jobs = plan.tune.jobs
    if plan.deadline is not None:
        plan.deadline = time.time() + plan.deadline
    output_dir = Path(plan.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(config=plan.cfg, run_id=plan.study_name, run_dir=output_dir, task=task,
                     framework=framework, state={"storage": mask(plan.storage_url), "metric": plan.metric,
                                                 "direction": plan.direction, "jobs": jobs})
    hook = get_host().observers
    from kampai.core.tuning.worker import counts_as_done

    trials = study.get_trials(deepcopy=False)
    done = sum(counts_as_done(x) for x in trials)
    best = _best(study)
    reporter = Steps(verbose)
    cluster = None
    if plan.tune.backend == "ray":  # [ray] workers as Ray tasks on a cluster (tuning/ray_workers.py)
        from kampai.core.tuning import ray_workers

        cluster, (jobs, capped) = ray_workers.start(plan, jobs, plan.total - done)
    else:
        jobs, capped = worker_count(jobs, plan.total - done)
    ctx.state["jobs"] = jobs
    if capped and (cluster is not None or jobs < cpu_count()):
        reporter.info(capped)  # fewer trials left than workers asked: nothing to warn about
    elif capped:
        from kampai.core.console import warn

        warn(capped)  # more workers than CPUs would only compete for them (and the memory)
    reporter.info(f"[bold]Study[/bold] {plan.study_name}  [dim]{mask(plan.storage_url)}[/dim]  "
                  f"{plan.sampler} sampler, {len(plan.space)} params, {plan.metric} ({plan.direction}), "
                  f"{len(plan.folds)} fold{'s' if len(plan.folds) > 1 else ''}, {jobs} worker{'s' if jobs > 1 else ''}"
                  + (f"; resuming at {done}/{plan.total}" if done else ""))
    progress = report.Progress(plan.total, done, best, plan.direction, plan.metric, verbose)
    ran = 0

    def on_trial(trial: Any, metrics: dict[str, float]) -> None:
        nonlocal ran
        ran += counts_as_done(trial)  # a reused (duplicate) point is not a trial run
        progress.update(trial)
        hook.kampai_after_trial(ctx=ctx, trial=trial, metrics=metrics)

    interrupted = False
    try:
        hook.kampai_before_tune(ctx=ctx, study=study)
        if cluster is not None:  # [ray]
            interrupted = ray_workers.run(plan, cluster, jobs, on_trial)
        else:
            interrupted = _run_in_process(plan, on_trial) if jobs == 1 else _run_processes(plan, jobs, on_trial)
    except BaseException as exc:
        progress.stop()
        failure = storage_failure(exc, plan.storage_url)
        hook.kampai_on_tune_error(ctx=ctx, error=failure or exc)
        if failure is not None:
            raise failure from exc
        raise
    progress.stop()
    if cluster is not None:  # [ray]
        cluster.shutdown()
    best = _best(study)
    # the study's folder is complete before observers see the end of the study (a tracker
    # pushes the folder as it is)
    frame_out = report.export(study, output_dir)
    written = None
    if plan.tune.plots and len(frame_out):
        written = report.plots(study, frame_out, output_dir, plan.metric)
    if best is not None:
        (output_dir / "best.json").write_text(json.dumps(
            {"study": plan.study_name, "number": best.number, "value": best.value, "params": best.params,
             "metric": plan.metric, "direction": plan.direction}, indent=2, default=str) + "\n")
    hook.kampai_after_tune(ctx=ctx, study=study, best=best)
    if verbose:
        report.print_top(study, plan.direction, plan.metric, plan.tune.top)
        _say_reused(reporter, study, plan)
        reporter.info(f"Trial log and plots → {output_dir}")
        if interrupted:
            reporter.info("[yellow]Interrupted[/yellow]: finished trials are kept; run the same command "
                          "again to continue the study.")
    result = TuneResult(
        study_name=plan.study_name, storage=mask(plan.storage_url), study=study, metric=plan.metric,
        direction=plan.direction, best_value=best.value if best else None,
        best_params=dict(best.params) if best else {}, best_number=best.number if best else None,
        trials=frame_out, output_dir=output_dir, ran=ran, interrupted=interrupted, plots=written)
    if plan.tune.refit and not interrupted:
        if best is None:
            raise TuneError(f"Study '{plan.study_name}' has no completed trial to refit.")
        result.run = engine.train(best_config(plan.cfg, best.params), frame, verbose=verbose, parent=ctx)
        study.set_user_attr("refit_run", str(result.run.run_dir))
    return result


def _say_reused(reporter: Steps, study: Any, plan: Plan) -> None:
    """One line on reused (duplicate) points and on a finite space that was used up."""
    from kampai.core.tuning.worker import counts_as_done, finished_points, is_duplicate

    trials = study.get_trials(deepcopy=False)
    reused = sum(is_duplicate(t) for t in trials)
    if reused:
        reporter.info(f"{reused} proposed point{'s' if reused > 1 else ''} had been scored already: "
                      "value reused, not fitted again (marked duplicate_of in the trial log).")
    done = sum(counts_as_done(t) for t in trials)
    if plan.space_size is not None and done < plan.total and len(finished_points(trials)) >= plan.space_size:
        reporter.info(f"Every point of the search space ({plan.space_size}) has been scored: the study "
                      f"stopped at {done} of {plan.total} trials.")


def _best(study: Any) -> Any:
    try:
        return study.best_trial
    except ValueError:
        return None


# -- registry mode: from a study to a normal run ------------------------------------------


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
    best = _best(study)
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
