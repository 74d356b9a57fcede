"""What kampai may write or replace for the user, and how: one rule for every command.

* A file kampai writes for the user (``predict -o``, ``runs export -o``, a plugin's export)
  is written to a temporary file in the same folder and renamed over the target
  (:func:`atomic_write`): a full disk, a size limit or a signal leaves the old file (or
  nothing), never half a file.
* Nothing is written inside a run folder (:func:`check_output`): a run's files are signed,
  and a file changed there makes the run refused from then on.
* A folder is replaced whole only when it is a kampai run and the user said so
  (:func:`check_replaceable_run`): ``--run-dir runs`` or ``--run-dir data`` is refused, the
  folder untouched.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from kampai.core.errors import KampaiError, RunError

#: a file every finished run folder holds (kampai.core.runs.MANIFEST, not imported: light module)
MANIFEST = "manifest.json"


def run_folder_of(path: str | Path) -> Path | None:
    """The run folder ``path`` is in (or is), else None: a folder with a run's
    ``manifest.json`` and ``meta.json`` (a web project's lone manifest.json is not a run), or
    one a :class:`kampai.core.runs.RunWriter` is writing (``.tmp-<id>`` beside its
    ``.tmp-<id>.pid``)."""
    here = Path(os.path.abspath(path))
    for folder in (here, *here.parents):
        if (folder / MANIFEST).is_file() and (folder / "meta.json").is_file():
            return folder
        if folder.name.startswith(".tmp-") and (folder.parent / (folder.name + ".pid")).is_file():
            return folder
    return None


def check_output(path: str | Path, what: str = "output") -> Path:
    """Refuse (KampaiError) an output file that would land inside a run folder or is a
    folder; returns the path."""
    out = Path(path)
    run = run_folder_of(out.parent)
    if run is not None:
        raise KampaiError(f"Refusing to write the {what} '{out}' inside the run folder '{run}': a run's files "
                          "are signed, and a changed file makes the run refused. Write it elsewhere, "
                          "e.g. -o predictions.csv.")
    if out.is_dir():
        raise KampaiError(f"Cannot use '{out}' as the {what}: it is a folder. Give a file name in it.")
    return out


def atomic_write(path: str | Path, write: Callable[[Path], object], what: str = "output") -> Path:
    """Write ``path`` through ``write(tmp)`` (which writes the whole file at ``tmp``), then
    rename it into place.  On any failure (a full disk, a size limit, an interrupt) the
    temporary file is removed and ``path`` is what it was before; an OSError becomes one
    readable KampaiError."""
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KampaiError(f"Cannot write the {what} '{out}': {exc.strerror or exc}.") from None
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise KampaiError(f"Cannot write the {what} '{out}': {exc.strerror or exc}. Nothing was written "
                          "(an earlier file there is unchanged).") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return out


def write_text(path: str | Path, text: str, what: str = "output") -> Path:
    """:func:`atomic_write` of a text file (UTF-8)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), what)


def symlinks_in(folder: str | Path) -> list[Path]:
    """The symbolic links inside ``folder`` (not followed), relative to it."""
    root = Path(folder)
    found = []
    for current, dirs, files in os.walk(root, followlinks=False):
        for name in (*dirs, *files):
            path = Path(current) / name
            if path.is_symlink():
                found.append(path.relative_to(root))
    return found


def is_run(folder: str | Path) -> bool:
    """Whether ``folder`` is a finished kampai run this machine's key signed (its manifest
    verifies)."""
    from kampai.core.runs import verify_manifest

    try:
        verify_manifest(Path(folder))
    except RunError:
        return False
    return True


def check_replaceable_run(folder: str | Path, overwrite: bool, option: str = "--run-dir") -> None:
    """Refuse (KampaiError) to replace ``folder`` with a run's copy unless it does not exist,
    is empty, or is a kampai run (signed manifest, valid for this key) and ``overwrite``."""
    target = Path(folder)
    if not os.path.lexists(target):
        return
    if target.is_symlink() or not target.is_dir():
        raise KampaiError(f"{option} '{target}' exists and is not a folder: kampai replaces only a run folder "
                          "it wrote. Pick another path.")
    if not any(target.iterdir()):
        return
    if not is_run(target):
        raise KampaiError(f"{option} '{target}' exists and is not a kampai run (no valid signed manifest.json): "
                          "it is left untouched. Pick a new or empty folder (did you mean --runs-dir?).")
    if not overwrite:
        raise KampaiError(f"{option} '{target}' already holds a run: add --overwrite to replace it "
                          "(or pick another folder).")
