"""``runner --help`` from the user cache: the text the last ``runner --help`` printed, while
nothing it was made from has changed.

Rendering the help costs typer, click and every plugin (their commands are listed): most of
the command's start-up.  The text is kept in ``help-<key>.txt`` in the user cache
(:func:`kampai.core.diskcache.cache_dir`) with what it was made from:

* the interpreter, every ``sys.path`` folder and its modification time (installing,
  upgrading or removing a distribution, a plugin included, changes its folder's time), the
  terminal width, and the environment variables that choose plugins;
* every module file that was loaded when it was rendered (kampai's commands, the plugins'
  command modules, typer, click ...), with its modification time and size: an edit in an
  editable install renders it again.

It is text printed as it is, never code: nothing in it is imported or run (a text with
control characters is neither written nor printed).  It is not written while a plugin is
broken (its error shows as usual); ``KAMPAI_NO_PLUGIN_CACHE=1`` (or tracing the plugins'
hooks, ``KAMPAI_TRACE_PLUGINS``) always renders.  This module imports only ``os``, ``sys``
and :mod:`kampai.core.envflags` (the file is NUL-separated text, not JSON: the json module
imports re and enum): a hit costs the interpreter's start and a few hundred ``stat`` calls,
no typer.
"""

from __future__ import annotations

import os
import sys

#: environment variables that change which plugins (and so which commands) are loaded
PLUGIN_ENV = ("KAMPAI_DISABLE_PLUGIN_AUTOLOAD", "KAMPAI_PLUGINS", "KAMPAI_BLOCK_PLUGINS")
#: the command lines answered from the cache
CACHED = (["--help"],)
_HEADER = "kampai-help-1"
_SEP = "\0"  # in no path, environment value, argument or help text


def _cache_dir() -> str:
    """:func:`kampai.core.diskcache.cache_dir` without its imports (pathlib, shutil, the
    host): tests/test_startup.py checks that both agree."""
    return os.environ.get("KAMPAI_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kampai")


def _columns() -> int:
    """The terminal width click formats the help for (``shutil.get_terminal_size``'s rule,
    without importing shutil)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


def _stamp(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_mtime_ns}:{st.st_size}"


def _material(argv: list[str]) -> str:
    parts = [sys.version, sys.executable, " ".join(argv), str(_columns())]
    parts += [f"{var}={os.environ.get(var, '')}" for var in PLUGIN_ENV]
    parts += [f"{entry}:{_stamp(entry or '.')}" for entry in sys.path]
    return "\n".join(parts)


def _file(material: str) -> str:
    digest = 0x811C9DC5  # FNV-1a, 32 bits: a file name (the whole material is compared)
    for byte in material.encode():
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return os.path.join(_cache_dir(), f"help-{digest:08x}.txt")


def _printable(text: str) -> bool:
    return not any(c < " " and c not in "\n\t" for c in text)


def enabled(argv: list[str]) -> bool:
    from kampai.core.envflags import env_flag  # imports only os

    # tracing the plugins' hooks (KAMPAI_TRACE_PLUGINS) wants them called
    return argv in CACHED and not env_flag("KAMPAI_NO_PLUGIN_CACHE") and not os.environ.get("KAMPAI_TRACE_PLUGINS")


def cached(argv: list[str]) -> str | None:
    """The help text for ``argv`` when the cache holds it and nothing it came from changed."""
    if not enabled(argv):
        return None
    material = _material(argv)
    try:
        with open(_file(material), encoding="utf-8") as f:
            header, kept, text, *files = f.read().split(_SEP)
    except (OSError, ValueError):
        return None
    if header != _HEADER or kept != material or len(files) % 2 or not _printable(text):
        return None
    for path, stamp in zip(files[::2], files[1::2], strict=True):
        if _stamp(path) != stamp:
            return None
    return text


def store(argv: list[str], text: str) -> None:
    """Remember ``text`` as the help for ``argv`` (call right after rendering it, with the
    modules that rendered it still loaded)."""
    if not enabled(argv) or not _printable(text):
        return
    material = _material(argv)
    files = sorted({f for m in list(sys.modules.values())
                    if isinstance(f := getattr(m, "__file__", None), str) and _SEP not in f})
    data = _SEP.join([_HEADER, material, text, *(part for f in files for part in (f, _stamp(f)))])
    file = _file(material)
    try:
        from kampai.core.diskcache import make_cache_dir

        make_cache_dir(os.path.dirname(file), "user")
        tmp = f"{file}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(data)
        os.replace(tmp, file)
    except OSError:
        pass  # a read-only cache only costs speed
