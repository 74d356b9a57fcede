"""``runner learning-curve``: the score as a function of the training rows.

Every size is scored on the same split (the config's, e.g. 5 stratified folds): within each
fold the training side is cut to ``n`` rows (a nested, class-balanced prefix of one shuffled
order, so 50 % holds the 25 % rows) and the model is fitted on those and scored on the
fold's whole test side.  The spread over folds is the band of the plot.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kampai.plugin import ConfigError, DataError, KampaiError, TaskData


def parse_sizes(text: str) -> list[str]:
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    if not items:
        raise ConfigError("--rows/--sizes needs at least one size, e.g. 10%,25%,50%,100% or 50,100,200.")
    return items


def absolute_sizes(items: list[str], available: int) -> list[int]:
    """``["10%", "50", "0.5"]`` -> row counts out of ``available`` training rows."""
    out = []
    for item in items:
        try:
            if item.endswith("%"):
                n = round(float(item[:-1]) / 100 * available)
            elif "." in item:
                n = round(float(item) * available)
            else:
                n = int(item)
        except ValueError:
            raise ConfigError(f"Size '{item}' is not a row count (200), a fraction (0.5) or a percentage "
                              "(50%).") from None
        if n < 2:
            raise ConfigError(f"Size '{item}' gives {n} training rows: at least 2 are needed.")
        out.append(min(n, available))
    return sorted(set(out))


def nested_order(y: Any, seed: int, stratify: bool) -> Any:
    """A permutation of positions whose every prefix keeps the class shares (when stratify)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = len(y)
    if not stratify:
        return rng.permutation(n)
    labels = np.asarray(y).astype(str)
    rank = np.empty(n)
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        where = rng.permutation(where)
        rank[where] = (np.arange(len(where)) + rng.random(len(where))) / len(where)
    return np.argsort(rank, kind="stable")


def curve_for(config: str | Path | None = None, rows: str = "10%,25%,50%,100%", *, task: str | None = None,
              framework: str | None = None, data: str | None = None, model: str | None = None,
              out_dir: str | Path | None = None, verbose: bool = False,
              overrides: list[str] | None = None) -> dict[str, Any]:
    """What ``runner learning-curve`` (and ``kampai.learning_curve``) computes: the config from
    ``config``, the flags and ``overrides``; the files in ``out_dir`` (default
    ``reports/learning-curve/<name>``)."""
    from kampai.plugin.experiments import load_config

    flags = {"task": task, "framework": framework, "data.path": data, "model.estimator": model}
    cfg = load_config(config, flags, list(overrides or []))
    name = cfg.get("name") or (Path(config).stem if config else "experiment")
    out = out_dir or Path("reports") / "learning-curve" / name
    return learning_curve(cfg=cfg, sizes=rows, out_dir=out, verbose=verbose)


