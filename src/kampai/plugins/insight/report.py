"""``report.html``: one self-contained page per run (no network: CSS inline, plots as data URIs).

Rendered on demand by ``runner report RUN`` (:func:`report_path`: when the page is missing
or older than the files it shows; ``--force`` rebuilds it), or after every run by the
``kampai_after_train`` observer when ``report.after_train`` is ``background`` or ``inline``.  ``runner report
studies/NAME`` writes the page of a tuning study (score vs each hyperparameter, history,
importances, top trials); a run refitted from a study (``runner tune --refit``, or
``runner report RUN --study studies/NAME``) gets the same as its Tuning section.  The page is not listed in
the run's ``manifest.json``: it is a view of the run, made after the manifest was sealed,
and nothing that loads the model reads it.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

REPORT = "report.html"

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1f3b5a;color:#fff;padding:18px 32px}header h1{margin:0 0 4px;font-size:22px}
header .sub{opacity:.85;font-size:14px}main{padding:8px 32px 40px;max-width:1200px}
section{background:#fff;border-radius:8px;padding:16px 20px;margin:16px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:17px;margin:0 0 12px;color:#1f3b5a}table{border-collapse:collapse;font-size:13px}
th,td{padding:4px 10px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
th{background:#f0f2f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots{display:flex;flex-wrap:wrap;gap:16px}.plots figure{margin:0;max-width:100%}.plots img{max-width:100%;height:auto;
border:1px solid #e3e6ea;border-radius:4px}.plots img.half{width:540px}
figcaption{font-size:12px;color:#555;text-align:center}
pre{background:#f0f2f5;padding:10px;border-radius:6px;font-size:12px;overflow:auto;max-height:420px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#f0f4f9;border-radius:6px;padding:10px 14px;min-width:120px}
.card .v{font-size:20px;font-weight:600}.card .k{font-size:12px;color:#555}.muted{color:#777;font-size:13px}
"""


