"""Run folders: written atomically, read back for ``predict``/``evaluate``/``runs list``.

A run is written into ``<runs_dir>/.tmp-<run_id>`` and renamed to ``<runs_dir>/<run_id>``
only when complete, so a failed or interrupted run leaves nothing half-written (a killed
process may leave a ``.tmp-*`` folder, which listings ignore and the next run removes).

Layout of a run folder::

    config.yaml       the resolved experiment config
    metrics.json      the evaluation metrics (mean and _std over folds for CV)
    meta.json         run id, task, framework, timings, model size, versions, git, data
    predictions.csv   predictions on the test split(s), when output.predictions
    model/            whatever the framework's save() (or the --serializer) wrote
    manifest.json     the sha256 of every file above, checked before the model is loaded
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core.errors import RunError
from kampai.core.verified import MANIFEST, pid_alive, signed_payload

if TYPE_CHECKING:
    pass

STALE_TMP_SECONDS = 24 * 3600


def new_run_id(name: str | None) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in (name or "run"))[:40]
    return f"{stamp}-{slug}-{uuid.uuid4().hex[:6]}"


class RunWriter:
    """Context manager: a temporary run folder, renamed into place on success.

    ``<runs_dir>/.tmp-<run_id>.pid`` names the process writing it: the next run removes a
    temporary folder whose process is gone (checked by pid on this host, by age elsewhere).
    """

    def __init__(self, runs_dir: Path, run_id: str) -> None:
        self.runs_dir = Path(runs_dir)
        self.run_id = run_id
        self.tmp_dir = self.runs_dir / f".tmp-{run_id}"
        self.final_dir = self.runs_dir / run_id
        self.pid_file = self.runs_dir / f".tmp-{run_id}.pid"

    def __enter__(self) -> RunWriter:
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            self._remove_stale()
            self.pid_file.write_text(f"{os.getpid()} {platform.node()}\n")
            self.tmp_dir.mkdir()
        except OSError as exc:
            with contextlib.suppress(OSError):
                self.pid_file.unlink(missing_ok=True)
            raise RunError(f"Cannot write runs into '{self.runs_dir}': {exc.strerror or exc}.") from None
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is not None:
                shutil.rmtree(self.tmp_dir, ignore_errors=True)
                return
            os.replace(self.tmp_dir, self.final_dir)
        finally:
            self.pid_file.unlink(missing_ok=True)

    def _remove_stale(self) -> None:
        now = time.time()
        for old in self.runs_dir.glob(".tmp-*"):
            if not old.is_dir():
                continue
            owner = old.with_name(old.name + ".pid")
            if _writer_alive(owner) if owner.exists() else now - old.stat().st_mtime < STALE_TMP_SECONDS:
                continue
            shutil.rmtree(old, ignore_errors=True)
            owner.unlink(missing_ok=True)

    def write_json(self, name: str, payload: Any) -> None:
        (self.tmp_dir / name).write_text(json.dumps(payload, indent=2, default=str) + "\n")


def _writer_alive(pid_file: Path) -> bool:
    """Whether the process named in a ``.tmp-*.pid`` file still runs (another host's: by age)."""
    try:
        pid_text, _, host = pid_file.read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    if host != platform.node():
        return time.time() - pid_file.stat().st_mtime < STALE_TMP_SECONDS
    return pid_alive(pid)


def dir_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    names = ("kampai", "scikit-learn", "pandas", "numpy", "pluggy", *extra)
    out = {"python": platform.python_version()}
    for name in names:
        version = _installed_version(name)
        if version is not None:
            out[name] = version
    return out


@functools.cache
def _installed_version(name: str) -> str | None:
    """An installed distribution's version, read once per process (each read parses its
    metadata file; the modules a process runs do not change under it)."""
    from importlib import metadata  # here, not at import: runner --help does not need it

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_info(cwd: Path | None = None) -> dict[str, Any] | None:
    """The commit and dirty flag of the repository around ``cwd``, if any."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, timeout=5)
        if commit.returncode != 0:
            return None
        status = subprocess.run(["git", "status", "--porcelain"], cwd=cwd, capture_output=True,
                                text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


class GitProbe:
    """:func:`git_info` in a background thread, started at once: a run starts it before it
    fits and reads :meth:`result` when it writes meta.json, so the two ``git`` processes
    (their start-up is most of their cost) run while the model trains."""

    def __init__(self, cwd: Path | None = None) -> None:
        self._info: dict[str, Any] | None = None
        self._thread = threading.Thread(target=self._probe, args=(cwd,), name="kampai-git", daemon=True)
        self._thread.start()

    def _probe(self, cwd: Path | None) -> None:
        self._info = git_info(cwd)

    def result(self) -> dict[str, Any] | None:
        """The commit and dirty flag (None outside a repository); waits for git as long as
        :func:`git_info` would (its two 5 s timeouts)."""
        self._thread.join(timeout=10)
        return self._info


def file_sha256(path: Path) -> str:
    """The sha256 of a file kampai itself just wrote (to record it, never to trust it: what
    is loaded is verified as it is read, see :mod:`kampai.core.verified`)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(run_dir: Path) -> dict[str, str]:
    """Record the sha256 of every file of a run folder in ``manifest.json``, authenticated
    with an HMAC of this machine's (or ``$KAMPAI_SECRET_KEY``'s) secret key."""
    from kampai.core import signing

    files = {p.relative_to(run_dir).as_posix(): file_sha256(p)
             for p in sorted(Path(run_dir).rglob("*")) if p.is_file() and p.name != MANIFEST}
    manifest = {"algorithm": "sha256", "files": files,
                "signature": {"algorithm": "hmac-sha256", "key_id": signing.key_id(),
                              "value": signing.sign(signed_payload(files))}}
    (Path(run_dir) / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return files


def verify_manifest(run_dir: Path, label: str | None = None) -> None:
    """Refuse (RunError) a run folder whose files cannot be trusted: ``manifest.json`` must
    exist, carry a valid HMAC of this key, list every file of ``model/``, every listed file
    must match its sha256, and the run holds no symbolic link.

    A check only: a file can change after it returns, so nothing may be loaded by path on
    the strength of it.  kampai loads a run's model from a private verified copy
    (:attr:`RunRecord.model`, :func:`kampai.core.verified.mirror`).  ``label`` names the run in
    messages (default: its folder).
    """
    from kampai.core import verified

    verified.check(run_dir, label)


#: picks what loads a run's model (a framework or serializer) from the run's verified config
StoreLookup = Callable[[dict[str, Any]], Any]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class RunRecord:
    """A finished run, as a record: its folder, config, metrics and meta; the model loads on
    demand (hash-checked).  Actions on a run (predict, evaluate) live in the engine
    (:class:`kampai.core.trained_run.TrainedRun`, what ``kampai.train``/``kampai.load_run`` return).

    ``store_for`` picks the model's loader from the verified config
    (:func:`kampai.core.hosted.model_store`); this module never reaches for the host."""

    run_dir: Path
    config: dict[str, Any]
    metrics: dict[str, float]
    meta: dict[str, Any]
    _model: Any = field(default=None, repr=False)
    store_for: StoreLookup | None = field(default=None, repr=False, compare=False)
    _records: dict[str, bytes] = field(default_factory=dict, repr=False)
    #: sha256 of the bytes ``open_run`` parsed each record from (compared with the signed ones)
    _digests: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def run_id(self) -> str:
        return self.meta.get("run_id", self.run_dir.name)

    @property
    def model(self) -> Any:
        """The fitted model, loaded on first access through the run's framework (or its
        serializer) from a private copy of the run's files, each read once and verified
        against the signed manifest; the loader is chosen from the verified config, and the
        config, metrics and meta this record holds must be the signed ones."""
        if self._model is None:
            if self.store_for is None:
                raise RunError(f"Run '{self.run_dir}' was opened without a model store: open it with "
                               "kampai.plugin.runs.read_run to load its model.")
            from kampai.core import verified
            from kampai.core.config import parse_yaml_bytes

            parsers: dict[str, Callable[[bytes], Any]] = {
                "config.yaml": parse_yaml_bytes, "metrics.json": json.loads, "meta.json": json.loads}
            mine = {"config.yaml": self.config, "metrics.json": self.metrics, "meta.json": self.meta}
            with verified.mirror(self.run_dir) as copy:
                config = self.config
                for name, parse in parsers.items():
                    data = copy.read(name) or b""
                    if self._digests.get(name) == hashlib.sha256(data).hexdigest():
                        continue  # this record was parsed from exactly the signed bytes: no second parse
                    try:
                        value = parse(data)
                    except Exception as exc:
                        raise RunError(f"Run '{self.run_dir}' is corrupt: {exc}") from None
                    if _canonical(value) != _canonical(mine[name]):
                        raise RunError(f"Run '{self.run_dir}': {name} changed after the run was opened (it is not "
                                       "what was signed). Refusing to load it.")
                    if name == "config.yaml":
                        config = value
                self._records = {p.name: p.read_bytes() for p in copy.root.iterdir() if p.is_file()}
                self._model = self.store_for(config).load(copy.model_dir)
        return self._model

    def record(self, name: str) -> bytes | None:
        """A ``*.json``/``*.yaml`` record of the run folder (``signature.json`` ...) as
        verified when the model was loaded (loading it now if needed); a run trained in this
        process, whose model never left memory, reads its own file.  None when absent."""
        if self._model is not None and not self._records:
            file = Path(self.run_dir) / name
            return file.read_bytes() if file.is_file() else None
        _ = self.model
        return self._records.get(name)

    @property
    def loaded_model(self) -> Any:
        """The model if it is already in memory (right after training), else None: for
        observers that want it without paying for a load."""
        return self._model


#: the record's name in the core before the SDK named it ``RunRecord`` (``kampai.Run`` is the
#: trained run users hold: :class:`kampai.core.engine.TrainedRun`)
Run = RunRecord


def _canonical(value: Any) -> str:
    """A comparable text of a parsed record (NaN equals NaN, key order does not count)."""
    return json.dumps(value, sort_keys=True, default=str)


def open_run(path: str | Path, *, resolve: Callable[[str], Path | None] | None = None,
             store_for: StoreLookup | None = None) -> RunRecord:
    """Open a run folder, or a ``NAME@stage`` / ``NAME@version`` that ``resolve`` turns into
    one (the plugins' ``kampai_resolve_run``), as a :class:`RunRecord` whose model loads
    through ``store_for``; a clear RunError when it is missing or incomplete.
    :func:`kampai.core.hosted.open_run` passes the host's."""
    run_dir = Path(path)
    if not run_dir.is_dir():
        resolved = resolve(str(path)) if resolve is not None else None
        if resolved is None:
            raise RunError(f"Run '{path}' does not exist (expected a run folder such as runs/<run_id>, "
                           "or NAME@stage / NAME@version of a model registry).")
        run_dir = Path(resolved)
    try:
        from kampai.core.config import parse_yaml_bytes

        raw = {name: (run_dir / name).read_bytes() for name in ("config.yaml", "metrics.json", "meta.json")}
        config = parse_yaml_bytes(raw["config.yaml"])
        metrics = json.loads(raw["metrics.json"])
        meta = json.loads(raw["meta.json"])
    except FileNotFoundError as exc:
        raise RunError(f"Run '{path}' is incomplete: {Path(exc.filename).name} is missing.") from None
    except Exception as exc:
        raise RunError(f"Run '{path}' is corrupt: {exc}") from None
    return RunRecord(run_dir=run_dir, config=config, metrics=metrics, meta=meta,  # type: ignore[arg-type]
               store_for=store_for, _digests={name: hashlib.sha256(data).hexdigest() for name, data in raw.items()})


def list_runs(runs_dir: str | Path, *, store_for: StoreLookup | None = None) -> list[RunRecord]:
    """Every complete run under ``runs_dir``, newest first (broken folders are skipped);
    ``store_for`` as for :func:`open_run`."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    runs = []
    for child in root.iterdir():
        if child.name.startswith(".") or not (child / "meta.json").exists():
            continue
        try:
            runs.append(open_run(child, store_for=store_for))
        except RunError:
            continue
    # "created" has whole seconds: the meta file's write time orders runs of the same second
    return sorted(runs, key=lambda r: (r.meta.get("created", ""), _written(r)), reverse=True)


def _written(run: RunRecord) -> int:
    try:
        return (Path(run.run_dir) / "meta.json").stat().st_mtime_ns
    except OSError:
        return 0


def protocol_label(meta: dict[str, Any]) -> str:
    """How a run's scores were measured, in words: ``5-fold CV (stratified_kfold)`` or
    ``holdout, 30 test rows (stratified)``; runs of other protocols rank apart."""
    protocol = meta.get("protocol") or {}
    method = protocol.get("method") or meta.get("split") or "?"
    folds = protocol.get("folds") or meta.get("folds") or 1
    kind = protocol.get("kind") or ("cv" if int(folds) > 1 else "holdout")
    if kind == "cv":
        return f"{folds}-fold CV ({method})"
    rows = protocol.get("test_rows")
    return f"holdout, {rows} test rows ({method})" if rows else f"holdout ({method})"
