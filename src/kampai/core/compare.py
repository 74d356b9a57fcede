"""Across runs: a comparison table, score vs training time / model size plots, CSV export.

Reads only run folders (``runs/<run_id>/``), so it works with or without a tracker.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core.errors import KampaiError, did_you_mean
from kampai.core.runs import Run, list_runs, protocol_label

if TYPE_CHECKING:
    import pandas as pd

META_COLUMNS = ("run_id", "created", "task", "framework", "estimator", "split", "folds",
                "fit_seconds", "total_seconds", "model_size_bytes")


def greater_is_better(metric: str) -> bool:
    from kampai.core.host import get_host

    base = metric.removesuffix("_std")
    if base in get_host().metrics():
        return bool(get_host().metrics().get(base).greater_is_better)
    return not any(word in base for word in ("loss", "error", "mae", "mse", "rmse", "mape"))


def runs_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run: its meta columns, data facts and every metric."""
    import pandas as pd

    rows = []
    for run in runs:
        meta = run.meta
        row: dict[str, Any] = {key: meta.get(key) for key in META_COLUMNS}
        row["run_id"] = run.run_id
        data = meta.get("data") or {}
        git = meta.get("git") or {}
        row["protocol"] = protocol_label(meta)
        row.update({"data_source": data.get("source"), "data_fingerprint": data.get("fingerprint"),
                    "data_rows": data.get("rows"), "git_commit": git.get("commit"),
                    "git_dirty": git.get("dirty"), "run_dir": str(run.run_dir)})
        row.update(run.metrics)
        rows.append(row)
    return pd.DataFrame(rows)


def export(runs_dir: str | Path, fmt: str = "csv", output: str | Path | None = None) -> str | None:
    """All runs' metrics as CSV (or JSON); written to ``output`` or returned as text."""
    if fmt not in ("csv", "json"):
        raise KampaiError(f"Unknown export format '{fmt}'.{did_you_mean(fmt, ['csv', 'json'])} Use csv or json.")
    runs = list_runs(runs_dir)
    if not runs:
        raise KampaiError(f"No runs under '{runs_dir}' to export.")
    table = runs_table(runs)
    text = table.to_csv(index=False) if fmt == "csv" else table.to_json(orient="records", indent=2)
    if output is None:
        return text
    from kampai.core.outputs import check_output, write_text

    write_text(check_output(output, "export"), text, "export")
    return None


def pick_metric(runs: list[Run], metric: str | None) -> str:
    """``metric``, checked; default: the primary (first) metric of the newest run."""
    known = sorted({k for r in runs for k in r.metrics})
    if metric is None:
        return next(iter(runs[0].metrics))
    if metric not in known:
        raise KampaiError(f"No run has the metric '{metric}'.{did_you_mean(metric, known)} "
                          f"Metrics in these runs: {', '.join(known)}.")
    return metric


def _fingerprint(run: Run) -> str | None:
    return (run.meta.get("data") or {}).get("fingerprint")


def compare(runs_dir: str | Path, metric: str | None = None, task: str | None = None,
            out_dir: str | Path | None = "reports", top: int | None = None, *,
            data: str | None = None, all_data: bool = False) -> dict[str, Any]:
    """The runs ranked by ``metric`` and, when ``out_dir``, two PNG plots written there.

    Scores on different data do not rank together: only the runs on the newest run's data
    (its fingerprint; ``data`` picks another by a prefix of its fingerprint) are compared,
    and ``left_out`` counts the others; ``all_data`` ranks every run (``mixed_data`` then
    says whether data differ).  ``protocols`` lists the evaluation protocols in the table
    (a k-fold mean beside a holdout score is flagged, not hidden)."""
    runs = [r for r in list_runs(runs_dir) if task is None or r.meta.get("task") == task]
    if not runs:
        raise KampaiError(f"No runs under '{runs_dir}'" + (f" for task '{task}'." if task else "."))
    fingerprints = [f for f in dict.fromkeys(_fingerprint(r) for r in runs) if f]
    chosen = None
    if data is not None:
        matching = [f for f in fingerprints if f.startswith(data)]
        if len(matching) != 1:
            raise KampaiError(f"--data {data!r} matches {len(matching)} data fingerprints of these runs; "
                              f"known: {', '.join(f[:12] for f in fingerprints)}.")
        chosen = matching[0]
    elif not all_data and runs:
        chosen = _fingerprint(runs[0])  # the newest run's data
    left_out = 0
    if chosen is not None:
        kept = [r for r in runs if _fingerprint(r) == chosen]
        left_out, runs = len(runs) - len(kept), kept
    metric = pick_metric(runs, metric)
    runs = [r for r in runs if isinstance(r.metrics.get(metric), (int, float))]
    table = runs_table(runs)
    higher = greater_is_better(metric)
    table = table.sort_values(metric, ascending=not higher, kind="stable").reset_index(drop=True)
    if top:
        table = table.head(top)
    plots: list[str] = []
    if out_dir is not None:
        plots = write_plots(table, metric, Path(out_dir))
    source = next((str((r.meta.get("data") or {}).get("source")) for r in runs), None)
    return {"metric": metric, "greater_is_better": higher, "table": table, "plots": plots,
            "data": {"fingerprint": chosen, "source": source} if chosen else None, "left_out": left_out,
            "mixed_data": len({_fingerprint(r) for r in runs}) > 1,
            "protocols": sorted(set(table["protocol"])) if len(table) else []}


