"""``runner train ... --ray ADDRESS``: the training runs on a Ray cluster, the finished run
folder comes back into the local ``runs/``, so the project is in the state a local run
would have left it in.

1. The config is loaded and checked here (a typo fails before anything travels).  A data
   file travels with the run through Ray's runtime environment (``working_dir``: a staging
   folder holding the file at its relative path, so the run's config records the same
   ``data.path``); a file over :data:`MAX_SHIPPED` MiB is not copied and must be readable by
   the nodes at its absolute path (a shared filesystem); bundled datasets need nothing.
2. One Ray task trains it with the same engine (``engine.train``; tracking plugins off
   there: this machine pushes), packs the run folder and returns it.
3. Here, the folder is unpacked into a temporary run folder (:class:`~kampai.core.runs.RunWriter`),
   every file checked against the run's manifest (its sha256), signed with this machine's
   key (:func:`~kampai.core.runs.write_manifest`; the cluster may have another key),
   verified, and renamed into place; then the observers see it as after a local
   ``runner train`` (MLflow pushes it).  A failed or cancelled remote run (an error there, a
   lost node, Ctrl-C here) leaves nothing in ``runs/``.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from kampai.core.errors import KampaiError, RunError
from kampai.core.scaleout.cluster import RayError, connect

#: data files up to this many MiB travel with the run; larger ones are read where they are
MAX_SHIPPED = 90
#: the remote runs folder (inside the task's working directory) when output.runs_dir is absolute
REMOTE_RUNS = ".kampai-remote-runs"


def _stage(cfg: dict[str, Any], staging: Path) -> dict[str, Any]:
    """The config the cluster runs, and the data file copied into ``staging``."""
    import uuid

    from kampai.core.data import is_dataset_name

    # a package of its own: Ray caches working_dir packages by content, and a cached one that a
    # node has already let go of fails the next task that names it
    (staging / ".kampai-submission").write_text(uuid.uuid4().hex + "\n")
    remote = json.loads(json.dumps(cfg, default=str))
    runs_dir = Path(str(remote["output"]["runs_dir"]))
    if runs_dir.is_absolute() or ".." in runs_dir.parts:  # the run's config records a folder of the task's own
        remote["output"]["runs_dir"] = REMOTE_RUNS
    path = (remote.get("data") or {}).get("path")
    if path and not is_dataset_name(str(path)):
        source = Path(str(path))
        if not source.is_file():
            raise KampaiError(f"Data file '{source}' does not exist (or is not a file): --ray ships a "
                              "CSV/Parquet file with the run.")
        if source.stat().st_size > MAX_SHIPPED << 20:
            remote["data"]["path"] = str(source.resolve())  # the nodes read it there (shared storage)
        else:
            rel = source if not source.is_absolute() and ".." not in source.parts else Path(source.name)
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, staging / rel)
            remote["data"]["path"] = rel.as_posix()
    return remote


def _train_task(cfg: dict[str, Any], blocked: set[str]) -> tuple[str, bytes]:
    """On the cluster: train ``cfg`` in the task's working directory; the run folder packed."""
    from kampai.core import engine
    from kampai.core import host as plugins

    plugins.block(set(blocked) | {"mlflow"})  # tracking: the driver pushes the run once it has it
    run = engine.train(cfg, verbose=False)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(str(run.run_dir), arcname=run.run_id)
    shutil.rmtree(run.run_dir, ignore_errors=True)
    return run.run_id, buffer.getvalue()


def train_remote(cfg: dict[str, Any], address: str | None, *, verbose: bool = True) -> Any:
    """Train ``cfg`` (a loaded config) on the Ray cluster at ``address``; the local
    :class:`~kampai.core.trained_run.Run` of the run folder it brought back."""
    from kampai.core.console import Steps

    report = Steps(verbose)
    with tempfile.TemporaryDirectory(prefix="kampai-ray-stage-") as staging:
        remote = _stage(cfg, Path(staging))
        ray = connect(address, working_dir=staging)
        try:
            task = ray.remote(_train_task).options(num_cpus=1, max_retries=0, name="kampai-train")
            report.info(f"[bold]Training on the Ray cluster[/bold] {address or 'auto'}")
            from kampai.core import host as plugins

            ref = task.remote(remote, plugins.blocked_names())
            try:
                run_id, packed = ray.get(ref)
            except KeyboardInterrupt:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
                raise
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, KampaiError):
                    raise cause from None
                raise RayError(f"The remote run failed on the Ray cluster: {cause or exc}") from None
            except ray.exceptions.RayError as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise RayError(f"The remote run was lost on the Ray cluster: {first}") from None
        finally:
            with contextlib.suppress(Exception):
                ray.shutdown()
    run = land(packed, run_id, Path(cfg["output"]["runs_dir"]))
    report.info(f"[bold]Run[/bold] {run.run_id} → {run.run_dir}  (trained on the Ray cluster)")
    _observe(run)
    return run


def land(packed: bytes, run_id: str, runs_dir: Path) -> Any:
    """Unpack a remote run folder into ``runs_dir``: checked against its manifest, signed
    with this machine's key, verified, renamed into place (or nothing at all)."""
    from kampai.core import verified
    from kampai.core.errors import check_name
    from kampai.core.hosted import open_run
    from kampai.core.runs import MANIFEST, RunWriter, file_sha256, write_manifest
    from kampai.core.trained_run import Run

    check_name("run", run_id)
    writer = RunWriter(runs_dir, run_id)
    if writer.final_dir.exists():
        raise RunError(f"Run '{run_id}' exists in '{runs_dir}' already: nothing was written.")
    with writer:
        with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as tar:
            for member in tar.getmembers():
                if not (member.isfile() or member.isdir()) or not (
                        member.name == run_id or member.name.startswith(run_id + "/")):
                    raise RunError(f"The remote run '{run_id}' holds an unexpected entry '{member.name}'.")
            tar.extractall(writer.runs_dir / ".incoming", filter="data")
        incoming = writer.runs_dir / ".incoming" / run_id
        try:
            writer.tmp_dir.rmdir()
            incoming.rename(writer.tmp_dir)
        finally:
            shutil.rmtree(writer.runs_dir / ".incoming", ignore_errors=True)
        manifest = json.loads((writer.tmp_dir / MANIFEST).read_text())
        listed = dict(manifest.get("files") or {})
        present = {p.relative_to(writer.tmp_dir).as_posix() for p in writer.tmp_dir.rglob("*")
                   if p.is_file() and p.name != MANIFEST}
        if present != set(listed) or any(file_sha256(writer.tmp_dir / n) != h for n, h in listed.items()):
            raise RunError(f"The remote run '{run_id}' does not match its manifest: nothing was written.")
        write_manifest(writer.tmp_dir)  # signed here, with this machine's key
        verified.check(writer.tmp_dir, run_id)
    run = open_run(writer.final_dir)
    return Run.of(run)


def _observe(run: Any) -> None:
    """The observers see the landed run as after a local ``runner train`` (tracking pushes)."""
    from kampai.core.contract import RunContext
    from kampai.core.host import get_host

    host = get_host()
    ctx = RunContext(config=run.config, run_id=run.run_id, run_dir=run.run_dir,
                     task=host.task(run.config["task"]), framework=host.framework(run.config["framework"]))
    host.observers.kampai_after_train(ctx=ctx, run=run)
