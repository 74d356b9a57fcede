"""``runner tune --ray``: kampai's own tuning workers as Ray tasks spread over a cluster.

Not Ray Tune: each Ray task runs the same :class:`~.worker.Worker` loop as a ``--jobs``
process (claim under the study lock, run, tell), so the study keeps its semantics whatever
runs the workers: the study lives in the configured storage (PostgreSQL for a cluster of
several machines; a SQLite file only when every node is on this machine), exact trial
totals, a grid point fitted once, pruning, resume.  This process relays each finished
trial to the observers (progress, MLflow's parent run), as it does for local workers.

- ``tune.jobs`` is the number of workers on the cluster (one CPU each, spread over nodes);
- each trial records the node that ran it (user attribute ``node``: ``ip/node-id``);
- a worker whose node dies loses only its running trial: the next claim of a worker on
  that machine sees the dead pid, others the stale heartbeat (``storage.GRACE_PERIOD``),
  and the trial runs again; Ray re-runs the lost worker task on a live node;
- the fold cache is per node: ``tune.cache_dir`` where the node can write it, else a
  folder under the node's temporary directory;
- Ctrl-C cancels the tasks: each marks its running trial interrupted and stops.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from typing import Any

from kampai.core.errors import KampaiError, TuneError
from kampai.core.tuning.objective import Plan

#: attempts Ray makes to re-run a worker task whose node or process died
TASK_RETRIES = 3
#: seconds between a worker's checks of the driver's stop flag
STOP_POLL = 0.5
#: seconds the workers have to mark their trials interrupted after a Ctrl-C
STOP_GRACE = 30


def worker_count(ray: Any, jobs: int, left: int) -> tuple[int, str]:
    """``jobs`` capped at the trials left (more workers than trials would only wait) and at
    the cluster's CPUs, with the line that says so ("" when not capped)."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    count = max(1, min(jobs, max(left, 1), max(cpus, 1)))
    if count >= jobs:
        return jobs, ""
    return count, f"--jobs {jobs}: starting {count} worker{'s' if count > 1 else ''} on the Ray cluster " \
                  f"({cpus} CPUs, {max(left, 0)} trials left)."


def _node_cache_dir(wanted: str | None) -> str | None:
    """The fold cache folder on this node: ``wanted`` where it can be created, else one in
    the node's temporary directory."""
    if wanted is None:
        return None
    with contextlib.suppress(OSError):
        os.makedirs(wanted, exist_ok=True)
        if os.access(wanted, os.W_OK):
            return wanted
    import tempfile

    return os.path.join(tempfile.gettempdir(), "kampai-tune-cache")


class _Stop:
    """A Ray actor: the driver's Ctrl-C, seen by every worker."""

    def __init__(self) -> None:
        self.stopped = False

    def set(self) -> None:
        self.stopped = True

    def is_set(self) -> bool:
        return self.stopped


def _on_stop(stop: Any, done: Any) -> None:
    """A thread of a worker task: when the driver asks to stop, SIGTERM this process; its
    handler raises KeyboardInterrupt in the worker loop, which marks its trial interrupted
    (Ray's own cancel cannot interrupt a fit sleeping in a C call)."""
    import signal

    import ray

    while not done.wait(STOP_POLL):
        try:
            stopped = ray.get(stop.is_set.remote(), timeout=10)
        except Exception:  # the driver is gone with its actor: stop too
            stopped = True
        if stopped and not done.is_set():
            os.kill(os.getpid(), signal.SIGTERM)
            return


def _put(relay: Any, item: Any) -> None:
    """``relay.put(item)``, again while the relay is briefly unavailable (the cluster dropping a
    dead node); the trial is in the storage whatever happens here."""
    import ray

    for attempt in range(10):
        try:
            relay.put(item)
            return
        except ray.exceptions.ActorUnavailableError:
            time.sleep(0.5 * (attempt + 1))


