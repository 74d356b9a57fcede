"""The forecast plot saved in every forecasting run: history, test actuals, forecasts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MAX_PANELS = 6
MIN_HISTORY = 120  # history points shown before the first forecast, at least


def plot_forecasts(path: Path, series: Any, table: pd.DataFrame, title: str = "") -> Path:
    """One panel per (series, target), at most ``MAX_PANELS``; quantile bands when present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kampai.plugin import SERIES
    from kampai.tasks.forecasting import quantile_columns

    table = table.copy()
    id_col = series.series_id
    if id_col and id_col in table.columns:
        table = table.rename(columns={id_col: SERIES})
    elif SERIES not in table.columns:
        table[SERIES] = series.ids[0]
    if series.time in table.columns and series.time != "time":
        table = table.rename(columns={series.time: "time"})
    panels = [(k, t) for k in series.ids for t in series.targets][:MAX_PANELS]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.2 * len(panels)), squeeze=False)
    qs = quantile_columns(table)
    for ax, (key, target) in zip(axes[:, 0], panels, strict=False):
        history = series.target[key][target]
        rows = table[(table[SERIES] == key) & (table["target"] == target)]
        first = rows["time"].min() if len(rows) else None
        shown = history if first is None else history[history.index < first]
        n_ahead = rows["time"].nunique() if len(rows) else 0
        shown = shown.iloc[-max(MIN_HISTORY, 6 * n_ahead):]  # zoom on the end: the forecasts stay readable
        ax.plot(shown.index, shown.to_numpy(), color="0.3", lw=1, label="history")
        if len(rows) and "actual" in rows.columns:
            actual = history[history.index >= first]
            ax.plot(actual.index, actual.to_numpy(), color="tab:green", lw=1.2, label="test (actual)")
        groups = rows.groupby("cutoff") if "cutoff" in rows.columns else [(None, rows)]
        for i, (_, fc) in enumerate(groups):
            ax.plot(fc["time"], fc["forecast"], color="tab:orange", lw=1.2, alpha=0.9 if i == 0 else 0.5,
                    label="forecast" if i == 0 else None)
            if len(qs) >= 2:
                ax.fill_between(fc["time"], fc[qs[min(qs)]], fc[qs[max(qs)]], color="tab:orange",
                                alpha=0.2, lw=0, label=f"{min(qs):g}-{max(qs):g} quantiles" if i == 0 else None)
        name = target if len(series.ids) == 1 else f"{key} / {target}"
        ax.set_title(f"{title} {name}".strip(), fontsize=10)
        ax.legend(loc="upper left", fontsize=8)
    height = 3.2 * len(panels)  # fixed margins (inches): tight_layout costs as much as the drawing
    fig.subplots_adjust(left=0.06, right=0.98, top=1 - 0.3 / height, bottom=0.4 / height, hspace=0.35)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
