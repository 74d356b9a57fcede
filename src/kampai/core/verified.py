"""Reading what a signed run holds: each file once, verified, and only those bytes loaded.

A run folder may be writable by someone who cannot read the secret key.  Checking its files
by path and then letting a framework reopen the paths leaves a window in which a file can be
swapped (a renamed pickle runs code).  So nothing here checks a path that something else
reopens: :func:`mirror` opens every file of the run folder through directory descriptors
(``O_NOFOLLOW`` at every level: a symlink anywhere in the run is refused), hashes exactly
the bytes it reads and streams them into a private folder (``mkdtemp``, mode 0700, outside
the run folder); the run's model is then loaded from that copy, and the copy is removed.
:func:`open_checked` does the same for one file: the handle it hashed is the handle the
deserializer reads.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kampai.core.errors import RunError

MANIFEST = "manifest.json"
MODEL = "model"
BLOCK = 1 << 20
#: the largest manifest read (a run's manifest is a few KB; this bounds a planted one)
MAX_MANIFEST = 16 << 20
#: the suffixes of the run folder's own small records copied next to the model
RECORDS = (".json", ".yaml")

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a planted FIFO returns at once (and fstat refuses it) instead of hanging
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def signed_payload(files: dict[str, str]) -> bytes:
    """The bytes a run manifest's HMAC covers."""
    return json.dumps({"algorithm": "sha256", "files": files}, sort_keys=True, separators=(",", ":")).encode()


