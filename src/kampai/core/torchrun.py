"""``runner train ... --nproc-per-node N``: the launcher, and what each torchrun worker runs.

The launcher is torchrun's own (:func:`torch.distributed.run.run`: the elastic agent,
the c10d rendezvous, its worker monitoring and signal handling): kampai builds torchrun's
arguments from the ``distributed`` config section and starts ``python -m kampai`` with
the same command line in each worker process.  A worker (``$KAMPAI_DISTRIBUTED_WORKER``)
joins the process group (:func:`kampai.core.distributed.worker`), then

- rank 0 runs :func:`kampai.core.engine.train` unchanged: it alone writes the run folder,
  predicts, computes the metrics and calls the lifecycle hooks (tracking, reports);
- every other rank runs :func:`follow`: the same fits in the same order (each fold, then
  the refit), silently, so that the frameworks' DDP collectives meet.

A framework without the ``distributed`` capability is refused before any process starts.
Failures: a worker writes its error into torchrun's per-worker error file (no traceback
on the console); the launcher reports the first one as one line (exit 2 for a kampai
error).  Ctrl-C / SIGTERM reach torchrun's agent, which stops every worker.
"""

from __future__ import annotations

import json
import os
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

from kampai.core.distributed import BACKEND_ENV, WORKER_ENV, Stopped, in_worker, record_error, worker
from kampai.core.errors import ConfigError, KampaiError

#: exit codes of workers stopped by a signal (not the failure's cause)
_STOPPED = {-2, -9, -15, 130, 137, 143}


def choose_backend(cfg: dict[str, Any]) -> str:
    """``distributed.backend``; ``auto`` = nccl when the run trains on CUDA, else gloo."""
    from kampai.core.devices import Device

    backend = str((cfg.get("distributed") or {}).get("backend") or "auto")
    device = Device.parse(cfg.get("device"))
    if backend != "auto":
        if backend == "nccl":
            import torch

            if not torch.cuda.is_available():
                raise ConfigError("distributed.backend=nccl needs CUDA GPUs and torch sees none; use gloo or auto.")
        return backend
    if device.kind == "cpu":
        return "gloo"
    import torch

    if not torch.cuda.is_available():
        return "gloo"
    nproc = int((cfg.get("distributed") or {}).get("nproc_per_node") or 1)
    if nproc > torch.cuda.device_count():
        raise ConfigError(f"--nproc-per-node {nproc} on CUDA needs one GPU per process and torch sees "
                          f"{torch.cuda.device_count()}; use at most that many, or --device cpu (gloo).")
    return "nccl"


def check(cfg: dict[str, Any]) -> tuple[Any, Any]:
    """Refuse, before any process starts, a framework without the ``distributed`` capability
    (the config checked as ``runner train`` checks it).  Returns (task, framework)."""
    from kampai.core import engine

    _, task, framework = engine.resolve(cfg)
    if "distributed" not in framework.capabilities:
        from kampai.core.host import get_host

        able = [n for n, f in get_host().frameworks().items() if "distributed" in f.capabilities]
        raise ConfigError(f"Framework '{framework.name}' cannot train with torch.distributed (--nproc-per-node/"
                          f"--nnodes): frameworks that can: {', '.join(able) or 'none'}.")
    return task, framework


def torchrun_args(cfg: dict[str, Any], argv: list[str], log_dir: str | None = None) -> list[str]:
    """torchrun's command line for ``runner <argv>`` under the ``distributed`` section
    (``log_dir``: where torchrun keeps the workers' error files)."""
    section = cfg.get("distributed") or {}
    nproc = int(section.get("nproc_per_node") or 1)
    nnodes = int(section.get("nnodes") or 1)
    endpoint = section.get("rdzv_endpoint")
    args = ["--nproc-per-node", str(nproc), "--nnodes", str(nnodes), "--max-restarts", "0",
            "--monitor-interval", "0.2", *(["--log-dir", log_dir] if log_dir else [])]
    if nnodes == 1 and not endpoint:
        args.append("--standalone")
    elif not endpoint:
        raise ConfigError(f"--nnodes {nnodes} needs --rdzv-endpoint HOST:PORT (the rendezvous every node "
                          "reaches, e.g. the first pod of the indexed Job).")
    else:
        args += ["--rdzv-backend", "c10d", "--rdzv-endpoint", str(endpoint),
                 "--rdzv-id", str(section.get("rdzv_id") or "kampai")]
    return [*args, "--module", "kampai", *argv]


