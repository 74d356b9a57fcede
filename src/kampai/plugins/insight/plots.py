"""The pictures of a run (from its ``predictions.csv``), as PNG bytes.

Classification: a confusion matrix and one-vs-rest ROC curves; regression: predicted vs
actual and residuals; forecasting: the run's own ``forecast.png``; clustering: cluster
sizes.  Every figure has a title, axis labels with units and a legend where it has series.
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


def png(fig: Any) -> bytes:
    plt = pyplot()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def task_plots(run_dir: Path, task: str) -> list[tuple[str, bytes]]:
    """``[(title, png_bytes)]`` for the run's task; ``[]`` when the run has no predictions."""
    file = Path(run_dir) / "predictions.csv"
    own = sorted(Path(run_dir).glob("*.png"))
    out = [(p.stem.replace("_", " "), p.read_bytes()) for p in own]
    if not file.exists():
        return out
    import pandas as pd

    table = pd.read_csv(file)
    if "target" not in table.columns and task != "clustering":
        return out
    if task.endswith("classification"):
        out.append(("confusion matrix", confusion(table)))
        roc_png = roc(table)
        if roc_png is not None:
            out.append(("ROC curves", roc_png))
    elif task == "regression":
        out.append(("predicted vs actual", predicted_vs_actual(table)))
        out.append(("residuals", residuals(table)))
    elif task == "clustering" and "prediction" in table.columns:
        out.append(("cluster sizes", cluster_sizes(table)))
    return out


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
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
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
    ax.set_title(f"Confusion matrix on the test rows (n={matrix.sum()}, accuracy {accuracy:.3f})")
    return png(fig)


def roc(table: Any) -> bytes | None:
    """One-vs-rest ROC curves from the ``proba_<class>`` columns (None without them)."""
    from sklearn.metrics import auc, roc_curve

    columns = [c for c in table.columns if c.startswith("proba_")]
    if not columns:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    truth = table["target"].astype(str)
    for column in columns[:12]:
        label = column.removeprefix("proba_")
        positive = (truth == label).to_numpy()
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = roc_curve(positive, table[column].to_numpy(dtype=float))
        ax.plot(fpr, tpr, lw=1.8, label=f"{label} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curves, one class vs the rest (test rows)")
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
