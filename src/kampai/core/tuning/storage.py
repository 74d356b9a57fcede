"""Where studies live, and a lock that serialises trial claims across processes.

The default storage is an Optuna journal file under the project
(``.kampai/optuna.journal``, :class:`optuna.storages.JournalStorage`): a study on one
machine appends each change as a line and reads the others' lines, so a trial costs a few
file appends instead of a few dozen SQL statements (``benchmarks/tiny_trials.py``).  A
project that already has the earlier default, ``.kampai/optuna.db``, keeps using it.  A
path ending in ``.journal`` is a journal file, any other plain path a SQLite file; any
SQLAlchemy URL Optuna's RDB storage accepts works (``postgresql://user:pw@host/db`` for
several machines).

A journal has no heartbeats of its own: kampai's worker records one as the trial's
``heartbeat`` user attribute (:func:`beat`), and the claim fails a RUNNING trial whose
process on this machine is gone, or whose heartbeat is older than the grace period.

The lock (one per study) makes "how many trials are left / which grid point is free /
ask for a trial" one atomic step, so a study never runs more than its total and a grid
point never runs twice: an ``flock`` beside a SQLite file, a PostgreSQL advisory lock, a
MySQL ``GET_LOCK``.  The database releases the last two if a worker dies.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import warnings
from pathlib import Path
from typing import Any

from kampai.core.errors import TuneError

DEFAULT_FILE = Path(".kampai") / "optuna.journal"
#: the default before the journal: a project that has it keeps it
LEGACY_FILE = Path(".kampai") / "optuna.db"
JOURNAL = "journal:///"
#: seconds between heartbeats of a running trial, and silence after which it counts as dead
HEARTBEAT_INTERVAL = 5
GRACE_PERIOD = 30


def resolve_url(url: str | None, root: Path | None = None) -> str:
    """The storage URL to use: the default SQLite file, a path, or the URL as given."""
    root = Path(root or Path.cwd())
    if not url:
        legacy = root / LEGACY_FILE
        url = str(LEGACY_FILE if legacy.is_file() and legacy.stat().st_size else DEFAULT_FILE)
    url = str(url)
    if "://" not in url:
        path = (root / url).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"{JOURNAL}{path}" if path.name.endswith(".journal") else f"sqlite:///{path}"
    if url.startswith(JOURNAL):
        path = (root / url[len(JOURNAL):]).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"{JOURNAL}{path}"
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
        path = (root / url[len("sqlite:///"):]).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    return _postgres_driver(url)


def _postgres_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1; use psycopg2 if that is what
    is installed (``kampai[tune]`` brings psycopg2-binary)."""
    import importlib.util

    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
                return "postgresql+psycopg2://" + url[len(prefix):]
            return "postgresql://" + url[len(prefix):]
    return url


def mask(url: str) -> str:
    """The URL with its password hidden (for messages, logs and hooks)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url[len("sqlite:///"):])
    return None


def journal_path(url: str) -> Path | None:
    return Path(url[len(JOURNAL):]) if url.startswith(JOURNAL) else None


def is_journal(storage: Any) -> bool:
    """Whether ``storage`` (an opened one) is a journal (no heartbeats of its own)."""
    return type(storage).__name__ == "JournalStorage"


def beat(storage: Any, trial_id: int) -> None:
    """A heartbeat of a running trial: Optuna's on an RDB storage, the ``heartbeat`` user
    attribute (seconds since the epoch) on a journal."""
    if is_journal(storage):
        import time

        storage.set_trial_user_attr(trial_id, "heartbeat", round(time.time(), 3))
    else:
        storage.record_heartbeat(trial_id)


def _journal(optuna: Any, path: Path) -> Any:
    """An Optuna journal on ``path``; appends take an ``O_EXCL`` lock file beside it.

    Optuna's file backend calls ``fsync`` after every append (about seven per trial); here
    an append is a ``write`` of whole lines under the lock, as SQLite's ``synchronous=NORMAL``
    above: a killed process loses nothing it wrote, an OS crash may lose the last lines."""
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
    from optuna.storages.journal._file import get_lock_file

    class LogFile(JournalFileBackend):
        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            import json

            text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode("utf-8")
            with get_lock_file(self._lock):
                fd = os.open(self._file_path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, text)  # one write of whole lines: readers never see half of one
                finally:
                    os.close(fd)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "experimental" in some Optuna versions
        return optuna.storages.JournalStorage(LogFile(str(path), lock_obj=JournalFileOpenLock(str(path))))


def open_storage(url: str) -> Any:
    """Optuna's RDB storage for ``url`` (heartbeats on); a TuneError if unreachable."""
    import optuna

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 120}}
    elif url.startswith(("postgresql", "mysql")):
        kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    try:
        journal = journal_path(url)
        if journal is not None:
            return _journal(optuna, journal)
        storage = _create(optuna, url, kwargs)
        if url.startswith("sqlite"):
            _fast_sqlite(storage.engine)
        return storage
    except ImportError as exc:
        raise TuneError(f"Cannot open the study storage '{mask(url)}': a database driver is missing "
                        f"({exc}). For PostgreSQL: pip install 'kampai[tune]' (psycopg2-binary).") from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TuneError(f"Cannot open the study storage '{mask(url)}': {first}") from None