def open_regular(name: str | Path, dir_fd: int | None = None) -> int:
    """A read descriptor of a regular file, never through a symlink (``OSError`` otherwise:
    ELOOP for a symlink, EINVAL for a FIFO, socket or device)."""
    fd = os.open(name, _FILE, dir_fd=dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file")
    os.set_blocking(fd, True)
    return fd


def open_checked(path: str | Path, sha256: str | None) -> IO[bytes]:
    """``path`` open for reading, its bytes hashed as read and matching ``sha256``, rewound:
    deserialize from the handle, never by reopening the path.  The handle holds bytes no
    other user can change: the file itself when only this user can write it (the private
    copy of a run, a file kampai wrote), else an anonymous private copy made while hashing.
    A symlink, a non-regular file, a missing file or another hash is a RunError."""
    try:
        fd = open_regular(path)
    except OSError as exc:
        reasons = {errno.ELOOP: "is a symbolic link", errno.ENOENT: "is missing",
                   errno.EINVAL: "is not a regular file"}
        reason = reasons.get(exc.errno, f"cannot be read ({exc.strerror})")
        raise RunError(f"Model file '{path}' {reason}: refusing to load it.") from None
    info = os.fstat(fd)
    source = os.fdopen(fd, "rb")
    # another user who can write the file could change it between the hash and the load
    private = info.st_uid == os.geteuid() and not info.st_mode & 0o022
    handle = source if private else tempfile.TemporaryFile()  # noqa: SIM115 (returned open)
    digest = hashlib.sha256()
    try:
        for block in iter(lambda: source.read(BLOCK), b""):
            digest.update(block)
            if handle is not source:
                handle.write(block)
    finally:
        if handle is not source:
            source.close()
    if digest.hexdigest() != sha256:
        handle.close()
        raise RunError(f"Model file '{path}' does not match its recorded hash: it is corrupt or was changed "
                       "after training. Refusing to load it.")
    handle.seek(0)
    return handle


@dataclass
class Verified:
    """A run's files as verified: ``files`` (relative path -> sha256, from the signed
    manifest) and, for :func:`mirror`, ``root``: the private copy (``model/`` and the
    run's ``*.json``/``*.yaml`` records), removed when the ``with`` block ends."""

    files: dict[str, str]
    root: Path | None = None
    seen: set[str] = field(default_factory=set)

    @property
    def model_dir(self) -> Path:
        assert self.root is not None
        return self.root / MODEL

    def read(self, name: str) -> bytes | None:
        """A record of the run root as verified (None when the run has none)."""
        assert self.root is not None
        file = self.root / name
        return file.read_bytes() if file.is_file() else None


def check(run_dir: str | Path, label: str | None = None) -> Verified:
    """Verify a run folder (every file read once and hashed) without keeping a copy: for
    reports and early refusals.  What is loaded afterwards must come from :func:`mirror`."""
    return _read(Path(run_dir), label, None)


#: private copies are named ``kampai-load-<pid>-<random>``: the pid says whose they are
COPY_PREFIX = "kampai-load-"


def sweep_copies(folder: str | Path | None = None) -> int:
    """Remove the private copies a killed process left behind (SIGKILL skips ``mirror``'s
    cleanup): only folders of kampai's naming, owned by this user, not links, whose process
    is gone.  Returns how many were removed."""
    removed = 0
    with contextlib.suppress(OSError), os.scandir(folder or tempfile.gettempdir()) as entries:
        for entry in entries:
            pid = entry.name[len(COPY_PREFIX):].split("-", 1)[0]
            if not entry.name.startswith(COPY_PREFIX) or not pid.isdigit() or int(pid) == os.getpid():
                continue
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or pid_alive(int(pid)):
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (one that is not ours counts as running);
    here because a private copy's owner is a pid, and :mod:`kampai.core.runs` builds on it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_swept = False


@contextlib.contextmanager
def mirror(run_dir: str | Path, label: str | None = None) -> Iterator[Verified]:
    """The run's verified files in a private folder, for the ``with`` block: load the model
    from ``.model_dir`` (a framework's ``load(path)``); the folder is removed afterwards (and
    what a killed process left is removed by the next one: :func:`sweep_copies`)."""
    global _swept
    if not _swept:  # once per process: a directory listing of $TMPDIR
        _swept = True
        sweep_copies()
    root = Path(tempfile.mkdtemp(prefix=f"{COPY_PREFIX}{os.getpid()}-"))  # 0700, in $TMPDIR, not in the run
    try:
        (root / MODEL).mkdir(mode=0o700)
        yield _read(Path(run_dir), label, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _read(run_dir: Path, label: str | None, root: Path | None) -> Verified:
    label = label or f"Run '{run_dir}'"
    try:
        top = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise RunError(f"{label} cannot be opened: {exc.strerror}.") from None
    try:
        verified = Verified(files=_manifest(top, run_dir, label), root=root)
        _walk(top, "", verified, label)
    except OSError as exc:  # a full disk for the copy, a folder removed under us ...
        where = f" (the verified copy goes to {tempfile.gettempdir()}: set TMPDIR to a larger disk)" \
            if exc.errno == errno.ENOSPC else ""
        raise RunError(f"{label} cannot be read: {exc.strerror or exc}{where}. Refusing to load it.") from None
    finally:
        os.close(top)
    missing = sorted(set(verified.files) - verified.seen)
    if missing:
        raise RunError(f"{label} is incomplete: '{missing[0]}' is missing. Refusing to load it.")
    return verified


def _manifest(top: int, run_dir: Path, label: str) -> dict[str, str]:
    """The signed manifest's files, once its HMAC verifies with this key."""
    from kampai.core import signing

    trust = f"If you trust it, re-sign it with 'runner runs trust {run_dir}' (docs/security.md)."
    try:
        fd = open_regular(MANIFEST, top)
    except FileNotFoundError:
        raise RunError(f"{label} has no {MANIFEST}: its files cannot be verified. Refusing to load it. "
                       f"{trust}") from None
    except OSError:
        raise RunError(f"{label}: {MANIFEST} is a symlink or not a regular file. Refusing to load it.") from None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_MANIFEST + 1)
    try:
        if len(data) > MAX_MANIFEST:
            raise ValueError
        manifest = json.loads(data)
        files = manifest["files"]
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise RunError(f"{label}: {MANIFEST} is corrupt. Refusing to load it.") from None
    signature = manifest.get("signature") or {}
    if not isinstance(signature, dict) or not signature.get("value"):
        raise RunError(f"{label}: {MANIFEST} is not signed (written by an older kampai, or edited). "
                       f"Refusing to load it. {trust}")
    if signature.get("key_id") != signing.key_id():
        raise RunError(f"{label} was signed with another key ({signature.get('key_id')}; this machine's is "
                       f"{signing.key_id()}). Share the key through $KAMPAI_SECRET_KEY, or: {trust}")
    if not signing.valid(signature["value"], signing.sign(signed_payload(files))):
        raise RunError(f"{label}: {MANIFEST} does not match its signature (changed after training). "
                       "Refusing to load it.")
    return files


def _walk(dir_fd: int, prefix: str, verified: Verified, label: str) -> None:
    """Every entry under ``dir_fd`` (``prefix``: its path in the run): a symlink anywhere is
    refused, a file of ``model/`` must be listed, listed files are read (and copied)."""
    in_model = prefix == f"{MODEL}/" or prefix.startswith(f"{MODEL}/")
    with os.scandir(dir_fd) as entries:
        names = sorted((e.name, e.is_symlink(), e.is_dir(follow_symlinks=False)) for e in entries)
    for name, link, is_dir in names:
        rel = prefix + name
        if link:
            raise RunError(f"{label}: '{rel}' is a symbolic link; a run holds no links. Refusing to load it.")
        if is_dir:
            try:
                sub = os.open(name, _DIR, dir_fd=dir_fd)
            except OSError:  # swapped for a link since it was listed
                raise RunError(f"{label}: '{rel}' changed while it was read (a symbolic link?). "
                               "Refusing to load it.") from None
            try:
                if verified.root is not None and (rel == MODEL or in_model):
                    (verified.root / rel).mkdir(mode=0o700, exist_ok=True)
                _walk(sub, rel + "/", verified, label)
            finally:
                os.close(sub)
        elif rel in verified.files:
            keep = in_model or (not prefix and name.endswith(RECORDS))
            _read_file(dir_fd, name, rel, verified, label, keep)
        elif in_model:
            raise RunError(f"{label}: '{rel}' is not in its signed {MANIFEST} (added after training). "
                           "Refusing to load it.")


def _read_file(dir_fd: int, name: str, rel: str, verified: Verified, label: str, keep: bool) -> None:
    """Hash one listed file's bytes as read, streaming them into the private copy."""
    try:
        fd = open_regular(name, dir_fd)
    except FileNotFoundError:
        return  # removed since listed: reported as missing
    except OSError:
        raise RunError(f"{label}: '{rel}' is a symbolic link or not a regular file. Refusing to load it.") from None
    digest = hashlib.sha256()
    out = os.open(verified.root / rel, _NEW, 0o600) if keep and verified.root is not None else None
    try:
        with os.fdopen(fd, "rb") as handle:
            for block in iter(lambda: handle.read(BLOCK), b""):
                digest.update(block)
                if out is not None:
                    view = memoryview(block)
                    while view:
                        view = view[os.write(out, view):]
    finally:
        if out is not None:
            os.close(out)
    if digest.hexdigest() != verified.files[rel]:
        raise RunError(f"{label}: '{rel}' does not match its recorded sha256 (corrupt, or changed "
                       "after training). Refusing to load it.")
    verified.seen.add(rel)
