"""``kampai.runs`` and ``kampai.compare``: ``runner runs list`` / ``runs compare`` as a
DataFrame and figures (the same :mod:`kampai.core.compare` functions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core.schema import RUNS_DIR

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Comparison", "compare", "runs"]

#: the columns shown first; metrics and ``param:`` columns follow
FIRST = ("run_id", "created", "task", "framework", "estimator", "protocol", "data_source", "data_fingerprint",
         "data_rows", "fit_seconds", "total_seconds", "model_size_bytes")


def runs(runs_dir: str | Path = RUNS_DIR, *, task: str | None = None, metric: str | None = None,
         top: int | None = None, data: str | None = None, all_data: bool | None = None) -> pd.DataFrame:
    """The runs under ``runs_dir`` as a pandas DataFrame, one row per run: meta (task,
    framework, estimator, created), protocol, data source and fingerprint, fit and total
    time, model size, every metric, and the key params as ``param:NAME`` columns.

    Without ``metric``/``top``/``data`` it is ``runner runs list`` (newest first, every
    data); with them it is ``runner runs compare`` (ranked by ``metric``, the runs on one
    data only unless ``all_data``)::

        import kampai
        table = kampai.runs(task="classification")
        table[["run_id", "estimator", "accuracy", "fit_seconds"]]
        best = kampai.runs(metric="accuracy", top=3)
    """
    from kampai.core import compare as compare_mod
    from kampai.core.hosted import list_runs

    if metric is None and top is None and data is None:
        found = [r for r in list_runs(runs_dir) if task is None or r.meta.get("task") == task]
        table = compare_mod.runs_table(found)
    else:
        if not list_runs(runs_dir):
            return _empty()
        table = compare_mod.compare(runs_dir, metric, task, None, top, data=data, all_data=bool(all_data))["table"]
        found = []
    if table.empty:
        return _empty()
    return _with_params(table, found)


def _empty() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=list(FIRST))


def _with_params(table: pd.DataFrame, found: list[Any]) -> pd.DataFrame:
    """The table with each run's ``model.params`` as ``param:NAME`` columns, main columns first."""
    from kampai.core import runs as runs_mod

    configs = {str(r.run_dir): r.config for r in found}
    rows = []
    for folder in table["run_dir"]:
        config = configs.get(folder)
        if config is None:
            try:
                config = runs_mod.open_run(folder).config
            except Exception:
                config = {}
        params = ((config or {}).get("model") or {}).get("params") or {}
        rows.append({f"param:{k}": v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
                     for k, v in params.items()})
    import pandas as pd

    params = pd.DataFrame(rows, index=table.index)
    table = pd.concat([table, params], axis=1)
    first = [c for c in FIRST if c in table.columns]
    rest = [c for c in table.columns if c not in first and not c.startswith("param:") and c != "run_dir"]
    params_cols = [c for c in table.columns if c.startswith("param:")]
    return table[first + rest + params_cols + ["run_dir"]]


@dataclass
class Comparison:
    """What :func:`compare` returns: the ranked ``table``, the ``metric`` and its direction,
    the ``figures`` (score vs training time, score vs model size; matplotlib Figures), the
    data compared and the evaluation protocols.  Renders as HTML in Jupyter."""

    table: pd.DataFrame
    metric: str
    greater_is_better: bool
    figures: list[Any] = field(default_factory=list)
    data: dict[str, Any] | None = None
    left_out: int = 0
    mixed_data: bool = False
    protocols: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        from kampai.lab.html import comparison_html

        return comparison_html(self)


def compare(metric: str | None = None, *, task: str | None = None, top: int | None = None,
            data: str | None = None, all_data: bool = False, plots: bool = True,
            out_dir: str | Path | None = None, runs_dir: str | Path = RUNS_DIR) -> Comparison:
    """``runner runs compare``: rank the runs on the same data by ``metric`` (default: the
    primary metric) and draw score vs training time and vs model size (Pareto front marked).

    The figures come back as matplotlib Figures (``out_dir`` also writes them as PNG files,
    as the command does); ``plots=False`` skips them::

        import kampai
        result = kampai.compare("accuracy", task="classification")
        result.table.head()       # ranked runs
        result.figures[0]         # score vs training time
    """
    from kampai.core import compare as compare_mod

    result = compare_mod.compare(runs_dir, metric, task, None, top, data=data, all_data=all_data)
    figures: list[Any] = []
    files: list[str] = []
    if plots and len(result["table"]):
        if out_dir is not None:
            files = compare_mod.write_plots(result["table"], result["metric"], Path(out_dir))
        figures = [fig for _, fig in compare_mod.figures(result["table"], result["metric"])]
    return Comparison(table=result["table"], metric=result["metric"], greater_is_better=result["greater_is_better"],
                      figures=figures, data=result["data"], left_out=result["left_out"],
                      mixed_data=result["mixed_data"], protocols=result["protocols"], files=files)
