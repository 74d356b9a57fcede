"""``runner cache info|clear``: what kampai keeps on disk to go faster, and how to drop it.

Two caches, both safe to delete at any time (everything in them is recomputed):

* the tuning fold cache (``tune.cache_dir``, default :data:`kampai.core.schema.TUNE_CACHE_DIR`
  under the current folder): fitted preprocessing per fold, signed entries, capped by
  ``tune.cache_max_mb`` (least recently used first);
* the user cache (``$KAMPAI_CACHE_DIR``, else ``~/.cache/kampai``): estimator indexes,
  empty MLflow and Optuna stores to copy, downloaded models.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kampai.core.cli import options as o
from kampai.core.schema import TUNE_CACHE_DIR

if TYPE_CHECKING:
    from kampai.core.typed import Config

cache_app = typer.Typer(help="See or clear kampai's caches (tuning folds, indexes, templates).",
                        no_args_is_help=True)

TuneDir = typer.Option(None, "--tune-dir", help="The tuning fold cache (default: tune.cache_dir, else "
                       f"{TUNE_CACHE_DIR}).")


def _folders(tune_dir: str | None, cfg: Config | None = None) -> dict[str, Path]:
    from kampai.core.diskcache import cache_dir

    configured = cfg.tune.cache_dir if cfg is not None else None
    return {"tune": Path(tune_dir or configured or TUNE_CACHE_DIR), "user": cache_dir()}


def _config(config: Path | None, overrides: list[str] | None) -> Config:
    from kampai.core.hosted import load_config

    return load_config(config, {}, list(overrides or []))


@cache_app.command("info")
def info(config: Path = o.Config, tune_dir: str = TuneDir, json_out: bool = o.Json,
         overrides: list[str] = o.Overrides) -> None:
    """Where each cache is, how many files and how much space it holds; the tune cache's cap
    is the config's tune.cache_max_mb (-c CONFIG and overrides, else the default)."""
    from kampai.core.console import dumps, human_size, print_table
    from kampai.core.diskcache import usage
    from kampai.core.tuning.fold_cache import entries

    cfg = _config(config, overrides)
    rows = []
    for name, folder in _folders(tune_dir, cfg).items():
        files, size = usage(folder)
        row = {"cache": name, "path": str(folder.resolve()), "exists": folder.is_dir(), "files": files,
               "bytes": size}
        if name == "tune":
            row.update(entries=len(entries(folder)), cap_bytes=int(cfg.tune.cache_max_mb * 1024 * 1024))
        rows.append(row)
    if json_out:
        typer.echo(dumps(rows))
        return
    print_table("Caches", ["cache", "path", "files", "size", "cap"],
                [[r["cache"], r["path"], r["files"], human_size(r["bytes"]),
                  human_size(r["cap_bytes"]) + " (tune.cache_max_mb)" if "cap_bytes" in r else ""] for r in rows])


@cache_app.command("clear")
def clear(which: str = typer.Argument("tune", help="tune (the fold cache), user (~/.cache/kampai) or all."),
          tune_dir: str = TuneDir) -> None:
    """Delete kampai's entries of a cache (recomputed when needed). Only a folder kampai
    created (its .kampai-cache marker), or one holding nothing but kampai's entries, is
    cleared; anything else is refused and left untouched."""
    from kampai.core import diskcache
    from kampai.core.console import human_size
    from kampai.core.errors import unknown

    folders = _folders(tune_dir)
    if which not in (*folders, "all"):
        raise unknown("cache", which, [*folders, "all"])
    chosen = {name: folder for name, folder in folders.items() if which in (name, "all")}
    for name, folder in chosen.items():  # every folder checked before anything is deleted
        if folder.is_dir() or folder.is_symlink():
            diskcache.refuse_foreign(folder, name)
    for name, folder in chosen.items():
        files, size, kept = diskcache.clear(folder, name)
        note = f"; kept {kept} entr{'ies' if kept != 1 else 'y'} kampai did not write" if kept else ""
        typer.echo(f"Cleared the {name} cache {folder}: {files} files, {human_size(size)}{note}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
