"""Slim a virtual environment for an image (runs inside the build, standard library only).

    python slim.py /opt/venv [--keep-bytecode] [--no-strip]

Removes what a running kampai never reads: test suites (``tests/`` folders), ``__pycache__``
(unless ``--keep-bytecode``), type stubs and Cython sources, the C headers of pyarrow and numpy, pip itself, docs and
man pages under ``share/``, pyarrow's Arrow Flight RPC libraries (kampai reads and writes Parquet,
it never opens a Flight server: about 30 MB) and its C++ test module; then replaces byte-identical
copies of large files (wheels ship ``libfoo.so``, ``libfoo.so.N`` and ``libfoo.so.N.M`` as three
copies) by hard links, which an image layer stores once.  Where binutils' ``strip`` exists, shared
libraries lose their symbol tables (``--strip-unneeded`` keeps what the dynamic loader needs;
pyarrow's libarrow drops from 55 to 43 MB), except CUDA-sized ones (torch, nvidia, triton:
slow to strip, and some carry sections strip must not touch) and those auditwheel patched.  Prints what it removed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

DIRS = {"tests", "__pycache__"}
# type stubs and Cython sources only: C/C++ headers stay where a JIT may read them (torch, triton)
SUFFIXES = (".pyi", ".pxd", ".pyx", ".pxi")
# (package, glob) pairs: never imported by kampai
PACKAGE_FILES = [
    ("pyarrow", "include"),
    ("pyarrow", "src"),
    ("pyarrow", "_flight.*.so"),
    ("pyarrow", "libarrow_flight.so*"),
    ("pyarrow", "libarrow_python_flight.so*"),
    ("pyarrow", "_pyarrow_cpp_tests.*.so"),
    ("numpy", "_core/include"),
    ("numpy", "f2py/src"),
]
DEDUPE_MIN = 64 * 1024
NO_STRIP = ("torch", "nvidia", "triton", "jaxlib", "tensorflow")


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def slim(venv: Path, keep_bytecode: bool = False, strip: bool = True) -> dict[str, int]:
    removed: dict[str, int] = {}

    def drop(path: Path, why: str) -> None:
        removed[why] = removed.get(why, 0) + _size(path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()

    dirs = set(DIRS) - ({"__pycache__"} if keep_bytecode else set())
    for site in venv.glob("lib/python3*/site-packages"):
        for name in ("pip",):
            for path in [site / name, *site.glob(f"{name}-*.dist-info")]:
                if path.exists():
                    drop(path, "pip")
        for package, pattern in PACKAGE_FILES:
            for path in (site / package).glob(pattern):
                drop(path, f"{package} extras")
        for root, subdirs, files in os.walk(site, topdown=True):
            for sub in list(subdirs):
                if sub in dirs:
                    drop(Path(root) / sub, sub)
                    subdirs.remove(sub)
            for name in files:
                if name.endswith(SUFFIXES):
                    drop(Path(root) / name, "stubs and sources")
    for path in [*venv.glob("bin/pip*"), venv / "share"]:
        if path.exists():
            drop(path, "pip" if path.name.startswith("pip") else "share")
    if strip:
        removed["symbols"] = _strip(venv)
    removed["hard-linked duplicates"] = _dedupe(venv)
    return removed


def _patched(path: Path) -> bool:
    """A library auditwheel vendored or re-pointed with patchelf (``*.libs/`` folders, an RPATH
    into one): stripping those breaks them (numpy: 'ELF load command address/offset not
    page-aligned'), so they are left alone."""
    if any(part.endswith(".libs") for part in path.parts):
        return True
    readelf = shutil.which("readelf")
    if readelf is None:
        return True
    out = subprocess.run([readelf, "-d", str(path)], capture_output=True, text=True).stdout
    return any(("RPATH" in line or "RUNPATH" in line) and ".libs" in line for line in out.splitlines())


def _strip(venv: Path) -> int:
    binary = shutil.which("strip")
    if binary is None:
        return 0
    saved = 0
    for site in venv.glob("lib/python3*/site-packages"):
        for path in site.rglob("*.so*"):
            top = path.relative_to(site).parts[0].split("-")[0].split(".")[0]
            if top in NO_STRIP or not path.is_file() or path.is_symlink() or _patched(path):
                continue
            with path.open("rb") as handle:
                if handle.read(4) != b"\x7fELF":
                    continue
            before = path.stat().st_size
            if subprocess.run([binary, "--strip-unneeded", str(path)], capture_output=True).returncode == 0:
                saved += before - path.stat().st_size
    return saved


def _dedupe(venv: Path) -> int:
    by_size: dict[int, list[Path]] = {}
    for path in venv.rglob("*"):
        if path.is_file() and not path.is_symlink():
            st = path.lstat()
            if st.st_size >= DEDUPE_MIN and st.st_nlink == 1:
                by_size.setdefault(st.st_size, []).append(path)
    saved = 0
    for size, paths in by_size.items():
        if len(paths) < 2:
            continue
        first: dict[str, Path] = {}
        for path in paths:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in first:
                mode = path.stat().st_mode
                path.unlink()
                os.link(first[digest], path)
                os.chmod(path, mode)
                saved += size
            else:
                first[digest] = path
    return saved


def main(argv: list[str]) -> int:
    venv = Path(argv[0])
    removed = slim(venv, keep_bytecode="--keep-bytecode" in argv[1:], strip="--no-strip" not in argv[1:])
    total = sum(removed.values())
    parts = ", ".join(f"{why} {size / 1e6:.0f} MB" for why, size in sorted(removed.items(), key=lambda kv: -kv[1]))
    print(f"slimmed {venv}: {total / 1e6:.0f} MB ({parts})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
