"""How runs, studies, comparisons and learning curves render in Jupyter (``_repr_html_``).

Plain HTML with inline styles and base64 PNGs: no JavaScript, nothing fetched, the same in
JupyterLab, VS Code and a saved notebook.  Every text is escaped.  Imported only when a
notebook asks an object for its HTML.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

STYLE = ("<style>.kampai{font-family:system-ui,sans-serif;font-size:13px}.kampai h4{margin:.3em 0}"
         ".kampai table{border-collapse:collapse;margin:.2em 0 .6em}.kampai td,.kampai th{padding:2px 8px;"
         "border-bottom:1px solid #e5e5e5;text-align:left}.kampai .num{text-align:right;font-variant-numeric:"
         "tabular-nums}.kampai .muted{color:#777}.kampai img{max-width:420px;margin:2px}</style>")

#: per-row keys of metrics.json that are not metrics of their own
SUFFIX_STD = "_std"
PREFIX_BASELINE = "baseline_"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return esc(value)
    if isinstance(value, float):
        return "undefined" if math.isnan(value) else f"{value:.4f}"
    return esc(value)


def table(columns: list[str], rows: list[list[Any]], numeric: tuple[int, ...] = ()) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(
        f"<td class='num'>{number(v)}</td>" if i in numeric else f"<td>{esc(v) if v is not None else ''}</td>"
        for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def image(data: bytes, title: str) -> str:
    return (f"<img alt='{esc(title)}' title='{esc(title)}' "
            f"src='data:image/png;base64,{base64.b64encode(data).decode()}'>")


def metrics_rows(metrics: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """``metric | value | ± sd | baseline``: the baseline column when metrics.json has
    ``baseline_<metric>`` keys (a dummy model's score on the same split), the spread when
    it has ``<metric>_std`` (cross-validation)."""
    names = [k for k in metrics if not k.endswith(SUFFIX_STD) and not k.startswith(PREFIX_BASELINE)
             and isinstance(metrics[k], (int, float))]
    has_std = any(f"{k}{SUFFIX_STD}" in metrics for k in names)
    has_base = any(f"{PREFIX_BASELINE}{k}" in metrics for k in names)
    columns = ["metric", "value"] + (["± sd"] if has_std else []) + (["baseline"] if has_base else [])
    rows = []
    for k in names:
        row: list[Any] = [k, metrics[k]]
        if has_std:
            row.append(metrics.get(f"{k}{SUFFIX_STD}", ""))
        if has_base:
            row.append(metrics.get(f"{PREFIX_BASELINE}{k}", ""))
        rows.append(row)
    return columns, rows


def run_plots(run: Any) -> list[tuple[str, bytes]]:
    """The insight plugin's plots of the run (confusion matrix, ROC, residuals ...) when it is
    installed and not blocked, else the PNG files of the run folder; never an error."""
    from kampai.core.host import blocked_names

    folder = Path(run.run_dir)
    if "insight" not in blocked_names():
        try:
            from kampai.plugins.insight.plots import task_plots

            return list(task_plots(folder, run.meta.get("task", ""), run.metrics))
        except Exception:  # matplotlib missing, no predictions: the PNG files there are
            pass
    return [(p.stem, p.read_bytes()) for p in sorted(folder.glob("*.png"))[:6]]


def run_html(run: Any, plots: bool = True) -> str:
    """A run (trained, loaded or listed): its metrics with their baseline, key params, the
    protocol, data, timings, plots and where it is saved."""
    from kampai.core.console import human_size
    from kampai.core.runs import protocol_label

    meta, config = run.meta or {}, run.config or {}
    model = config.get("model") or {}
    data = meta.get("data") or {}
    columns, rows = metrics_rows(run.metrics or {})
    params = model.get("params") or {}
    facts = [["task", meta.get("task")], ["framework", meta.get("framework")],
             ["estimator", meta.get("estimator") or model.get("estimator")],
             ["protocol", protocol_label(meta)],
             ["data", f"{data.get('source')} ({data.get('rows')} rows, fingerprint "
                      f"{str(data.get('fingerprint') or '')[:12]})"],
             ["fit time", f"{meta.get('fit_seconds', 0) or 0:.3f} s"],
             ["model size", human_size(meta.get("model_size_bytes") or 0)],
             ["created", meta.get("created")], ["saved in", str(Path(run.run_dir).resolve())]]
    parts = [STYLE, "<div class='kampai'>", f"<h4>kampai run <code>{esc(run.run_id)}</code></h4>",
             "<div style='display:flex;gap:2em;flex-wrap:wrap'>",
             "<div><b>Metrics</b>" + table(columns, rows, numeric=tuple(range(1, len(columns)))) + "</div>",
             "<div><b>Key params</b>" + (table(["param", "value"], [[k, v] for k, v in params.items()])
                                        if params else "<p class='muted'>estimator defaults</p>") + "</div>",
             "<div><b>Run</b>" + table(["", ""], facts) + "</div></div>"]
    if plots:
        drawn = run_plots(run)
        if drawn:
            parts.append("<div>" + "".join(image(data, title) for title, data in drawn) + "</div>")
    parts.append("</div>")
    return "".join(parts)


def study_html(study: Any) -> str:
    """A study (``kampai.study``) or a tuning result (``kampai.tune``): best value and params,
    the top trials and its plots."""
    name = getattr(study, "name", None) or getattr(study, "study_name", "")
    metric = getattr(study, "metric", None) or "value"
    best_params = getattr(study, "best_params", {}) or {}
    trials = getattr(study, "trials", None)
    direction = getattr(study, "direction", "maximize")
    parts = [STYLE, "<div class='kampai'>", f"<h4>kampai study <code>{esc(name)}</code></h4>",
             f"<p>best {esc(metric)} <b>{number(getattr(study, 'best_value', None))}</b> "
             f"(trial #{esc(getattr(study, 'best_number', None))}, {esc(direction)}), "
             f"{0 if trials is None else len(trials)} trials; storage <code>{esc(getattr(study, 'storage', ''))}"
             "</code></p>"]
    if best_params:
        parts.append("<b>Best params</b>" + table(["param", "value"], [[k, v] for k, v in best_params.items()]))
    if trials is not None and len(trials) and "value" in trials:
        top = trials[trials["state"] == "COMPLETE"] if "state" in trials else trials
        top = top.sort_values("value", ascending=direction != "maximize").head(5)
        shown = [c for c in top.columns if c in ("number", "value", "seconds") or c.startswith("param:")]
        parts.append("<b>Top trials</b>" + table(shown, top[shown].values.tolist(),
                                                 numeric=tuple(i for i, c in enumerate(shown) if c == "value")))
    run = getattr(study, "run", None)
    if run is not None:
        parts.append(f"<p>refit run: <code>{esc(run.run_dir)}</code></p>")
    pngs = list(getattr(study, "plots", None) or [])
    if pngs:
        parts.append("<div>" + "".join(image(Path(p).read_bytes(), Path(p).stem) for p in pngs
                                       if Path(p).is_file()) + "</div>")
    parts.append(f"<p class='muted'>saved in {esc(Path(getattr(study, 'output_dir', '.')).resolve())}</p></div>")
    return "".join(parts)


def figure_png(fig: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def comparison_html(result: Any) -> str:
    """``kampai.compare``: the ranked table and its two plots."""
    arrow = "higher is better" if result.greater_is_better else "lower is better"
    shown = [c for c in ("run_id", "estimator", result.metric, "protocol", "fit_seconds", "model_size_bytes")
             if c in result.table.columns]
    parts = [STYLE, "<div class='kampai'>", f"<h4>Runs by {esc(result.metric)} ({arrow})</h4>",
             table(["#", *shown], [[i + 1, *row] for i, row in enumerate(result.table[shown].values.tolist())],
                   numeric=(2, 4))]
    if result.data:
        parts.append(f"<p class='muted'>data {esc(result.data.get('source'))} (fingerprint "
                     f"{esc(str(result.data.get('fingerprint'))[:12])}); {result.left_out} run(s) on other data "
                     "left out</p>")
    if len(result.protocols) > 1:
        parts.append(f"<p><b>Warning</b>: different evaluation protocols ({esc('; '.join(result.protocols))}).</p>")
    if result.figures:
        parts.append("<div>" + "".join(image(figure_png(f), "comparison") for f in result.figures) + "</div>")
    parts.append("</div>")
    return "".join(parts)


def learning_curve_html(curve: Any) -> str:
    """``kampai.learning_curve``: its table and plot."""
    frame = curve.table
    parts = [STYLE, "<div class='kampai'>",
             f"<h4>Learning curve ({esc(curve.metric)}, {esc(curve.split)}, {curve.folds} fold(s))</h4>",
             table(list(map(str, frame.columns)), frame.values.tolist(), numeric=tuple(range(1, len(frame.columns))))]
    for file in curve.files:
        if str(file).endswith(".png") and Path(file).is_file():
            parts.append(image(Path(file).read_bytes(), "learning curve"))
    parts.append("</div>")
    return "".join(parts)
