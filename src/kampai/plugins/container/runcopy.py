"""The run a serving image holds: exactly the files its signed manifest lists, checked as
they are copied, and nothing else.

A file planted in the run folder outside ``model/`` (which the manifest does not cover) is
not copied, so the image's re-signed manifest never vouches for it; a symbolic link anywhere
in the run is refused (what it points to is not what was trained).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath

from kampai.plugin import RunError
from kampai.plugin.io import symlinks_in
from kampai.plugin.runs import MANIFEST, verify_manifest


def signed_files(run_dir: Path, label: str) -> dict[str, str]:
    """``{relative path: sha256}`` of a run whose manifest verifies with this machine's key;
    RunError for a run that does not, or that holds a symbolic link."""
    links = symlinks_in(run_dir)
    if links:
        raise RunError(f"{label} holds a symbolic link ('{links[0].as_posix()}'): a run folder holds "
                       "files only. Refusing to build from it.")
    verify_manifest(run_dir, label=label)
    return dict(json.loads((run_dir / MANIFEST).read_text())["files"])


def copy_signed_run(run_dir: Path, dest: Path, files: dict[str, str], label: str) -> None:
    """Copy ``run_dir``'s manifest and exactly the ``files`` it lists into ``dest``, each
    file's bytes read once and checked against ``files`` before they are written; then the
    copy is verified as a whole (the copied manifest must be the one signed with this key)."""
    dest.mkdir(parents=True)
    for rel, digest in files.items():
        path = PurePosixPath(rel)
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise RunError(f"{label}: its manifest lists '{rel}', which is not a path inside the run.")
        source = run_dir.joinpath(*path.parts)
        if source.is_symlink():
            raise RunError(f"{label}: '{rel}' is a symbolic link. Refusing to build from it.")
        data = source.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise RunError(f"{label}: '{rel}' changed since it was verified. Refusing to build from it.")
        target = dest.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (dest / MANIFEST).write_bytes((run_dir / MANIFEST).read_bytes())
    verify_manifest(dest, label=label)
    copied = json.loads((dest / MANIFEST).read_text())["files"]
    if copied != files:
        raise RunError(f"{label}: its manifest changed while it was copied. Refusing to build from it.")


def check_resigned(copy: Path, files: dict[str, str]) -> None:
    """The image's re-signed manifest lists exactly the files verified with this key (the
    build context was not changed between the copy and the signature)."""
    resigned = json.loads((copy / MANIFEST).read_text())["files"]
    if resigned != files:
        extra = sorted(set(resigned) ^ set(files)) or sorted(k for k in files if resigned[k] != files[k])
        raise RunError(f"The run copied into the build context changed before it was signed ({extra[0]}). "
                       "Nothing was built; run the command again.")