def pareto_front(xs: list[float], ys: list[float], higher: bool = True) -> list[int]:
    """Indices of the runs no other run beats on both axes (lower ``x``: cost such as time or
    size; better ``y``), sorted by ``x``."""
    order = sorted(range(len(xs)), key=lambda i: (xs[i], -ys[i] if higher else ys[i]))
    front: list[int] = []
    best = None
    for i in order:
        if best is None or (ys[i] > best if higher else ys[i] < best):
            front.append(i)
            best = ys[i]
    return front


def write_plots(table: pd.DataFrame, metric: str, out_dir: Path) -> list[str]:
    """The two plots of :func:`figures`, written as PNG files into ``out_dir``."""
    import matplotlib.pyplot as plt

    from kampai.core.outputs import atomic_write, check_output

    drawn = figures(table, metric)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in drawn:
        path = check_output(out_dir / name, "plot")  # never inside a run folder; whole or not at all
        atomic_write(path, lambda tmp, fig=fig: fig.savefig(tmp, dpi=100, format="png"), "plot")
        plt.close(fig)
        written.append(str(path))
    return written


def figures(table: pd.DataFrame, metric: str) -> list[tuple[str, Any]]:
    """Score vs training time and vs model size, as ``(file name, matplotlib Figure)``: one
    colour per estimator, one marker per framework, the Pareto front drawn and labelled
    (every point labelled up to 12 runs, by :func:`place_labels`: no two labels overlap).
    The figures are closed in pyplot (nothing shows by itself); ``kampai.compare`` returns them."""
    import sys

    try:
        import matplotlib
    except ImportError:
        raise KampaiError("The plots of 'runs compare' need matplotlib (pip install matplotlib, or "
                          "'kampai[mlflow]'); --no-plots prints the table only.") from None
    if "ipykernel" not in sys.modules:  # a notebook keeps its inline backend
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    higher = greater_is_better(metric)
    drawn = []
    markers = "osD^vP*Xh<>"
    for column, label, name in (("fit_seconds", "training time (s)", "score_vs_training_time.png"),
                                ("model_size_bytes", "model size (KiB)", "score_vs_model_size.png")):
        frame = table.dropna(subset=[column, metric]).reset_index(drop=True)
        x = (frame[column].astype(float) / (1024 if column == "model_size_bytes" else 1)).tolist()
        y = frame[metric].astype(float).tolist()
        estimators = [str(e).replace(":", ".").rsplit(".", 1)[-1] for e in frame["estimator"]]
        frameworks = [str(f) for f in frame["framework"]]
        colours = {e: plt.cm.tab10(i % 10) for i, e in enumerate(sorted(set(estimators)))}
        shapes = {f: markers[i % len(markers)] for i, f in enumerate(sorted(set(frameworks)))}
        fig, ax = plt.subplots(figsize=(9, 5.5))
        for fw in sorted(set(frameworks)):
            for est in sorted(set(estimators)):
                idx = [i for i in range(len(x)) if frameworks[i] == fw and estimators[i] == est]
                if idx:
                    ax.scatter([x[i] for i in idx], [y[i] for i in idx], s=42, alpha=0.75,
                               color=colours[est], marker=shapes[fw], label=f"{fw}: {est} ({len(idx)})")
        front = pareto_front(x, y, higher)
        if front:
            ax.step([x[i] for i in front], [y[i] for i in front], where="post", color="black", lw=1.2,
                    ls="--", alpha=0.7, label=f"Pareto front ({len(front)} runs)")
            ax.scatter([x[i] for i in front], [y[i] for i in front], s=90, facecolors="none",
                       edgecolors="black", lw=1)
        positive = [v for v in x if v > 0]
        if positive and max(positive) / min(positive) > 50:
            ax.set_xscale("log")
        ax.set_xlabel(label + (" (log scale)" if ax.get_xscale() == "log" else ""))
        ax.set_ylabel(f"{metric} ({'higher' if higher else 'lower'} is better)")
        ax.set_title(f"{metric} vs {label}: {len(frame)} runs, best trade-offs on the dashed front")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        fig.tight_layout()  # before the labels: their places are measured on the final axes
        labelled = list(range(len(x))) if len(x) <= 12 else front
        place_labels(fig, ax, [(x[i], y[i], estimators[i]) for i in sorted(labelled, key=lambda i: (x[i], y[i]))])
        plt.close(fig)  # out of pyplot (nothing shows by itself), which leaves it a bare canvas:
        FigureCanvasAgg(fig)  # give it back one that draws (savefig, get_renderer, a notebook's display)
        drawn.append((name, fig))
    return drawn


