"""One worker: claim a trial, run it, store it; again until the study's total is reached.

Claiming happens under the study lock (:class:`~.storage.StudyLock`), in one step:

1. trials left RUNNING by a dead process are marked failed: a process on this machine
   that no longer exists at once, others when their heartbeat is older than the grace
   period; such a trial does not count and runs again;
2. *done* = complete + pruned + failed-with-an-error trials; with *running* trials of
   other live workers, if done + running reaches the total there is nothing to claim
   (wait while others run, in case one of them dies; stop when none do);
3. grid mode takes the next grid point that no trial holds (seeded order) and enqueues
   it; otherwise the sampler for this trial number is set up;
4. ``study.ask()``, a first heartbeat and the worker's name are recorded.

So a study never runs more trials than asked, a grid point runs exactly once whatever
the number of workers or machines, and a killed worker loses only its running trial.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kampai.core.errors import KampaiError, TuneError
from kampai.core.runs import pid_alive
from kampai.core.tuning import samplers
from kampai.core.tuning.objective import Evaluator, Plan, Pruned
from kampai.core.tuning.storage import (
    GRACE_PERIOD,
    HEARTBEAT_INTERVAL,
    StudyLock,
    beat,
    is_journal,
    open_storage,
    storage_failure,
)
from kampai.core.tuning.trials import (
    Ledger,
    counts_as_done,
    finished_points,
    holds_grid_point,
    is_duplicate,
    point_key,
    worker_name,
)

OnTrial = Callable[[Any, dict], None]
WAIT_SECONDS = 1.0
#: duplicates that do not use up the study's trials, at least (then they count)
MIN_FREE_DUPLICATES = 10


class _Heartbeat(threading.Thread):
    def __init__(self, storage: Any, trial_id: int) -> None:
        super().__init__(daemon=True)
        self.storage, self.trial_id = storage, trial_id
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(HEARTBEAT_INTERVAL):
            with contextlib.suppress(Exception):
                beat(self.storage, self.trial_id)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


class Worker:
    def __init__(self, plan: Plan, on_trial: OnTrial) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.plan = plan
        self.on_trial = on_trial
        self.name = worker_name()
        self.host = socket.gethostname()
        self.storage = open_storage(plan.storage_url)
        self.study = optuna.load_study(study_name=plan.study_name, storage=self.storage,
                                       pruner=samplers.make_pruner(plan.pruner))
        self.lock = StudyLock(plan.storage_url, plan.study_name)
        self.evaluator = Evaluator(plan)
        self.ran = 0
        self._points: list[tuple[str, dict[str, Any]]] | None = None  # a finite space's points, when needed
        self.ledger = Ledger()
        self._grid_pos = 0  # grid_order[:_grid_pos] is held by finished trials
        self._params: dict[int, dict[str, Any]] = {}  # what each claimed trial sampled (under the lock)

    # -- claiming -----------------------------------------------------------------------

    def _reap(self, trials: list[Any]) -> bool:
        """Fail RUNNING trials whose worker process on this machine is gone (on a journal,
        which has no heartbeats of its own, also those of other machines whose ``heartbeat``
        attribute is older than the grace period)."""
        from optuna.trial import TrialState

        reaped = False
        now = datetime.now()
        journal = is_journal(self.storage)
        for t in trials:
            if t.state != TrialState.RUNNING:
                continue
            host, _, pid = str(t.user_attrs.get("worker", "")).rpartition(":")
            age = (now - t.datetime_start).total_seconds() if t.datetime_start is not None else 0.0
            # killed inside study.ask(): no worker, no heartbeat, so only its age tells
            orphan = not host and age > GRACE_PERIOD
            if journal and host and host != self.host:
                last = t.user_attrs.get("heartbeat")
                orphan = (time.time() - float(last) if isinstance(last, (int, float)) else age) > GRACE_PERIOD
            if orphan or (host == self.host and pid.isdigit() and not pid_alive(int(pid))):
                self.storage.set_trial_user_attr(t._trial_id, "interrupted", "worker process died")
                self.storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
                reaped = True
        return reaped

    def claim(self) -> Any:
        """A new trial, or ``"wait"`` / ``"stop"``.

        A Ctrl-C during the claim is held until the trial is recorded (worker, heartbeat),
        then the trial is marked interrupted: no trial is left RUNNING by nobody.
        """
        import signal
        import warnings

        held: list[int] = []
        main = threading.current_thread() is threading.main_thread()
        previous = {s: signal.signal(s, lambda *_: held.append(1))
                    for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
        try:
            with warnings.catch_warnings():
                # heartbeats are "experimental" and "meant for Study.optimize": we drive them
                warnings.simplefilter("ignore")
                result = self._claim()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        if held:
            if not isinstance(result, str):
                self.abandon(result, "Ctrl-C")
            raise KeyboardInterrupt
        return result

    def _fail_own_running(self) -> None:
        """On the way out after an interruption: any trial of this worker still RUNNING (the
        interruption hit inside a storage call) is marked failed-interrupted, through a fresh
        connection, so no trial is left RUNNING by a worker that is gone."""
        import signal

        from optuna.trial import TrialState

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finish this, then go
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            storage = open_storage(self.plan.storage_url)
            study_id = storage.get_study_id_from_name(self.plan.study_name)
            for t in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
                if t.user_attrs.get("worker") == self.name:
                    storage.set_trial_user_attr(t._trial_id, "interrupted", "worker stopped")
                    storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        except Exception:
            pass  # the reaper fails it at the next claim

    def abandon(self, trial: Any, why: str) -> None:
        """Mark a trial of this worker failed-interrupted (it does not count; it runs again)."""
        from optuna.trial import TrialState

        try:
            self.storage.set_trial_user_attr(trial._trial_id, "interrupted", why)
            self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        except Exception:
            pass  # the reaper or the heartbeat check will fail it later

    def _claim(self) -> Any:
        import optuna
        from optuna.trial import TrialState

        plan, study, ledger = self.plan, self.study, self.ledger
        with self.lock:
            trials = study.get_trials(deepcopy=False)
            pending = ledger.update(trials)  # the open trials (and any finished after them)
            if any(t.state == TrialState.RUNNING for t in pending):  # others' (or dead) trials
                self._reap(pending)
                optuna.storages.fail_stale_trials(study)
                trials = study.get_trials(deepcopy=False)
                pending = ledger.update(trials)
            done = ledger.done + sum(counts_as_done(t) for t in pending)
            duplicates = ledger.duplicates + sum(is_duplicate(t) for t in pending)
            if duplicates >= max(plan.total, MIN_FREE_DUPLICATES):
                done += duplicates  # a sampler stuck on known points: they count from here on
            running = sum(t.state == TrialState.RUNNING for t in pending)
            if done + running >= plan.total:
                return "wait" if running else "stop"
            if plan.space_size is not None and self._finished_count(pending) >= plan.space_size:
                return "wait" if running else "stop"  # every point of a finite space has its value
            if plan.grid is not None:
                if not any(t.state == TrialState.WAITING for t in pending):
                    free = self._free_grid_index(pending)
                    if free is None:
                        return "wait" if running else "stop"
                    study.enqueue_trial(plan.grid[free], user_attrs={"grid_index": free})
                study.sampler = optuna.samplers.RandomSampler(seed=samplers.trial_seed(plan.seed, len(trials)))
            elif trials and is_duplicate(trials[-1]):
                # the model sampler proposed a known point: on a finite space take a point nobody
                # holds yet (enqueued), elsewhere one random step away from it
                study.sampler = optuna.samplers.RandomSampler(seed=samplers.trial_seed(plan.seed, len(trials)))
                point = self._unheld_point(pending, len(trials))
                if point is not None:
                    study.enqueue_trial(point, user_attrs={"proposed": "an unscored point after a duplicate"})
            else:
                study.sampler = samplers.make_sampler(plan.sampler, plan.seed, len(trials),
                                                      plan.tune.startup_trials)
            trial = study.ask()
            if not is_journal(self.storage):  # a journal's first heartbeat is the trial's start time
                beat(self.storage, trial._trial_id)
            trial.set_user_attr("worker", self.name)
            # sampled under the lock: the point is in the storage before another worker samples,
            # so two workers never fit one point at the same moment (see run_trial)
            self._params[trial.number] = self.plan.space.suggest(trial)
            return trial

    def _finished_count(self, pending: list[Any]) -> int:
        """How many distinct points have a completed, fitted trial."""
        known = self.ledger.finished
        return len(known) + sum(1 for key in finished_points(pending) if key not in known)

    def _free_grid_index(self, pending: list[Any]) -> int | None:
        """The next grid point (seeded order) that no trial holds."""
        order = self.plan.grid_order or []
        held = self.ledger.grid_held
        while self._grid_pos < len(order) and order[self._grid_pos] in held:
            self._grid_pos += 1  # held by a finished trial: for good
        held_now = {t.user_attrs.get("grid_index") for t in pending if holds_grid_point(t)}
        for i in order[self._grid_pos:]:
            if i not in held and i not in held_now:
                return i
        return None

    # -- running ------------------------------------------------------------------------

    def _known(self, trial: Any, params: dict[str, Any]) -> Any:
        """The finished trial that scored ``params`` already, if any; a point another worker
        is fitting right now is waited for (then reused), not fitted a second time."""
        from optuna.trial import TrialState

        point = point_key(params)
        pending = self.ledger.update(self.study.get_trials(deepcopy=False))
        known = self.ledger.finished.get(point) or finished_points(pending).get(point)
        if known is not None:
            return known
        busy = [t for t in pending if t.state == TrialState.RUNNING and t.number != trial.number
                and point_key(t.params) == point]
        if not busy:
            return None
        import optuna

        while True:
            time.sleep(WAIT_SECONDS / 2)
            other = self.storage.get_trial(busy[0]._trial_id)
            if other.state == TrialState.RUNNING:
                # a dead worker's trial: failed here (its process is gone, or its heartbeat is
                # older than the grace period), and this worker fits the point itself
                if self._reap([other]):
                    return None
                with contextlib.suppress(Exception), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    optuna.storages.fail_stale_trials(self.study)
                other = self.storage.get_trial(busy[0]._trial_id)
            if other.state != TrialState.RUNNING:
                return other if other.state == TrialState.COMPLETE and not is_duplicate(other) else None

    def _unheld_point(self, pending: list[Any], count: int) -> dict[str, Any] | None:
        """A point of a finite space that no finished or running trial holds (seeded pick)."""
        from optuna.trial import TrialState

        if self.plan.space_size is None:
            return None
        if self._points is None:
            self._points = [(point_key(p), p) for p in self.plan.space.grid()]
        held = self.ledger.points_held | {
            point_key(t.params) for t in pending
            if t.state in (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)}
        free = [p for key, p in self._points if key not in held]
        if not free:
            return None
        import random

        return random.Random(samplers.trial_seed(self.plan.seed, count)).choice(free)

    def run_trial(self, trial: Any) -> tuple[Any, dict[str, float]]:
        """Sample, then fit and score, the trial; a point a finished trial already scored
        is not fitted again: its value and metrics are reused, the trial is marked
        ``duplicate_of`` and does not use up one of the study's trials (TPE proposes known
        points again on small spaces; the budget goes to new points)."""
        from optuna.trial import TrialState

        heartbeat = _Heartbeat(self.storage, trial._trial_id)
        heartbeat.start()
        metrics: dict[str, float] = {}
        try:
            try:
                params = self._params.pop(trial.number, None) or self.plan.space.suggest(trial)
                known = None if self.plan.grid is not None else self._known(trial, params)
                if known is not None:
                    trial.set_user_attr("duplicate_of", known.number)
                    value, metrics = known.value, dict(known.user_attrs.get("metrics") or {})
                    fit_seconds = 0.0
                else:
                    value, metrics, fit_seconds = self.evaluator(trial, params)
            except Pruned as exc:
                trial.set_user_attr("pruned", str(exc))
                state, value = TrialState.PRUNED, None
            except KeyboardInterrupt:
                trial.set_user_attr("interrupted", "Ctrl-C")
                heartbeat.stop()
                self.study.tell(trial, state=TrialState.FAIL)
                raise
            except Exception as exc:
                trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:2000])
                trial.set_user_attr("error_is_config", isinstance(exc, KampaiError))
                state, value = TrialState.FAIL, None
            else:
                state = TrialState.COMPLETE
                trial.set_user_attr("metrics", metrics)
                trial.set_user_attr("fit_seconds", round(fit_seconds, 6))
        finally:
            heartbeat.stop()
        frozen = self.study.tell(trial, value) if state == TrialState.COMPLETE else self.study.tell(trial, state=state)
        return frozen, metrics

    def run(self) -> int:
        """Run trials until the total, the deadline or ``max_failures`` failures in a row."""
        from optuna.trial import TrialState

        plan = self.plan
        failures = 0
        try:
            while plan.deadline is None or time.time() < plan.deadline:
                claim = self.claim()
                if claim == "stop":
                    break
                if claim == "wait":
                    time.sleep(WAIT_SECONDS)
                    continue
                try:
                    frozen, metrics = self.run_trial(claim)
                except BaseException:
                    self.abandon(claim, "stopped")  # a no-op when run_trial told it already
                    raise
                self.ran += 1
                self.on_trial(frozen, metrics)
                if frozen.state == TrialState.FAIL:
                    failures += 1
                    if failures >= max(1, plan.tune.max_failures):  # 0: stop at the first
                        raise TuneError(f"{failures} trials in a row failed; the last one (#{frozen.number}) "
                                        f"with: {frozen.user_attrs.get('error')}. Completed trials are kept "
                                        "in the study.")
                else:
                    failures = 0
        except BaseException as exc:
            self._fail_own_running()
            failure = storage_failure(exc, plan.storage_url)  # a full disk: one line, not Optuna's traceback
            if failure is not None:
                raise failure from exc
            raise
        finally:
            self.lock.close()
        return self.ran
