"""The forecast plot saved in every forecasting run: history, test actuals, forecasts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MAX_PANELS = 6
MIN_HISTORY = 120  # history points shown before the first forecast, at least


MAX_BANDS = 4  # a backtest draws quantile bands only when its windows are this few


def _backtest_windows(ax: Any, windows: list, qs: dict[float, str]) -> None:
    """Overlapping backtest forecasts: one colour per cut-off (early -> late along a colour
    map), a dot where each starts, thin lines; bands only when there are few windows."""
    import matplotlib

    cmap = matplotlib.colormaps["plasma"]
    n = len(windows)
    lw, alpha = (1.3, 0.95) if n <= 8 else (0.9, 0.75) if n <= 30 else (0.6, 0.5)
    for i, (_, fc) in enumerate(windows):
        color = cmap(0.85 * i / max(1, n - 1))
        ax.plot(fc["time"], fc["forecast"], color=color, lw=lw, alpha=alpha, zorder=4,
                label=f"{n} forecasts, one colour per cut-off (early → late)" if i == 0 else None)
        ax.scatter(fc["time"].iloc[:1], fc["forecast"].iloc[:1], color=color, s=10, zorder=5)
        if len(qs) >= 2 and n <= MAX_BANDS:
            ax.fill_between(fc["time"], fc[qs[min(qs)]], fc[qs[max(qs)]], color=color, alpha=0.12, lw=0,
                            label=f"{min(qs):g}-{max(qs):g} quantiles" if i == 0 else None)


def plot_forecasts(path: Path, series: Any, table: pd.DataFrame, title: str = "") -> Path:
    """One panel per (series, target), at most ``MAX_PANELS``; quantile bands when present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kampai.plugin import SERIES
    from kampai.tasks.forecasting.metrics import quantile_columns

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
        windows = list(rows.groupby("cutoff")) if "cutoff" in rows.columns else [(None, rows)]
        # zoom on the end: the forecasts stay readable (a backtest's span is already long)
        shown = shown.iloc[-(max(24, n_ahead) if len(windows) > 1 else max(MIN_HISTORY, 6 * n_ahead)):]
        ax.plot(shown.index, shown.to_numpy(), color="0.6" if len(windows) > 1 else "0.3", lw=1, label="history")
        if len(rows) and "actual" in rows.columns:
            actual = history[history.index >= first]
            ax.plot(actual.index, actual.to_numpy(), color="black" if len(windows) > 1 else "tab:green",
                    lw=1.6 if len(windows) > 1 else 1.2, label="test (actual)", zorder=3)
        if len(windows) > 1:
            _backtest_windows(ax, windows, qs)
        else:
            fc = windows[0][1]
            ax.plot(fc["time"], fc["forecast"], color="tab:orange", lw=1.2, alpha=0.9, label="forecast")
            if len(qs) >= 2:
                ax.fill_between(fc["time"], fc[qs[min(qs)]], fc[qs[max(qs)]], color="tab:orange",
                                alpha=0.2, lw=0, label=f"{min(qs):g}-{max(qs):g} quantiles")
        name = target if len(series.ids) == 1 else f"{key} / {target}"
        ax.set_title(f"{title} {name}".strip(), fontsize=10)
        ax.legend(loc="upper left", fontsize=8)
    height = 3.2 * len(panels)  # fixed margins (inches): tight_layout costs as much as the drawing
    fig.subplots_adjust(left=0.06, right=0.98, top=1 - 0.3 / height, bottom=0.4 / height, hspace=0.35)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