#: the vertical step between two places of a label, in points (one line of 7-point text)
LABEL_STEP = 10


def place_labels(fig: Any, ax: Any, points: list[tuple[float, float, str]]) -> None:
    """Label each point beside it (right of it, or left where the right runs out of the axes);
    a label that would meet one already placed, or the legend, moves up or down by a line at a
    time (with a thin leader line to its point once it is off the point), so runs of close
    scores (or the same size) get label texts that do not overlap.  The boxes are measured by
    matplotlib's own renderer, so they hold for the saved image."""
    fig.canvas.draw()  # the limits autoscaled and the layout done: the boxes are the saved ones
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    legend = ax.get_legend()
    taken: list[Any] = [legend.get_window_extent(renderer)] if legend is not None else []
    for x, y, text in points:
        note = ax.annotate(text, (x, y), fontsize=7, xytext=(5, 3), textcoords="offset points")
        place = fallback = None
        for level in _levels(2 * len(points) + 2):  # enough free places for every label
            for dx, align in ((5, "left"), (-5, "right")):
                note.xyann = (dx, 3 + level * LABEL_STEP)
                note.set_horizontalalignment(align)
                box = _text_box(note, renderer)
                if any(_meet(box, other) for other in taken):
                    continue
                fallback = fallback or (dx, align, level)
                if frame.x0 <= box.x0 and box.x1 <= frame.x1:
                    place = (dx, align, level)
                    break
            if place:
                break
        dx, align, level = place or fallback or (5, "left", 0)
        note.remove()
        leader = {"arrowprops": {"arrowstyle": "-", "lw": 0.5, "color": "grey", "shrinkA": 0, "shrinkB": 2}}
        # away from its point: a leader line says whose label it is
        note = ax.annotate(text, (x, y), fontsize=7, xytext=(dx, 3 + level * LABEL_STEP), ha=align,
                           textcoords="offset points", **(leader if abs(level) > 1 else {}))
        taken.append(_text_box(note, renderer))


def _text_box(note: Any, renderer: Any) -> Any:
    """The display box of an annotation's text at its current offset (not its leader line:
    ``Annotation.get_window_extent`` adds that)."""
    from matplotlib.text import Text

    note.update_positions(renderer)  # the text's place follows xyann only once updated
    return Text.get_window_extent(note, renderer)


def _levels(n: int) -> list[int]:
    """0, -1, 1, -2, 2, ...: the places nearest the point first."""
    return [0] + [sign * k for k in range(1, n + 1) for sign in (-1, 1)]


def _meet(a: Any, b: Any) -> bool:
    """Two display boxes share area (touching edges do not count)."""
    return min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0)