def learning_curve(config: str | Path | None = None, sizes: str = "10%,25%,50%,100%", *,
                   overrides: list[str] | None = None, cfg: dict[str, Any] | None = None,
                   out_dir: str | Path | None = None, verbose: bool = False) -> dict[str, Any]:
    """Score vs training rows for an experiment config; ``out_dir`` gets
    ``learning_curve.csv``, ``learning_curve.json`` and ``learning_curve.png``."""
    import numpy as np
    import pandas as pd

    from kampai.plugin import BuildContext
    from kampai.plugin.experiments import (
        compute_metrics,
        load_config,
        registry_of,
        resolve_config,
        resolve_metrics,
    )
    from kampai.plugin.io import read_frame

    if cfg is None:
        cfg = load_config(config, {}, list(overrides or []))
    cfg, task, framework = resolve_config(cfg)
    if task.input_kind not in ("table", "texts"):  # rows of a table, or of texts
        raise KampaiError(f"learning-curve cuts rows of a table: task '{task.name}' is not supported.")
    if not cfg["data"].get("path"):
        raise DataError("No data given: set data.path in the config or pass --data FILE.")
    data = task.prepare(read_frame(cfg["data"]["path"]), cfg["data"], training=True)
    splitter = registry_of("splitters").get(cfg["split"]["method"])
    folds = splitter.fn(data, cfg["split"])
    if any(isinstance(part, TaskData) for pair in folds for part in pair):
        raise KampaiError(f"learning-curve needs a split of rows; '{splitter.name}' gives its own views.")
    metrics = resolve_metrics(task, cfg.get("metrics"))
    primary = metrics[0].name
    stratify = task.target_kind == "labels"
    available = min(len(train) for train, _ in folds)
    counts = absolute_sizes(parse_sizes(sizes), available)
    if stratify:
        smallest = counts[0]
        shares = pd.Series(np.asarray(data.y)[folds[0][0]]).value_counts(normalize=True)
        low_class, low_share = str(shares.index[-1]), float(shares.iloc[-1])
        need = max(2, len(folds))
        if round(low_share * smallest) < need:
            raise DataError(f"Size {smallest} rows leaves class '{low_class}' with about "
                            f"{round(low_share * smallest)} training row(s), fewer than {need} "
                            f"({len(folds)} fold(s), at least 2 per class): use a larger smallest size.")
    ctx = BuildContext(seed=int(cfg["seed"]), device=str(cfg.get("device") or "auto"),
                       resolve=registry_of("estimators").resolve, config=cfg)
    rows = []
    for fold, (train_idx, test_idx) in enumerate(folds):
        train_all, test = data.take(np.asarray(train_idx)), data.take(np.asarray(test_idx))
        order = nested_order(train_all.y, int(cfg["seed"]) + fold, stratify and train_all.y is not None)
        for n in counts:
            part = train_all.take(order[:n])
            model = framework.build(task, cfg["model"], part, ctx)
            start = time.perf_counter()
            model = framework.fit(model, part, task)
            seconds = time.perf_counter() - start
            scores = compute_metrics(metrics, test.y, framework.predict(model, test, task), test.X)
            train_scores = compute_metrics(metrics, part.y, framework.predict(model, part, task), part.X)
            rows.append({"rows": n, "fold": fold, "fit_seconds": round(seconds, 4), **scores,
                         **{f"train_{k}": v for k, v in train_scores.items()}})
            if verbose:
                print(f"  fold {fold + 1}/{len(folds)}  {n:>6} rows  {primary}={scores.get(primary, float('nan')):.4f}")
    table = pd.DataFrame(rows)
    summary = table.drop(columns="fold").groupby("rows").agg(["mean", "std"]).fillna(0.0)
    summary.columns = [f"{a}_{b}" if b == "std" else a for a, b in summary.columns]
    summary = summary.reset_index()
    result = {"metric": primary, "greater_is_better": bool(metrics[0].greater_is_better),
              "estimator": cfg["model"]["estimator"], "framework": framework.name, "split": splitter.name,
              "folds": len(folds), "sizes": counts, "table": table, "summary": summary, "files": []}
    if out_dir is not None:
        result["files"] = write(result, Path(out_dir), cfg)
    return result


def write(result: dict[str, Any], out_dir: Path, cfg: dict[str, Any]) -> list[str]:
    import json

    from kampai.plugin.io import atomic_write, check_output, write_text
    from kampai.plugins.insight.plots import png, pyplot

    check_output(out_dir / "learning_curve.csv", "learning curve")  # never inside a run folder
    # each file whole or not at all (a temporary file renamed into place)
    atomic_write(out_dir / "learning_curve.csv", lambda tmp: result["summary"].to_csv(tmp, index=False))
    atomic_write(out_dir / "learning_curve_folds.csv", lambda tmp: result["table"].to_csv(tmp, index=False))
    metric = result["metric"]
    summary = result["summary"]
    payload = {k: v for k, v in result.items() if k not in ("table", "summary", "files")}
    payload["points"] = json.loads(summary.to_json(orient="records"))
    write_text(out_dir / "learning_curve.json", json.dumps(payload, indent=2) + "\n")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.6))
    x = summary["rows"].to_numpy()
    folds = int(result["folds"])
    table = result["table"]
    test_label = "held-out fold" if folds > 1 else "test split"
    for prefix, label, color in (("", test_label, "tab:blue"), ("train_", "training rows", "tab:orange")):
        column = prefix + metric
        if column not in summary:
            continue
        mean, std = summary[column].to_numpy(), summary[f"{column}_std"].to_numpy()
        spread = f" (mean ± 1 sd over {folds} folds)" if folds > 1 else ""
        ax.plot(x, mean, marker="o", color=color, label=label + spread)
        if folds > 1:
            low, high = mean - std, mean + std
            values = table[column]
            if values.between(0, 1).all():  # a score in [0, 1]: the band stays inside it
                low, high = low.clip(0, 1), high.clip(0, 1)
            ax.fill_between(x, low, high, color=color, alpha=0.18)
    ax.set_xlabel("training rows")
    ax.set_ylabel(metric + (" (higher is better)" if result["greater_is_better"] else " (lower is better)"))
    name = str(result["estimator"]).replace(":", ".").rsplit(".", 1)[-1]
    ax.set_title(f"Learning curve: {name} on {cfg['data']['path']}\n"
                 f"(same {result['split']} split for every size)", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="best")
    picture = png(fig)
    atomic_write(out_dir / "learning_curve.png", lambda tmp: tmp.write_bytes(picture))
    return [str(out_dir / n) for n in ("learning_curve.csv", "learning_curve_folds.csv",
                                        "learning_curve.json", "learning_curve.png")]
