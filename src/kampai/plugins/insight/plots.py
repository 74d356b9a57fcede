"""The pictures of a run (from its ``predictions.csv``), as PNG bytes.

One mechanism for every task, never its name: a task names the plots of its runs
(``Task.plots``, the standard ones of :data:`DRAW`: a confusion matrix and one-vs-rest ROC
curves, predicted vs actual and residuals, cluster sizes, ranking metrics at every k) and
draws its own pictures into them (``Task.plot_files``: forecasting's ``forecast.png``).
Tuning: a study's score vs each searched hyperparameter (:func:`params_scatter`).
Every figure has a title, axis labels with units and a legend where it has series.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from kampai.plugin import KampaiError


def pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise KampaiError("Plots need matplotlib: pip install 'kampai[insight]'.") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig: Any, tight: bool = True) -> bytes:
    plt = pyplot()
    buffer = io.BytesIO()
    if tight:
        fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def task_plots(run_dir: Path, task: str, metrics: dict[str, Any] | None = None) -> list[tuple[str, bytes]]:
    """``[(title, png_bytes)]`` of a run: the pictures its task drew into it
    (``Task.plot_files``, or any PNG there), then the standard plots the task names
    (``Task.plots``) drawn from ``predictions.csv``; ``[]`` when the run has neither."""
    own = sorted(Path(run_dir).glob("*.png"))
    out = [(p.stem.replace("_", " "), p.read_bytes()) for p in own]
    names = plots_of(task)
    file = Path(run_dir) / "predictions.csv"
    if not names or not file.exists():
        return out
    import pandas as pd

    table = pd.read_csv(file)
    for name in names:
        draw = DRAW.get(name)  # every name the contract knows (a test keeps them in step)
        if draw is not None:
            out += draw(table, metrics or {})
    return out


def plots_of(task: str) -> tuple[str, ...]:
    """The standard plots the installed task named ``task`` names (none when it is not installed)."""
    from kampai.plugin.experiments import registry_of

    try:
        return tuple(registry_of("tasks").get(task).plots)
    except KampaiError:
        return ()


def _confusion(table: Any, metrics: dict[str, Any]) -> list[tuple[str, bytes]]:
    return [("confusion matrix", confusion(table))] if "target" in table.columns else []


def _roc(table: Any, metrics: dict[str, Any]) -> list[tuple[str, bytes]]:
    roc_png = roc(table) if "target" in table.columns else None
    return [] if roc_png is None else [("ROC curves", roc_png)]


def _predicted_vs_actual(table: Any, metrics: dict[str, Any]) -> list[tuple[str, bytes]]:
    return [("predicted vs actual", predicted_vs_actual(table))] if "target" in table.columns else []


def _residuals(table: Any, metrics: dict[str, Any]) -> list[tuple[str, bytes]]:
    return [("residuals", residuals(table))] if "target" in table.columns else []


def _cluster_sizes(table: Any, metrics: dict[str, Any]) -> list[tuple[str, bytes]]:
    return [("cluster sizes", cluster_sizes(table))] if "prediction" in table.columns else []


def ranking_plots(table: Any, metrics: dict[str, Any]) -> list[tuple[str, bytes]]:
    """Ranked items: ranking metrics vs k (needs ``hit`` and ``relevant`` columns)."""
    if not {"user", "rank", "hit", "relevant"} <= set(table.columns) or table.empty:
        return []
    curves = ranking_curves(table)
    folds = int(table["fold"].nunique()) if "fold" in table.columns else 1
    users = int(table.groupby("fold")["user"].nunique().mean()) if folds > 1 else int(table["user"].nunique())
    return [("ranking metrics vs k", ranking_at_k(curves, metrics.get("baseline_ndcg_at_k"), folds, users))]


#: a standard plot's name (what ``Task.plots`` may hold) -> its drawing:
#: ``[(title, png)]`` of a predictions table, ``[]`` when the table lacks its columns
DRAW = {"confusion": _confusion, "roc": _roc, "predicted_vs_actual": _predicted_vs_actual,
        "residuals": _residuals, "cluster_sizes": _cluster_sizes, "ranking_at_k": ranking_plots}


def rows_of(table: Any) -> str:
    """Which rows a predictions table holds: the test split's, or every fold's held-out rows."""
    if "fold" in table.columns:
        return f"out-of-fold predictions ({table['fold'].nunique()} folds)"
    return "test rows"


def confusion(table: Any) -> bytes:
    import numpy as np

    plt = pyplot()
    labels = sorted(set(table["target"].astype(str)) | set(table["prediction"].astype(str)))
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(table["target"].astype(str), table["prediction"].astype(str), strict=True):
        matrix[index[t], index[p]] += 1
    size = min(10, 3 + 0.5 * len(labels))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, label="rows")
    long = max(map(len, labels)) > 3
    ax.set_xticks(range(len(labels)), labels, rotation=45 if long else 0, ha="right" if long else "center")
    ax.set_yticks(range(len(labels)), labels)
    if len(labels) <= 20:
        high = matrix.max() / 2
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                        color="white" if matrix[i, j] > high else "black", fontsize=10)
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix, {rows_of(table)}\n(n={matrix.sum()}, accuracy {accuracy:.3f})", fontsize=11)
    return png(fig)


def roc(table: Any) -> bytes | None:
    """One-vs-rest ROC curves from the ``proba_<class>`` columns (None without them)."""
    from sklearn.metrics import auc, roc_curve

    columns = [c for c in table.columns if c.startswith("proba_")]
    if not columns:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 5.6))
    truth = table["target"].astype(str)
    binary = len(columns) == 2  # one curve: the other class's is its mirror image
    for column in columns[-1:] if binary else columns[:12]:
        label = column.removeprefix("proba_")
        positive = (truth == label).to_numpy()
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = roc_curve(positive, table[column].to_numpy(dtype=float))
        ax.plot(fpr, tpr, lw=1.8, label=f"{label}{' = positive' if binary else ''} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    kind = "ROC curve" if binary else "ROC curves, one class vs the rest"
    ax.set_title(f"{kind}\n({rows_of(table)})", fontsize=11)
    ax.legend(loc="lower right", fontsize=9)
    ax.grid(alpha=0.3)
    ax.set_aspect("equal")
    return png(fig)


def predicted_vs_actual(table: Any) -> bytes:
    plt = pyplot()
    y, p = table["target"].astype(float), table["prediction"].astype(float)
    fig, ax = plt.subplots(figsize=(6, 5.5))
    ax.scatter(y, p, s=14, alpha=0.6, label="test rows")
    low, high = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
    ax.plot([low, high], [low, high], ls="--", color="grey", label="perfect prediction")
    ax.set_xlabel("actual target")
    ax.set_ylabel("predicted target")
    r2 = 1 - ((y - p) ** 2).sum() / max(1e-12, ((y - y.mean()) ** 2).sum())
    ax.set_title(f"Predicted vs actual (n={len(y)}, R² {r2:.3f})")
    ax.legend()
    ax.grid(alpha=0.3)
    return png(fig)


def residuals(table: Any) -> bytes:
    plt = pyplot()
    y, p = table["target"].astype(float), table["prediction"].astype(float)
    res = y - p
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    left.scatter(p, res, s=14, alpha=0.6)
    left.axhline(0, color="grey", ls="--")
    left.set_xlabel("predicted target")
    left.set_ylabel("residual (actual − predicted)")
    left.set_title("Residuals vs prediction")
    left.grid(alpha=0.3)
    right.hist(res, bins=30, color="tab:orange", alpha=0.8)
    right.axvline(0, color="grey", ls="--")
    right.set_xlabel("residual (actual − predicted)")
    right.set_ylabel("rows")
    right.set_title(f"Residuals (mean {res.mean():.3g}, sd {res.std():.3g})")
    return png(fig)


def cluster_sizes(table: Any) -> bytes:
    plt = pyplot()
    counts = table["prediction"].astype(str).value_counts().sort_index()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(counts.index, counts.to_numpy())
    ax.set_xlabel("cluster")
    ax.set_ylabel("rows")
    ax.set_title(f"Cluster sizes ({len(counts)} clusters, {int(counts.sum())} rows)")
    return png(fig)


# -- recommendation: ranking metrics vs k ---------------------------------------------------

RANKING = (("precision", "precision@k"), ("recall", "recall@k"), ("ndcg", "NDCG@k"), ("map", "MAP@k"))


def ranking_curves(table: Any) -> Any:
    """precision@k, recall@k, ndcg@k, map@k and hit_rate@k for k = 1..K from a recommendation
    run's ``predictions.csv`` (``user``, ``rank``, ``hit``, ``relevant``; ``fold`` under CV),
    computed exactly as the task's metrics at K: mean over test users, then over folds
    (``<metric>_std`` the spread over folds)."""
    import numpy as np
    import pandas as pd

    k_max = int(table["rank"].max())
    ks = np.arange(1, k_max + 1)
    discount = 1.0 / np.log2(ks + 1)
    ideal_cum = np.concatenate([[0.0], np.cumsum(discount)])
    folds = [part for _, part in table.groupby("fold")] if "fold" in table.columns else [table]
    per_fold = []
    for part in folds:
        users = part["user"].astype(str)
        codes, _ = pd.factorize(users)
        hits = np.zeros((codes.max() + 1, k_max))
        hits[codes, part["rank"].to_numpy(int) - 1] = part["hit"].astype(bool).to_numpy()
        relevant = np.zeros(len(hits))
        relevant[codes] = part["relevant"].to_numpy(float)
        cum = np.cumsum(hits, axis=1)
        capped = np.minimum(relevant[:, None], ks[None, :]).astype(int)
        dcg = np.cumsum(hits * discount, axis=1)
        ideal = ideal_cum[capped]
        precision_at = cum / ks
        per_fold.append({
            "precision": (cum / ks).mean(0),
            "recall": (cum / np.maximum(relevant, 1)[:, None]).mean(0),
            "ndcg": np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0).mean(0),
            "map": (np.cumsum(precision_at * hits, axis=1) / np.maximum(capped, 1)).mean(0),
            "hit_rate": (cum > 0).mean(0),
        })
    out = pd.DataFrame({"k": ks})
    for name in per_fold[0]:
        values = np.stack([f[name] for f in per_fold])
        out[name] = values.mean(0)
        out[f"{name}_std"] = values.std(0)  # over folds, as the core aggregates metrics (ddof 0)
    return out


def ranking_at_k(curves: Any, baseline: float | None = None, folds: int = 1, users: int | None = None) -> bytes:
    """2x2 panels: precision@k, recall@k, NDCG@k, MAP@k vs k (± 1 sd over folds under CV)."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    k = curves["k"].to_numpy()
    colors = ("tab:blue", "tab:orange", "tab:green", "tab:purple")
    for ax, (name, label), color in zip(axes.flat, RANKING, colors, strict=True):
        mean, std = curves[name].to_numpy(), curves[f"{name}_std"].to_numpy()
        label_of = "model" + (f" (mean of {folds} folds)" if folds > 1 else "")
        ax.plot(k, mean, marker="o", ms=4, color=color, label=label_of)
        if folds > 1:
            ax.fill_between(k, mean - std, mean + std, color=color, alpha=0.18, label="± 1 sd over folds")
        if name == "ndcg" and baseline is not None and baseline == baseline:
            ax.scatter([k[-1]], [baseline], marker="D", color="grey", zorder=3,
                       label=f"popularity baseline @{k[-1]}: {baseline:.3f}")
        ax.set_title(f"{label}  (@{k[-1]}: {mean[-1]:.3f})", fontsize=11)
        ax.set_ylabel(label)
        top = float(max((mean + std).max(), baseline if name == "ndcg" and baseline == baseline and baseline
                        else 0.0))
        ax.set_ylim(0, top * 1.12 if top > 0 else 1)
        ax.grid(alpha=0.3)
        if len(ax.get_legend_handles_labels()[0]) > 1:
            ax.legend(fontsize=8, loc="best")
    for ax in axes[1]:
        ax.set_xlabel("k (items recommended per user)")
    step = max(1, len(k) // 10)
    for ax in axes.flat:
        ax.set_xticks(k[::step])
    who = f"mean over {users} test users" if users else "mean over test users"
    fig.suptitle(f"Ranking metrics vs k on the held-out interactions ({who}"
                 + (f", {folds} folds" if folds > 1 else "") + ")", fontsize=12)
    return png(fig)


# -- tuning: score vs each searched hyperparameter ------------------------------------------


def trials_frame(study: Any) -> Any:
    """An Optuna study's trials as the columns of ``trials.csv`` (number, state, value, param:*)."""
    import pandas as pd

    rows = [{"number": t.number, "state": t.state.name, "value": t.value,
             **{f"param:{k}": v for k, v in t.params.items()}} for t in study.get_trials(deepcopy=False)]
    return pd.DataFrame(rows)


def params_scatter(trials: Any, metric: str, direction: str = "maximize", title: str = "",
                   log_params: set[str] | None = None) -> bytes | None:
    """One panel per searched param: each complete trial's score vs the param's value
    (colour: trial number, star: the best trial); ``None`` without complete trials."""
    import numpy as np
    import pandas as pd

    done = trials[trials["state"] == "COMPLETE"] if "state" in trials else trials
    done = done[pd.to_numeric(done["value"], errors="coerce").notna()]
    params = [c for c in done.columns if c.startswith("param:") and done[c].notna().any()]
    if done.empty or not params:
        return None
    plt = pyplot()
    cols = min(3, len(params))
    rows = -(-len(params) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.9 * cols + 1.2, 3.3 * rows + 0.9), squeeze=False,
                             sharey=True, layout="constrained")
    value = done["value"].astype(float).to_numpy()
    number = done["number"].to_numpy()
    best = int(np.argmax(value) if direction == "maximize" else np.argmin(value))
    rng = np.random.default_rng(0)
    points = None
    for ax, column in zip(axes.flat, params, strict=False):
        name = column.removeprefix("param:")
        raw = done[column]
        numeric = pd.to_numeric(raw, errors="coerce")
        is_bool = raw.dropna().map(lambda v: isinstance(v, (bool, np.bool_)) or str(v) in ("True", "False")).all()
        if numeric.notna().all() and not is_bool:
            x = numeric.to_numpy(float)
            positive = (x > 0).all()
            if (log_params and name in log_params) or (positive and x.max() / max(x.min(), 1e-300) >= 100):
                ax.set_xscale("log")
            ax.set_xlabel(name)
        else:  # categorical: a jittered strip per value
            labels = sorted({str(v) for v in raw})
            where = {v: i for i, v in enumerate(labels)}
            x = np.array([where[str(v)] for v in raw]) + rng.uniform(-0.15, 0.15, len(raw))
            ax.set_xticks(range(len(labels)), labels, rotation=30 if max(map(len, labels)) > 6 else 0)
            ax.set_xlim(-0.6, len(labels) - 0.4)
            ax.set_xlabel(f"{name} (categorical)")
        points = ax.scatter(x, value, c=number, cmap="viridis", s=22, alpha=0.85, edgecolors="none")
        ax.scatter([x[best]], [value[best]], marker="*", s=200, color="red", edgecolors="black",
                   linewidths=0.6, zorder=3, label=f"best (trial {number[best]})")
        ax.grid(alpha=0.3)
        ax.margins(y=0.1)
    for ax in axes[:, 0]:
        ax.set_ylabel(metric)
    for ax in list(axes.flat)[len(params):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8, loc="lower right" if direction == "maximize" else "upper right")
    arrow = "higher is better" if direction == "maximize" else "lower is better"
    fig.suptitle((title + ": " if title else "") + f"{metric} ({arrow}) vs each hyperparameter\n"
                 f"{len(done)} complete trials, colour = trial number", fontsize=12)
    fig.colorbar(points, ax=axes, label="trial number", shrink=0.8, aspect=30)
    return png(fig, tight=False)
