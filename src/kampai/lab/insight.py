"""``kampai.inspect``, ``kampai.learning_curve`` and ``kampai.report``: ``runner inspect``,
``runner learning-curve`` and ``runner report`` (the insight plugin's functions, as the
commands call them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.lab._plugins import plugin_module

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LearningCurve", "Report", "inspect", "learning_curve", "report"]


def _ref(run: Any) -> Any:
    return run if hasattr(run, "inspect") else str(getattr(run, "run_dir", run))


def inspect(run: Any, data: Any = None, step: str | None = None) -> pd.DataFrame:
    """``runner inspect RUN``: what each preprocessing step of the run's model outputs, one
    row per step (name, kind, shape, input columns, output columns, missing values, dtypes,
    the first rows in ``head``) on the run's own data or ``data`` (a DataFrame or a path)::

        import kampai
        steps = kampai.inspect("runs/20260101-...", step="scaler")
        steps[["name", "shape", "columns"]]
    """
    import pandas as pd

    steps = plugin_module("insight", "steps", "kampai.inspect").inspect_run(_ref(run), data, step)
    return pd.DataFrame(steps)


@dataclass
class LearningCurve:
    """What :func:`learning_curve` returns: ``table`` (score, its spread, train score and
    fit time per training size), the ``metric``, the ``files`` written (CSV, JSON, PNG).
    Renders its plot in Jupyter."""

    table: pd.DataFrame
    metric: str
    sizes: list[int]
    files: list[str] = field(default_factory=list)
    split: str = ""
    folds: int = 1

    def _repr_html_(self) -> str:
        from kampai.lab.html import learning_curve_html

        return learning_curve_html(self)


def learning_curve(config: str | Path | None = None, rows: str = "10%,25%,50%,100%", *, task: str | None = None,
                   framework: str | None = None, data: str | None = None, model: str | None = None,
                   out_dir: str | Path | None = None, quiet: bool = False,
                   overrides: list[str] | None = None) -> LearningCurve:
    """``runner learning-curve``: score vs training rows (the same split for every size);
    ``rows`` as percentages, fractions or counts; the CSV, JSON and PNG go to ``out_dir``
    (default ``reports/learning-curve/<name>``)::

        import kampai
        curve = kampai.learning_curve(task="classification", data="sklearn:iris",
                                      model="LogisticRegression", rows="20%,50%,100%", quiet=True)
        curve.table
    """
    curve = plugin_module("insight", "curve", "kampai.learning_curve")
    result = curve.curve_for(config, rows, task=task, framework=framework, data=data, model=model,
                             out_dir=out_dir, verbose=not quiet, overrides=overrides)
    return LearningCurve(table=result["summary"], metric=result["metric"], sizes=list(result["sizes"]),
                         files=[str(f) for f in result["files"]], split=str(result.get("split", "")),
                         folds=int(result.get("folds", 1)))


class Report(type(Path())):  # type: ignore[misc]
    """The path of a written ``report.html``; shows the report inline in Jupyter."""

    def _repr_html_(self) -> str:
        import html

        page = self.read_text(encoding="utf-8")
        return (f"<p><code>{html.escape(str(self))}</code></p><iframe style='width:100%;height:640px;"
                f"border:1px solid #ddd' srcdoc=\"{html.escape(page, quote=True)}\"></iframe>")


def report(run: Any, *, force: bool = False, study: str | Path | None = None) -> Report:
    """``runner report RUN``: write the run's self-contained ``report.html`` if it has none
    (``force`` rewrites it; ``study`` adds the study's score vs each hyperparameter); a study
    folder (``studies/NAME``) gets the study's page.  Returns its path, which shows the page
    in Jupyter::

        import kampai
        page = kampai.report(run)
        page            # the report, inline
    """
    insight = plugin_module("insight", "report", "kampai.report")
    return Report(insight.write_report(_ref(run), force=force or study is not None, study=study))