def launch(cfg: dict[str, Any], argv: list[str]) -> None:
    """Start the workers through torchrun (:func:`torch.distributed.run.run`) and wait.

    A failed worker becomes one :class:`KampaiError` line (its own message, which rank);
    Ctrl-C or SIGTERM stops every worker (torchrun's agent) and re-raises as
    KeyboardInterrupt."""
    import logging

    check(cfg)
    try:
        from torch.distributed.elastic.multiprocessing.api import SignalException
        from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
        from torch.distributed.run import get_args_parser, run
    except ImportError as exc:
        raise ConfigError(f"--nproc-per-node needs torch with torch.distributed: {exc}") from None
    import shutil
    import tempfile

    backend = choose_backend(cfg)
    torchrun_args(cfg, argv)  # a wrong combination is refused before anything is created
    # torchrun's per-worker error files: read into the failure below, then removed (torchrun's
    # own default is a /tmp folder per run that it never removes)
    log_dir = tempfile.mkdtemp(prefix="kampai-torchrun-")
    try:
        args = get_args_parser().parse_args(torchrun_args(cfg, argv, log_dir))
    except BaseException:
        shutil.rmtree(log_dir, ignore_errors=True)
        raise
    env = {WORKER_ENV: "1", BACKEND_ENV: backend, "PYTHONUNBUFFERED": "1"}
    if "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = "1"  # one thread per rank (torchrun's own default, without its banner)
    # the agent's own log (worker failures, "shutting down workers"): reported once below
    quiet = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
             if name.startswith("torch.distributed")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        run(args)
    except ChildFailedError as exc:
        section = cfg.get("distributed") or {}
        raise _failure(exc, int(section.get("nproc_per_node") or 1) * int(section.get("nnodes") or 1)) from None
    except SignalException as exc:  # Ctrl-C / SIGTERM: the agent has stopped every worker
        raise SystemExit(128 + int(exc.sigval)) from None
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _failure(exc: Any, world: int) -> KampaiError:
    """One error for the failed workers: the first that failed on its own (not stopped by
    the agent after another's failure), with its message."""
    failures = sorted(exc.failures.items(), key=lambda item: (item[1].exitcode in _STOPPED, item[1].timestamp,
                                                             item[0]))
    rank, failure = failures[0]
    data = failure.error_file_data if isinstance(failure.error_file_data, dict) else {}
    own = data.get("kampai") or {}
    message = own.get("message") or (failure.message if isinstance(failure.message, str)
                                     else json.dumps(failure.message))
    error = KampaiError(f"Distributed training failed on rank {rank} of {world}: {message}")
    error.exit_code = int(own.get("exit_code") or 1)
    return error


def run_worker(cfg: dict[str, Any], *, verbose: bool, debug: bool = False) -> Any:
    """A worker's whole job: rank 0 trains and writes the run, the others follow.  Returns
    rank 0's :class:`~kampai.core.trained_run.Run` (None on the other ranks).  A failure
    goes to the launcher (one line); ``debug`` (``runner --debug``) also prints each rank's
    traceback."""
    from kampai.core import engine

    try:
        with worker() as dist:
            if dist.leader:
                return engine.train(cfg, verbose=verbose)
            with open(os.devnull, "w") as devnull, redirect_stdout(devnull), redirect_stderr(devnull):
                follow(cfg)  # silently: rank 0 alone prints (warnings about the data included)
            return None
    except SystemExit:
        raise
    except (Stopped, KeyboardInterrupt) as exc:  # Ctrl-C / SIGTERM passed on by the agent: quietly
        raise SystemExit(128 + int(exc.args[0]) if isinstance(exc, Stopped) else 130) from None
    except BaseException as exc:  # one line from the launcher, not a traceback per rank
        if debug:
            import traceback

            traceback.print_exc()
        record_error(exc)
        raise SystemExit(exc.exit_code if isinstance(exc, KampaiError) else 1) from None


def follow(cfg: dict[str, Any]) -> None:
    """A rank other than 0: the fits rank 0's :func:`engine.train` makes, in the same order
    (each fold's training part, then the refit on all rows when the run refits), with no
    hooks, predictions, metrics or files: the frameworks' DDP collectives need every rank
    in each fit; only rank 0 keeps the result."""
    from kampai.core import data as data_mod
    from kampai.core import engine
    from kampai.core.checks import check_training
    from kampai.core.contract import RunContext
    from kampai.core.host import get_host
    from kampai.core.typed import Config

    resolved, task, framework = engine.resolve(cfg)
    cfg = Config.of(resolved)
    ctx = RunContext(config=cfg, run_id="follower", run_dir=None, task=task, framework=framework,  # type: ignore[arg-type]
                     quiet=True)
    frame = data_mod.load(cfg["data"], None)
    data = task.prepare(frame, cfg["data"], training=True)
    check_training(data.X)
    splitter = get_host().splitters().get(cfg.split.method)
    folds = splitter.fn(data, cfg.split)
    for train_idx, _ in folds:
        engine.fit(ctx, cfg["model"], engine.fold_part(data, train_idx))
    refit = cfg.split.refit
    if refit if refit is not None else (splitter.cv or task.default_split.get("refit", False)):
        engine.fit(ctx, cfg["model"], data)


def train(cfg: dict[str, Any], argv: list[str], *, verbose: bool) -> Any:
    """``runner train`` with a ``distributed`` request: in the launcher, start the workers
    (returns None); in a worker, train (rank 0's run, None elsewhere)."""
    if in_worker():
        return run_worker(cfg, verbose=verbose and os.environ.get("RANK") == "0", debug="--debug" in argv)
    launch(cfg, argv)
    return None