def storage_failure(exc: BaseException, url: str) -> TuneError | None:
    """The one-line error for a storage that refused a read or write mid-study (a full disk:
    SQLite's "database or disk is full", an I/O error, a lost server), None for any other
    exception.  Optuna wraps the database's error; its innermost message is the one to read."""
    import optuna

    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # pragma: no cover - Optuna's RDB storage needs it
        SQLAlchemyError = ()  # type: ignore[assignment, misc]
    import errno

    if journal_path(url) is not None and isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT,
                                                                                   errno.EIO):
        return TuneError(f"The study storage '{mask(url)}' refused a write: {exc.strerror}. Finished trials are "
                         "kept; free some space and run the same command again to resume.")
    if not isinstance(exc, (optuna.exceptions.StorageInternalError, SQLAlchemyError)):
        return None
    root: BaseException = exc
    seen = {id(root)}
    while (root.__cause__ or root.__context__) is not None and id(root.__cause__ or root.__context__) not in seen:
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
        seen.add(id(root))
    text = str(getattr(root, "orig", None) or root).strip()
    detail = text.splitlines()[0] if text else type(root).__name__
    return TuneError(f"The study storage '{mask(url)}' refused a write: {detail}. Finished trials are kept; "
                     "free some space (or fix the database) and run the same command again to resume.")


#: what a database says when another process created the schema at the same moment
SCHEMA_RACE = ("already exists", "UNIQUE constraint failed", "duplicate key", "database is locked")


def _create(optuna: Any, url: str, kwargs: dict[str, Any]) -> Any:
    """``RDBStorage(url)``, safe when N processes start together on a fresh database: a file
    lock beside a SQLite file serialises the schema creation; any database's "already
    exists" race (PostgreSQL, MySQL) is retried, as the schema is then there."""
    import time

    path = sqlite_path(url)
    for attempt in range(8):
        lock = _file_lock(path.with_name(path.name + ".schema.lock")) if path else contextlib.nullcontext()
        try:
            with lock, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # heartbeats are "experimental"
                fresh = path is not None and not (path.exists() and path.stat().st_size)
                if fresh:
                    _from_template(optuna, path)
                storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_INTERVAL,
                                                     grace_period=GRACE_PERIOD)
                if fresh:
                    _save_template(optuna, path)
                return storage
        except Exception as exc:
            if attempt == 7 or not any(phrase in str(exc) for phrase in SCHEMA_RACE):
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _template(optuna: Any) -> Path:
    from kampai.core.diskcache import cache_dir

    return cache_dir() / f"optuna-{optuna.__version__}-empty.db"


def _from_template(optuna: Any, path: Path) -> None:
    """A new SQLite study file starts as a copy of an empty one of this Optuna version:
    creating the schema (SQLAlchemy ``create_all`` plus Alembic's stamp) costs about a
    second, a copy a millisecond.  A SQLite file holds data, not code, so the copy is as
    safe as the file it replaces."""
    template = _template(optuna)
    if template.is_file():
        import shutil

        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            shutil.copyfile(template, tmp)
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)  # the schema is then created as usual


def _save_template(optuna: Any, path: Path) -> None:
    """Keep the just-created empty schema as the template (best effort, atomic)."""
    import shutil

    template = _template(optuna)
    if template.is_file():
        return
    try:
        from kampai.core.diskcache import make_cache_dir

        make_cache_dir(template.parent, "user")
        tmp = template.with_name(f".{template.name}.{os.getpid()}.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, template)
    except OSError:
        pass  # a read-only cache only costs speed


@contextlib.contextmanager
def _file_lock(path: Path) -> Any:
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _fast_sqlite(engine: Any) -> None:
    """WAL journal (readers never block the writer: workers and a progress reader) and
    fewer fsyncs; a crash may lose the last transaction, never corrupt the file."""
    from sqlalchemy import event

    def on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections made before the listener get replaced


def _key(study_name: str) -> int:
    digest = hashlib.sha256(f"kampai-study:{study_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class StudyLock:
    """A re-usable cross-process lock for one study (``with lock: ...``)."""

    def __init__(self, url: str, study_name: str) -> None:
        self.url, self.study_name = url, study_name
        self._local = threading.Lock()
        self._fd: int | None = None
        self._conn: Any = None
        self._file = sqlite_path(url) or journal_path(url)
        self._kind = ("file" if self._file is not None else
                      "postgresql" if url.startswith("postgresql") else
                      "mysql" if url.startswith("mysql") else "local")

    def _connection(self) -> Any:
        if self._conn is None:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            self._conn = create_engine(self.url, poolclass=NullPool).connect()
        return self._conn

    def __enter__(self) -> StudyLock:
        self._local.acquire()
        try:
            if self._kind == "file":
                import fcntl

                # a journal's own append lock is ``<file>.lock`` (Optuna's): the claim lock is apart
                suffix = ".claim.lock" if self._file.name.endswith(".journal") else ".lock"
                self._fd = os.open(f"{self._file}{suffix}", os.O_RDWR | os.O_CREAT, 0o666)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            elif self._kind in ("postgresql", "mysql"):
                from sqlalchemy import text

                conn = self._connection()
                if self._kind == "postgresql":
                    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _key(self.study_name)})
                else:
                    conn.execute(text("SELECT GET_LOCK(:k, -1)"), {"k": f"kampai-{_key(self.study_name)}"})
                conn.commit()
        except BaseException:
            self._local.release()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._kind == "file" and self._fd is not None:
                import fcntl

                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None
            elif self._kind in ("postgresql", "mysql") and self._conn is not None:
                from sqlalchemy import text

                if self._kind == "postgresql":
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(self.study_name)})
                else:
                    self._conn.execute(text("SELECT RELEASE_LOCK(:k)"), {"k": f"kampai-{_key(self.study_name)}"})
                self._conn.commit()
        finally:
            self._local.release()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