def _work(plan: Plan, relay: Any, stop: Any) -> tuple[str, int]:
    """One worker, inside a Ray task: run trials until the study's total; every finished
    trial goes to ``relay`` (a Ray queue) for the driver's observers."""
    import signal
    import threading

    from kampai.core.scaleout.cluster import node_label
    from kampai.core.tuning.worker import Worker

    if plan.blocked:
        from kampai.core import host as plugins

        plugins.block(set(plan.blocked))
    node = node_label()
    plan = dataclasses.replace(plan, cache_dir=_node_cache_dir(plan.cache_dir))

    class NodeWorker(Worker):
        """The local worker, whose claimed trials also record this node."""

        def claim(self) -> Any:
            trial = super().claim()
            if not isinstance(trial, str):
                trial.set_user_attr("node", node)
            return trial

    def interrupt(*_: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the worker marks its trial and leaves
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, interrupt) if main else None
    done = threading.Event()
    if main:
        threading.Thread(target=_on_stop, args=(stop, done), name="kampai-ray-stop", daemon=True).start()
    try:
        worker = NodeWorker(plan, lambda trial, metrics: _put(relay, ("trial", trial, metrics)))
        return node, worker.run()
    except KeyboardInterrupt:
        return node, -1
    finally:
        done.set()
        if main:  # the process serves other tasks after this one
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def check_storage(ray: Any, plan: Plan) -> None:
    """A SQLite or journal file study is shared only by workers on this machine: refuse a
    cluster that has nodes elsewhere (PostgreSQL or MySQL there)."""
    from kampai.core.scaleout.cluster import one_host
    from kampai.core.tuning.storage import JOURNAL, mask

    if plan.storage_url.startswith(JOURNAL) and not one_host(ray):
        raise TuneError(f"The study storage '{mask(plan.storage_url)}' is a journal file on this machine, "
                        "and the Ray cluster has nodes on other machines: use --storage "
                        "postgresql://... (docs/scale.md).")
    if plan.storage_url.startswith("sqlite"):
        if ":memory:" in plan.storage_url:
            raise TuneError("An in-memory SQLite storage cannot be shared by Ray workers: use a file, or "
                            "--storage postgresql://... for a cluster.")
        if not one_host(ray):
            raise TuneError(f"The study storage '{mask(plan.storage_url)}' is a SQLite file on this machine, "
                            "and the Ray cluster has nodes on other machines: use --storage "
                            "postgresql://... (docs/scale.md).")


def _head_node(ray: Any) -> Any:
    """A scheduling strategy for the cluster's head node (hard: a busy head still takes the
    relay; a worker node that dies must not take it along). ``DEFAULT`` if none is found."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    for node in ray.nodes():
        if node.get("Alive") and "node:__internal_head__" in (node.get("Resources") or {}):
            return NodeAffinitySchedulingStrategy(node_id=node["NodeID"], soft=False)
    return "DEFAULT"


def run(plan: Plan, ray: Any, jobs: int, on_trial: Any) -> bool:
    """Run ``jobs`` workers as Ray tasks on the connected cluster; relay their trials to
    ``on_trial``; True if interrupted (Ctrl-C)."""
    from ray.util.queue import Empty, Queue

    # the relay and the stop flag live on the head node: a worker node that dies takes neither
    here = _head_node(ray)
    relay = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here})
    stop = ray.remote(_Stop).options(num_cpus=0, scheduling_strategy=here).remote()
    remote = ray.remote(_work).options(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=False,
                                       scheduling_strategy="SPREAD", name="kampai-tune-worker")
    plan_ref = ray.put(plan)
    refs = [remote.remote(plan_ref, relay, stop) for _ in range(jobs)]
    pending = list(refs)
    interrupted = False
    errors: list[str] = []

    def drain(timeout: float) -> None:
        try:
            _kind, trial, metrics = relay.get(timeout=timeout)
        except Empty:
            return
        except ray.exceptions.ActorUnavailableError:  # a moment while the cluster drops a dead node
            time.sleep(timeout)
            return
        on_trial(trial, metrics)
        for item in relay.get_nowait_batch(relay.qsize()) if relay.qsize() else []:
            on_trial(item[1], item[2])

    try:
        while pending:
            drain(0.2)
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
            for ref in done:
                try:
                    if ray.get(ref)[1] < 0:
                        interrupted = True
                except ray.exceptions.TaskCancelledError:
                    interrupted = True
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if hasattr(exc, "cause") else exc
                    if isinstance(cause, KeyboardInterrupt):
                        interrupted = True
                    elif isinstance(cause, KampaiError):
                        errors.append(str(cause))
                    else:
                        errors.append(f"{type(cause).__name__}: {cause}")
                    if errors:
                        for other in pending:
                            ray.cancel(other)
                except ray.exceptions.RayError as exc:  # a node or worker lost beyond the retries
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    errors.append(f"a Ray worker was lost: {first}")
        deadline = time.time() + 2
        while time.time() < deadline and relay.qsize():
            drain(0.1)
    except KeyboardInterrupt:
        interrupted = True
        with contextlib.suppress(Exception):
            stop.set.remote()  # each worker marks its running trial interrupted and returns
            ray.wait(pending, num_returns=len(pending), timeout=STOP_GRACE)
        with contextlib.suppress(Exception):
            while relay.qsize():
                drain(0.1)
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)  # still running: its trial's pid dies, the next claim fails it
    finally:
        with contextlib.suppress(Exception):
            ray.kill(relay.actor)
        with contextlib.suppress(Exception):
            ray.kill(stop)
    if errors:
        raise TuneError(f"A tuning worker on the Ray cluster failed: {errors[0]}")
    return interrupted


def start(plan: Plan, jobs: int, left: int) -> tuple[Any, tuple[int, str]]:
    """Connect to ``tune.ray_address``, check the storage suits the cluster, and size the
    workers: ``(ray, (workers, capped line))``."""
    from kampai.core.scaleout.cluster import connect

    ray = connect(plan.tune.ray_address)
    try:
        check_storage(ray, plan)
    except BaseException:
        ray.shutdown()
        raise
    return ray, worker_count(ray, jobs, left)
