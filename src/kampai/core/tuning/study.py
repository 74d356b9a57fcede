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

Each step has its module: :mod:`.prepare` (1-2), :mod:`.resume` (3), :mod:`.launch` and
:mod:`.worker` (4), :mod:`.report` (5), :mod:`.from_study` (registry mode).  Their public
names are importable from here too, as before the split.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core import engine
from kampai.core.console import Steps
from kampai.core.contract import RunContext
from kampai.core.errors import TuneError
from kampai.core.host import get_host
from kampai.core.tuning import report
from kampai.core.tuning.from_study import best_config, best_of, study_config
from kampai.core.tuning.launch import cpu_count, run_in_process, run_processes, worker_count
from kampai.core.tuning.objective import Plan
from kampai.core.tuning.prepare import check_model, prepare, search_in_use, study_name_for
from kampai.core.tuning.resume import META_KEY, SIG_KEY, open_study
from kampai.core.tuning.storage import mask, storage_failure

if TYPE_CHECKING:
    import pandas as pd

    from kampai.core.runs import Run

__all__ = ["META_KEY", "SIG_KEY", "Plan", "TuneResult", "best_config", "check_model", "cpu_count",
           "prepare", "search_in_use", "study_config", "study_name_for", "tune", "worker_count"]


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

    def _repr_html_(self) -> str:  # Jupyter (kampai.lab.html): best params, top trials, plots
        return __import__("kampai.lab.html", fromlist=["study_html"]).study_html(self)


def tune(cfg: dict[str, Any], frame: Any = None, *, verbose: bool = True) -> TuneResult:
    """Run (or resume) the study for ``cfg`` (a loaded config, see :func:`config.load`)."""
    try:
        import optuna
    except ImportError:
        raise TuneError("Tuning needs Optuna: pip install 'kampai[tune]'.") from None

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    plan, meta, task, framework = prepare(cfg, frame)
    try:
        study = open_study(plan, meta)
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
    from kampai.core.tuning.trials import counts_as_done

    trials = study.get_trials(deepcopy=False)
    done = sum(counts_as_done(x) for x in trials)
    best = best_of(study)
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
            interrupted = run_in_process(plan, on_trial) if jobs == 1 else run_processes(plan, jobs, on_trial)
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
    best = best_of(study)
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
    from kampai.core.tuning.trials import counts_as_done, finished_points, is_duplicate

    trials = study.get_trials(deepcopy=False)
    reused = sum(is_duplicate(t) for t in trials)
    if reused:
        reporter.info(f"{reused} proposed point{'s' if reused > 1 else ''} had been scored already: "
                      "value reused, not fitted again (marked duplicate_of in the trial log).")
    done = sum(counts_as_done(t) for t in trials)
    if plan.space_size is not None and done < plan.total and len(finished_points(trials)) >= plan.space_size:
        reporter.info(f"Every point of the search space ({plan.space_size}) has been scored: the study "
                      f"stopped at {done} of {plan.total} trials.")
