"""What ``runner dvc init`` writes: ``params.yaml`` from an experiment config and the kampai
stages of ``dvc.yaml``, beside the user's own stages.

``params.yaml`` *is* the experiment config the stages train with (``runner train -c
params.yaml``), organised by section (``data``, ``split``, ``model``, ``metrics``,
``tune`` ...): ``dvc exp run -S model.params.max_depth=3`` edits it, kampai reads it back
through the same validation as any config (an unknown key gets a did-you-mean and the
stage fails with exit 2).  Every kampai stage carries ``desc: "kampai ..."``: that is how a
later ``runner dvc init`` tells its own stages (which it rewrites) from the user's (which
it keeps).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from kampai.plugin import ConfigError, KampaiError

MARK = "kampai"
#: the config sections that go into params.yaml (output stays the command line's business)
SECTIONS = ("name", "task", "framework", "seed", "data", "split", "model", "metrics")
IGNORED = ("runs/", ".kampai/", "reports/")


def place_run(run_dir: Path, fixed: str | None, metrics_file: str | None, overwrite: bool = False) -> None:
    """Copy a finished run folder to ``fixed`` (replacing, atomically by rename, only an
    empty folder or a kampai run with ``overwrite``: anything else is a KampaiError, the
    folder untouched) and its metrics to ``metrics_file``."""
    from kampai.plugin.io import write_text
    from kampai.plugin.runs import check_replaceable_run

    run_dir = Path(run_dir)
    if fixed:
        target = Path(fixed)
        check_replaceable_run(target, overwrite)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(run_dir, tmp)
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    if metrics_file:
        write_text(metrics_file, (run_dir / "metrics.json").read_text(), "metrics file")


def git_root(cwd: Path) -> Path:
    try:
        done = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        done = None
    if done is None or done.returncode != 0:
        raise KampaiError(f"'{cwd}' is not inside a git repository: DVC pipelines live in one. Run "
                          "'git init' first (then runner dvc init again).")
    return Path(done.stdout.strip())


def dvc_command() -> list[str]:
    from importlib.util import find_spec

    if find_spec("dvc") is None:
        raise KampaiError("DVC is not installed: pip install 'kampai[insight]' (or pip install dvc).")
    return [sys.executable, "-m", "dvc"]


def _yaml_load(path: Path) -> dict[str, Any]:
    import yaml

    from kampai.plugin.io import load_yaml

    if not path.exists():
        return {}
    try:
        data = load_yaml(path.read_text()) or {}  # bounded aliases and depth
    except yaml.YAMLError as exc:
        raise ConfigError(f"'{path}' is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"'{path}' must hold a mapping at the top level.")
    return data


def _yaml_dump(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def params_from_config(cfg: dict[str, Any], tune: bool) -> dict[str, Any]:
    """The sections of a loaded config that params.yaml holds."""
    import copy

    out = {key: copy.deepcopy(cfg.get(key)) for key in SECTIONS}
    out["model"] = {k: v for k, v in out["model"].items() if v not in (None, {}) or k == "params"}
    if tune:
        out["tune"] = {k: v for k, v in cfg["tune"].items() if k not in ("storage", "output_dir", "study")}
    return out


def stages_for(name: str, params: dict[str, Any], data_path: str | None, *, tune: bool,
               eval_data: str | None, sizes: str | None, metric: str) -> dict[str, Any]:
    """The kampai stages of dvc.yaml for one experiment."""
    base = f"dvc/{name}"
    tracked = [k for k in ("name", "task", "framework", "seed", "data", "split", "model", "metrics")
               if k in params]
    deps = [data_path] if data_path else []
    stages: dict[str, Any] = {}
    storage = f"sqlite:///{base}/tune/optuna.db"  # inside the study folder: one output, fresh each run
    q = shlex.quote  # every path and value of a command: a space or a ';' stays part of it
    if tune:
        stages["tune"] = {
            "desc": f"{MARK}: tune {name} with Optuna (fresh study each run)",
            "cmd": f"runner tune -c params.yaml {q(f'tune.output_dir={base}')} tune.study=tune "
                   f"{q(f'tune.storage={storage}')}",
            "deps": deps or None, "params": [{"params.yaml": [*tracked, "tune"]}],
            "outs": [f"{base}/tune"],
        }
    # the report is written before the run folder is copied to its fixed path, so DVC tracks it too
    train_cmd = (f"runner train -c params.yaml --run-dir {q(f'{base}/train')} --overwrite --metrics-file "
                 f"{q(f'{base}/metrics.json')} -q report.after_train=inline")
    if tune:  # the study's best params on top of params.yaml
        train_cmd = train_cmd.replace("-c params.yaml", f"-c params.yaml --from-study tune --storage {q(storage)}")
    stages["train"] = {
        "desc": f"{MARK}: train {name}" + (" with the study's best params" if tune else "")
                + " (run folder at a fixed path)",
        "cmd": train_cmd, "deps": ([f"{base}/tune"] if tune else []) + deps or None,
        "params": [{"params.yaml": list(tracked)}],
        "outs": [f"{base}/train"],
        "metrics": [{f"{base}/metrics.json": {"cache": False}}],
    }
    if eval_data:
        stages["evaluate"] = {
            "desc": f"{MARK}: score the trained {name} on {eval_data}",
            "cmd": f"runner evaluate {q(f'{base}/train')} --data {q(eval_data)} --json > "
                   f"{q(f'{base}/evaluation.json')}",
            "deps": [f"{base}/train", *([eval_data] if Path(eval_data).exists() else [])],
            "metrics": [{f"{base}/evaluation.json": {"cache": False}}],
        }
    if sizes:
        out = f"{base}/learning_curve"
        stages["learning_curve"] = {
            "desc": f"{MARK}: score vs training rows for {name}",
            "cmd": f"runner learning-curve -c params.yaml --rows {q(check_sizes(sizes))} --out-dir {q(out)} -q",
            "deps": deps or None, "params": [{"params.yaml": list(tracked)}],
            "outs": [{f"{out}/learning_curve_folds.csv": {"cache": False}},
                     {f"{out}/learning_curve.json": {"cache": False}}],
            "plots": [{f"{out}/learning_curve.csv": {"x": "rows", "y": metric, "cache": False}},
                      {f"{out}/learning_curve.png": {"cache": False}}],
        }
    for stage in stages.values():
        if stage.get("deps") is None:
            stage.pop("deps", None)
    return stages


#: one size of a learning curve: a row count (200), a fraction (0.5) or a percentage (50%)
_SIZE = re.compile(r"(?:\d+|\d*\.\d+|\d+(?:\.\d+)?%)")


def check_sizes(text: str) -> str:
    """``--rows`` as ``runner learning-curve`` takes it, checked now (not at ``dvc repro``):
    comma-separated row counts of 2 or more, fractions in (0, 1] and percentages in (0, 100]."""
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    if not items:
        raise ConfigError("--rows needs at least one size, e.g. 25%,50%,100% or 50,100,200 ('' for no "
                          "learning_curve stage).")
    for item in items:
        bad = not _SIZE.fullmatch(item)
        if not bad:
            value = float(item.rstrip("%"))
            bad = (not 0 < value <= 100 if item.endswith("%") else not 0 < value <= 1 if "." in item
                   else value < 2)
        if bad:
            raise ConfigError(f"--rows: '{item}' is not a size: give row counts (200, at least 2), fractions "
                              "(0.5, at most 1) or percentages (50%, at most 100%), comma-separated.")
    return ",".join(items)


#: a task's standard plot (``Task.plots``) -> the dvc plot of predictions.csv drawing it
#: (``title`` gets the experiment's name); the others have no dvc template
DVC_PLOTS = {
    "confusion": {"template": "confusion", "x": "prediction", "y": "target", "title": "confusion matrix"},
    "predicted_vs_actual": {"template": "scatter", "x": "target", "y": "prediction",
                            "title": "predicted vs actual"},
}


def run_plots(name: str, task: Any) -> list[Any]:
    """Top-level ``plots`` of dvc.yaml drawn from the trained run folder (``dvc plots show``):
    the task's standard plots that dvc can draw (``task.plots``: a confusion matrix,
    predicted vs actual) and the pictures the task draws into its runs (``task.plot_files``:
    forecasting's forecast)."""
    run = f"dvc/{name}/train"
    out: list[Any] = [{f"{run}/predictions.csv": {**DVC_PLOTS[p], "title": f"{name}: {DVC_PLOTS[p]['title']} "
                                                                          "(test rows)"}}
                      for p in task.plots if p in DVC_PLOTS]
    return out + [f"{run}/{file}" for file in task.plot_files]


def _plot_path(entry: Any) -> str:
    return str(next(iter(entry))) if isinstance(entry, dict) else str(entry)


def merge_plots(existing: list[Any] | None, name: str, ours: list[Any]) -> list[Any]:
    """The user's top-level plots kept, kampai's (files under dvc/NAME/) replaced by ``ours``."""
    mine = f"dvc/{name}/"
    kept = [p for p in existing or [] if not _plot_path(p).startswith(mine)]
    return kept + ours


def merge_stages(existing: dict[str, Any], ours: dict[str, Any], force: bool, path: Path) -> dict[str, Any]:
    """dvc.yaml with our stages put in (the user's stages and other sections kept)."""
    stages = dict(existing.get("stages") or {})
    for name in ours:
        stage = stages.get(name)
        if stage is None or str((stage or {}).get("desc", "")).startswith(MARK) or force:
            continue
        raise KampaiError(f"'{path}' already has a stage '{name}' that kampai did not write: rename it "
                          f"(e.g. {name}_own), or move it into kampai's (runner dvc init --dry-run prints "
                          "them), or pass --force to replace it.")
    stages.update(ours)
    out = dict(existing)
    out["stages"] = stages
    return out


def merge_params(path: Path, ours: dict[str, Any], force: bool) -> dict[str, Any]:
    existing = _yaml_load(path)
    if existing and not force:
        other = existing.get("name")
        if other is not None and other != ours.get("name") and any(k in existing for k in ("task", "model")):
            raise KampaiError(f"'{path}' holds the params of experiment '{other}', not '{ours.get('name')}': "
                              "one params.yaml drives one kampai pipeline. Pass --force to replace them, or "
                              "init the other experiment in its own folder.")
    out = {k: v for k, v in existing.items() if k not in ours}  # the user's own params stay
    out.update(ours)
    return out


def init(config: str | Path, *, cwd: str | Path = ".", tune: bool = False, eval_data: str | None = None,
         sizes: str | None = "25%,50%,100%", force: bool = False, dry_run: bool = False,
         overrides: list[str] | None = None) -> dict[str, Any]:
    """Write (or update) params.yaml and dvc.yaml in ``cwd`` for the experiment ``config``."""
    from kampai.plugin.experiments import load_config, resolve_config

    sizes = check_sizes(sizes) if sizes else None
    cwd = Path(cwd).resolve()
    git_root(cwd)
    cfg = load_config(config, {}, list(overrides or []))
    _, task, _ = resolve_config(cfg)  # the checks train would do, now
    name = str(cfg.get("name") or Path(config).stem)
    cfg["name"] = name
    params = params_from_config(cfg, tune)
    data_path = cfg["data"].get("path")
    local = data_path if data_path and (cwd / str(data_path)).is_file() else None
    metric = (cfg.get("metrics") or list(task.default_metrics) or ["score"])[0]
    ours = stages_for(name, params, local, tune=tune, eval_data=eval_data, sizes=sizes, metric=metric)
    dvc_yaml, params_yaml = cwd / "dvc.yaml", cwd / "params.yaml"
    pipeline = merge_stages(_yaml_load(dvc_yaml), ours, force, dvc_yaml)
    plots = merge_plots(pipeline.get("plots"), name, run_plots(name, task))
    if plots:
        pipeline["plots"] = plots
    else:
        pipeline.pop("plots", None)
    all_params = merge_params(params_yaml, params, force)
    result = {"name": name, "stages": list(ours), "dvc_yaml": str(dvc_yaml), "params_yaml": str(params_yaml),
              "dvc_initialised": False}
    if dry_run:
        result["dvc"] = _yaml_dump(pipeline)
        result["params"] = _yaml_dump(all_params)
        return result
    if not (cwd / ".dvc").is_dir():
        done = subprocess.run([*dvc_command(), "init", "-q", *(["--subdir"] if git_root(cwd) != cwd else [])],
                              cwd=cwd, capture_output=True, text=True)
        if done.returncode != 0:
            raise KampaiError(f"dvc init failed: {(done.stderr or done.stdout).strip()}")
        result["dvc_initialised"] = True
    header = (f"# kampai experiment '{name}' (from {config}); read by runner train -c params.yaml.\n"
              "# Change values here or with dvc exp run -S model.params.KEY=VALUE; runner dvc init rewrites it.\n")
    params_yaml.write_text(header + _yaml_dump(all_params))
    dvc_yaml.write_text("# Stages whose desc starts with 'kampai' are written by runner dvc init; "
                        "your own stages are kept.\n" + _yaml_dump(pipeline))
    gitignore = cwd / ".gitignore"
    lines = gitignore.read_text().splitlines() if gitignore.exists() else []
    missing = [p for p in IGNORED if p not in lines]
    if missing:
        gitignore.write_text("\n".join([*lines, *missing]) + "\n")
    return result
