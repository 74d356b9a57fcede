"""``runner inspect``: what each preprocessing step of a run's model outputs."""

from __future__ import annotations

from typing import Any


def inspect_run(run: Any, data: Any = None, step: str | None = None) -> list[dict[str, Any]]:
    """What each preprocessing step of ``run`` (a run, its folder or ``NAME@stage``) outputs
    on its data (or ``data``): the run's own ``inspect`` (one dict per step)."""
    if not hasattr(run, "inspect"):  # a folder, NAME@stage, or a bare run record
        from kampai.plugin.runs import load_run

        run = load_run(getattr(run, "run_dir", run))
    return run.inspect(data, step)


def summary_rows(steps: list[dict[str, Any]]) -> list[list[Any]]:
    """One table row per step: name, kind, shape, inputs, first output columns, missing."""
    rows = []
    for s in steps:
        cols = s.get("columns") or []
        shown = f"{len(cols)}: " + ", ".join(cols[:4]) + (" …" if len(cols) > 4 else "")
        inputs = s.get("inputs")
        rows.append([s["name"], s["kind"], "×".join(map(str, s["shape"])),
                     ", ".join(inputs) if inputs else "", shown, s.get("missing_total", 0)])
    return rows
