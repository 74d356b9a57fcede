"""``runner inspect``: what each preprocessing step of a run's model outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kampai.plugin import DataError, KampaiError, RunError, did_you_mean, registry_of


def run_data(run: Any, data: Any = None, training: bool = False) -> Any:
    """The run's own data (its ``data.path``), or ``data`` (a DataFrame, a file or a bundled
    dataset), prepared by the run's task with exactly the training columns."""
    from kampai.plugin import read_frame

    source = data if data is not None else run.config["data"].get("path")
    if source is None:
        raise DataError(f"Run '{run.run_dir}' was trained on a DataFrame: pass --data FILE to inspect it.")
    frame = read_frame(source) if isinstance(source, (str, Path)) else source
    data_cfg = dict(run.config["data"])
    if (run.meta.get("data") or {}).get("features"):
        data_cfg["features"] = run.meta["data"]["features"]
    data_cfg["drop"] = [c for c in data_cfg.get("drop") or [] if c in frame.columns]
    for role in ("group", "time"):
        if data_cfg.get(role) and data_cfg[role] not in frame.columns:
            data_cfg[role] = None
    task = registry_of("tasks").get(run.config["task"])
    return task.prepare(frame, data_cfg, training=training)


def inspect_run(run: Any, data: Any = None, step: str | None = None) -> list[dict[str, Any]]:
    """What each preprocessing step of ``run``'s model outputs on its data (or ``data``):
    one dict per step (``name``, ``kind``, ``shape``, ``columns``, ``dtypes``, ``missing``,
    ``head``; ``inputs`` for a column router's branch).  ``step`` keeps the steps whose name
    (a path such as ``preprocess/num/scaler``) is or ends with it."""
    if isinstance(run, (str, Path)):
        from kampai.plugin import open_run

        run = open_run(run)
    framework = registry_of("frameworks").get(run.config["framework"])
    if "inspect" not in framework.capabilities:
        raise KampaiError(f"Framework '{framework.name}' cannot show its preprocessing steps (it has no "
                          "'inspect' capability; runner frameworks list shows the capabilities).")
    prepared = run_data(run, data)
    try:
        steps = framework.inspect(run.model, prepared)
    except RunError:
        raise
    except (ValueError, KeyError) as exc:
        raise DataError(f"The run's preprocessing cannot transform this data: {exc}") from None
    if not steps:
        raise KampaiError(f"The model of run '{run.run_id}' has no preprocessing pipeline to inspect "
                          f"(estimator {run.meta.get('estimator')} alone, e.g. model.preprocess: false).")
    if step is None:
        return steps
    picked = [s for s in steps if s["name"] == step or s["name"].endswith("/" + step)]
    if not picked:
        names = [s["name"] for s in steps] + sorted({s["name"].rsplit("/", 1)[-1] for s in steps})
        raise KampaiError(f"No step '{step}' in run '{run.run_id}'.{did_you_mean(step, names)} "
                          f"Steps: {', '.join(s['name'] for s in steps)}.")
    return picked


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