def _table(columns: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    head = f"<tr>{head}</tr>" if any(columns) else ""
    return f"<table>{head}{body}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="num">{value:.4f}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _metrics(run: Any) -> str:
    metrics = run.metrics
    names = [k for k in metrics if not k.endswith("_std") and not _is_baseline(k, metrics)]
    cards = "".join(
        f'<div class="card"><div class="v">{metrics[k]:.4f}</div><div class="k">{html.escape(k)}'
        + (f" ± {metrics[k + '_std']:.4f}" if f"{k}_std" in metrics else "")
        + (f"<br>baseline {metrics[BASELINE + k]:.4f}" if BASELINE + k in metrics else "") + "</div></div>"
        for k in names[:6])
    folds = run.meta.get("fold_metrics")
    table = ""
    if folds:
        rows = [[f"fold {i + 1}", *[fold.get(k, float("nan")) for k in names]] for i, fold in enumerate(folds)]
        rows.append(["mean", *[metrics[k] for k in names]])
        rows.append(["std", *[metrics.get(f"{k}_std", float("nan")) for k in names]])
        table = "<h3 class='muted'>Per fold (cross-validation spread)</h3>" + _table(["", *names], rows)
    return f'<section><h2>Metrics</h2><div class="cards">{cards}</div>{table}{_baselines(run, names)}</section>'


#: the prefix of a baseline's score in metrics.json (kampai.core.baselines)
BASELINE = "baseline_"


def _is_baseline(key: str, metrics: dict[str, Any]) -> bool:
    """``baseline_<metric>`` beside a metric of the run (a metric of its own otherwise)."""
    return key.startswith(BASELINE) and key[len(BASELINE):] in metrics


def _baselines(run: Any, names: list[str]) -> str:
    """The model beside its baselines, metric by metric, and whether it beats the reference."""
    info = run.meta.get("baseline") or {}
    metrics = run.metrics
    if not info.get("name"):
        return ""
    others = info.get("others") or {}
    columns = ["metric", "model", f"baseline: {info['name']}", *others]
    rows = [[k, metrics[k], metrics.get(BASELINE + k, float("nan")),
             *[others[o].get(k, float("nan")) for o in others]] for k in names if BASELINE + k in metrics]
    share = ""
    if info.get("seconds") is not None and run.meta.get("total_seconds"):
        share = f", {info['seconds']:.2f} s ({info['seconds'] / run.meta['total_seconds']:.0%} of the run)"
    verdict = ""
    if info.get("loses"):
        verdict = (f"<p><b>The model loses to its baseline</b> on {html.escape(str(info.get('metric')))}: "
                   "check the features, the model's settings or the training length.</p>")
    return ("<h3 class='muted'>Baselines (trivial reference models fitted on the same folds"
            f"{html.escape(share)})</h3>" + verdict + _table(columns, rows))


def _plots(run: Any) -> str:
    from kampai.plugins.insight.plots import task_plots

    try:
        plots = task_plots(run.run_dir, run.meta.get("task", ""), run.metrics)
    except Exception as exc:  # a plot must never cost the report
        return f"<section><h2>Plots</h2><p class='muted'>No plots: {html.escape(str(exc))}</p></section>"
    if not plots:
        return "<section><h2>Plots</h2><p class='muted'>This run has no predictions to plot.</p></section>"
    return f'<section><h2>Plots</h2><div class="plots">{_figures(plots)}</div></section>'


def _steps(run: Any) -> str:
    from kampai.plugins.insight.steps import inspect_run, summary_rows

    try:
        steps = inspect_run(run)
    except Exception as exc:
        return (f"<section><h2>Pipeline steps</h2><p class='muted'>{html.escape(str(exc))}</p></section>")
    rows = summary_rows(steps)
    return ("<section><h2>Pipeline steps</h2><p class='muted'>What each preprocessing step outputs on the "
            "run's data (runner inspect RUN for dtypes and rows).</p>"
            + _table(["step", "kind", "shape", "input columns", "output columns", "missing"], rows) + "</section>")


def _facts(run: Any) -> str:
    meta = run.meta
    data = meta.get("data") or {}
    rows = [["task", meta.get("task")], ["framework", meta.get("framework")],
            ["estimator", meta.get("estimator")], ["split", f"{meta.get('split')} ({meta.get('folds')} fold(s))"],
            ["data", f"{data.get('source')}: {data.get('rows')} rows, fingerprint {data.get('fingerprint')}"],
            ["fit time (s)", meta.get("fit_seconds")], ["total time (s)", meta.get("total_seconds")],
            ["model size (KiB)", f"{(meta.get('model_size_bytes') or 0) / 1024:,.1f}"],
            ["created", meta.get("created")]]
    if meta.get("cv_fit_seconds"):
        rows.insert(6, ["fit time per fold (s)", ", ".join(str(s) for s in meta["cv_fit_seconds"])])
    git = meta.get("git") or {}
    if git:
        rows.append(["git", f"{git.get('commit', '')[:12]}" + (" (dirty)" if git.get("dirty") else "")])
    versions = meta.get("versions") or {}
    return ("<section><h2>Run</h2>" + _table(["", ""], rows) + "</section><section><h2>Versions</h2>"
            + _table(["package", "version"], [[k, v] for k, v in versions.items()]) + "</section>")


def _config(run: Any) -> str:
    file = Path(run.run_dir) / "config.yaml"
    text = file.read_text() if file.exists() else json.dumps(run.config, indent=2)
    return f"<section><h2>Config</h2><pre>{html.escape(text)}</pre></section>"


def _figures(plots: list[tuple[str, bytes]], half: tuple[str, ...] = ()) -> str:
    """``half``: the titles drawn at 540 px wide (two a row), such as the study's 800 px plots."""
    return "".join(
        f'<figure><img alt="{html.escape(title)}"' + (' class="half"' if title in half else "")
        + f' src="data:image/png;base64,{base64.b64encode(data).decode()}">'
        f"<figcaption>{html.escape(title)}</figcaption></figure>" for title, data in plots)


# -- tuning: a study folder (runner tune's output_dir/<study>) ---------------------------------

STUDY_PNGS = (("history.png", "optimisation history"), ("importances.png", "parameter importances"),
              ("duration.png", "score vs training time"))


def is_study(folder: Path) -> bool:
    folder = Path(folder)
    return folder.is_dir() and not (folder / "meta.json").exists() and (
        (folder / "trials.csv").exists() or (folder / "trials.parquet").exists())


def load_study(folder: Path) -> tuple[Any, dict[str, Any]]:
    """(the trial log, best.json) of a study folder."""
    import pandas as pd

    from kampai.plugin import DataError

    folder = Path(folder)
    if not is_study(folder):
        raise DataError(f"'{folder}' is not a study folder of runner tune (no trials.csv there; studies are "
                        "written to tune.output_dir/<study>, studies/<study> by default).")
    trials = (pd.read_parquet(folder / "trials.parquet") if (folder / "trials.parquet").exists()
              else pd.read_csv(folder / "trials.csv"))
    best_file = folder / "best.json"
    best = json.loads(best_file.read_text()) if best_file.exists() else {}
    return trials, best


def study_plots(folder: Path, trials: Any, best: dict[str, Any]) -> list[tuple[str, bytes]]:
    from kampai.plugins.insight.plots import params_scatter

    out = []
    own = Path(folder) / "params.png"  # drawn after the study by kampai_after_tune (log axes known)
    scatter = own.read_bytes() if own.exists() else params_scatter(
        trials, best.get("metric") or "value", best.get("direction") or "maximize",
        title=f"Study {best.get('study') or Path(folder).name}")
    if scatter is not None:
        out.append(("score vs each hyperparameter", scatter))
    out += [(title, (Path(folder) / name).read_bytes()) for name, title in STUDY_PNGS
            if (Path(folder) / name).exists()]
    return out


def _study_section(folder: Path, heading: str = "Tuning") -> str:
    try:
        trials, best = load_study(folder)
        plots = study_plots(folder, trials, best)
    except Exception as exc:  # a plot must never cost the report
        return f"<section><h2>{heading}</h2><p class='muted'>{html.escape(str(exc))}</p></section>"
    metric, direction = best.get("metric") or "value", best.get("direction") or "maximize"
    states = trials["state"].value_counts().to_dict() if "state" in trials else {}
    done = trials[trials["state"] == "COMPLETE"] if "state" in trials else trials
    done = done.sort_values("value", ascending=direction != "maximize").head(10)
    params = [c for c in trials.columns if c.startswith("param:")]
    rows = [[int(r["number"]), float(r["value"]), *[_plain(r[c]) for c in params],
             float(r.get("fit_seconds", r.get("seconds", float("nan"))))] for _, r in done.iterrows()]
    facts = ", ".join(f"{n} {s.lower()}" for s, n in states.items())
    best_line = (f"best {metric} {best['value']:.4f} (trial {best['number']}, {direction})"
                 if "value" in best else "no completed trial")
    return (f"<section><h2>{heading}</h2><p class='muted'>Study {html.escape(str(best.get('study', '')))} "
            f"({html.escape(str(folder))}): {html.escape(facts)}; {html.escape(best_line)}.</p>"
            f'<div class="plots">{_figures(plots, tuple(t for _, t in STUDY_PNGS))}</div>'
            '<h3 class="muted">Top trials</h3>'
            + _table(["#", metric, *[c.removeprefix("param:") for c in params], "fit (s)"], rows) + "</section>")


def _plain(value: Any) -> Any:
    """A table cell: a numpy scalar as its Python value, a missing one (None, NaN) empty."""
    from kampai.plugin.io import to_python

    value = to_python(value)
    return "" if value is None or value != value else value


def render_study(folder: Path) -> str:
    folder = Path(folder)
    _, best = load_study(folder)
    name = str(best.get("study") or folder.name)
    params = best.get("params") or {}
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>kampai study {html.escape(name)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>Study {html.escape(name)}</h1><div class='sub'>{html.escape(str(folder))} · "
        f"{html.escape(str(best.get('metric', '')))} · {html.escape(str(best.get('direction', '')))}</div></header>"
        "<main>" + _study_section(folder, "Trials")
        + "<section><h2>Best params</h2>" + _table(["param", "value"], [[k, v] for k, v in params.items()])
        + f"<p class='muted'>runner train --from-study {html.escape(name)} trains them (registry mode).</p>"
        "</section><p class='muted'>Written by kampai's insight plugin (runner report STUDY_FOLDER).</p>"
        "</main></body></html>")


def render(run: Any, study: Path | None = None) -> str:
    """The report page of ``run`` as one HTML string (``study``: the folder of the study it
    was tuned in, for a Tuning section)."""
    meta = run.meta
    title = f"{meta.get('estimator', '')} on {(meta.get('data') or {}).get('source', '')}"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>kampai run {html.escape(run.run_id)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><div class='sub'>run {html.escape(run.run_id)} · "
        f"{html.escape(str(meta.get('task')))} · {html.escape(str(meta.get('framework')))} · "
        f"{html.escape(str(meta.get('created')))}</div></header><main>"
        + _metrics(run) + _plots(run) + (_study_section(Path(study)) if study else "") + _steps(run)
        + _facts(run) + _config(run)
        + "<p class='muted'>Written by kampai's insight plugin (runner report RUN).</p></main></body></html>")


#: the files of a run (or study) folder its page shows: a page older than one of them is stale
SHOWN = ("meta.json", "metrics.json", "config.yaml", "predictions.csv", "trials.csv", "trials.parquet",
         "best.json", "*.png")


def is_stale(path: Path, *folders: Path | None) -> bool:
    """Whether ``path`` (a report page) is missing or older than a file it shows."""
    try:
        written = Path(path).stat().st_mtime
    except OSError:
        return True
    for folder in folders:
        if folder is None:
            continue
        for pattern in SHOWN:
            for file in Path(folder).glob(pattern):
                try:
                    if file.stat().st_mtime > written:
                        return True
                except OSError:
                    continue
    return False


def report_path(run: Any, study: str | Path | None = None) -> Path:
    """``report.html`` of a run or study folder, rendered first when missing or stale (the
    default ``report.after_train: demand``: a page is drawn when someone asks for it)."""
    return write_report(run, force=False, study=study)


def write_report(run: Any, force: bool = True, study: str | Path | None = None) -> Path:
    """Write ``report.html`` into the run folder, or into a study folder of ``runner tune``
    (atomically); return its path.  ``study``: the study folder a run was tuned in.
    Without ``force`` a page newer than every file it shows is kept as it is."""
    if isinstance(run, (str, Path)) and is_study(Path(run)):
        path = Path(run) / REPORT
        if force or is_stale(path, Path(run)):
            _write(path, render_study(Path(run)))
        return path
    if study is not None:
        load_study(Path(study))  # a wrong folder is the user's mistake: say so now
    if isinstance(run, (str, Path)):
        from kampai.plugin.runs import load_run

        run = load_run(run)
    path = Path(run.run_dir) / REPORT
    if not force and not is_stale(path, Path(run.run_dir), Path(study) if study else None):
        return path
    _write(path, render(run, study))
    return path


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
