"""Rewrite a plugin's imports from the 1.x plugin SDK to 2.0 (docs/plugins.md, "Since 2.0").

    python scripts/sdk_migrate.py src/my_plugin tests        # files or folders, rewritten in place
    python scripts/sdk_migrate.py --check src/my_plugin      # list what would change, exit 1 if any

``from kampai.plugin import read_frame, open_run`` becomes ``from kampai.plugin.io import
read_frame`` and ``from kampai.plugin.runs import load_run``, and the code's uses of a renamed
name follow (``open_run(...)`` -> ``load_run(...)``; names, never text in strings).  Names 2.0
no longer offers at all (``merge``, ``env_flag`` ...) are listed with what to use instead and
left as they are (they resolve, with a DeprecationWarning, until 3.0).  Sort the imports
afterwards (``ruff check --select I --fix``).  The moves are read from ``kampai.plugin`` itself.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMESPACES = ("io", "runs", "cli", "experiments")


def moves() -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """``old -> (module, new)`` for the names 2.0 offers elsewhere, and ``old -> advice`` for the
    names it no longer offers."""
    sys.path.insert(0, str(ROOT / "src"))
    import kampai.plugin as sdk

    moved, gone = {}, {}
    for old, entry in sdk._MOVED.items():
        target = entry.instead.removeprefix("use ")
        match = re.fullmatch(r"kampai\.plugin\.(\w+)\.(\w+)", target)
        if match and match.group(1) in NAMESPACES:
            moved[old] = (f"kampai.plugin.{match.group(1)}", match.group(2))
        elif entry.target == "kampai.core.runs:RunRecord":
            moved[old] = ("kampai.plugin", "RunRecord")
        else:
            gone[old] = entry.instead
    return moved, gone


def _sort_key(name: str) -> tuple[int, str]:
    bare = name.split(" as ")[0]
    return (0 if bare.isupper() else 1 if bare[0].isupper() else 2, bare.lower())


def _render(indent: str, module: str, names: list[str], width: int = 110) -> list[str]:
    line = f"{indent}from {module} import {', '.join(names)}"
    if len(line) <= width:
        return [line]
    return [f"{indent}from {module} import (", *[f"{indent}    {n}," for n in names], f"{indent})"]


def migrate(text: str, moved: dict[str, tuple[str, str]], gone: dict[str, str]) -> tuple[str, list[str]]:
    """``text`` with its SDK imports rewritten, and notes on what is left to do by hand."""
    tree = ast.parse(text)
    lines = text.split("\n")
    edits: list[tuple[int, int, int, int, str]] = []  # (line, col, end line, end col, new text)
    renamed: dict[str, str] = {}
    notes = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and node.module == "kampai.plugin" and node.level == 0):
            continue
        if not any(a.name in moved for a in node.names):
            notes += [f"line {node.lineno}: {a.name}: {gone[a.name]}" for a in node.names if a.name in gone]
            continue
        groups: dict[str, list[str]] = {}
        for alias in node.names:
            module, new = moved.get(alias.name, ("kampai.plugin", alias.name))
            if alias.name in gone:
                notes.append(f"line {node.lineno}: {alias.name}: {gone[alias.name]}")
            if alias.asname is None and new != alias.name:
                renamed[alias.name] = new
            groups.setdefault(module, []).append(new if alias.asname is None else f"{new} as {alias.asname}")
        indent = " " * node.col_offset
        new_lines = []
        for module in sorted(groups, key=lambda m: (m != "kampai.plugin", m)):
            new_lines += _render(indent, module, sorted(set(groups[module]), key=_sort_key))
        edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset,
                      "\n".join(new_lines)[node.col_offset:]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in renamed:
            edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, renamed[node.id]))
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)

    def at(line: int, col: int) -> int:  # ast columns count UTF-8 bytes
        return offsets[line - 1] + len(lines[line - 1].encode()[:col].decode(errors="ignore"))

    out = text
    for line, col, end_line, end_col, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out = out[:at(line, col)] + new + out[at(end_line, end_col):]
    return out, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when something would change")
    args = parser.parse_args(argv)
    moved, gone = moves()
    files = [f for p in args.paths for f in (sorted(p.rglob("*.py")) if p.is_dir() else [p])]
    changed = 0
    for file in files:
        text = file.read_text()
        new, notes = migrate(text, moved, gone)
        for note in notes:
            print(f"{file}: {note}")
        if new != text:
            changed += 1
            print(f"{file}: {'would be ' if args.check else ''}rewritten")
            if not args.check:
                file.write_text(new)
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
