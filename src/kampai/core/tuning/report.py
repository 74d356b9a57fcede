"""What a study shows and leaves behind: progress bar, top-trials table, trial log, plots.

The trial log is the study itself (params, value, state, durations and the user attrs
``metrics``/``fit_seconds``/``worker`` in the storage); :func:`trials_frame` flattens it
and :func:`export` writes it as ``trials.csv`` and ``trials.parquet``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def better(a: float | None, b: float | None, direction: str) -> bool:
    """Whether ``a`` beats ``b``."""
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return False
    if b is None:
        return True
    return a > b if direction == "maximize" else a < b


class Progress:
    """A rich progress bar on stderr: trials done/total, best so far, elapsed, ETA.  When
    stderr is not a terminal (CI logs, nohup, a pipe) a bar would show nothing until the
    end: one plain line per trial instead."""

    def __init__(self, total: int, done: int, best: Any, direction: str, metric: str,
                 verbose: bool = True) -> None:
        self.total, self.direction, self.metric = total, direction, metric
        self.best_value = best.value if best is not None else None
        self.best_number = best.number if best is not None else None
        self.counts = {"complete": 0, "pruned": 0, "fail": 0}
        self.verbose = verbose
        self._bar: Any = None
        self.done = done
        self._lines = False
        self._notebook: Any = None
        if verbose:
            from kampai.core.console import console, in_kernel

            if in_kernel():
                from kampai.core.notebook import bar

                self._notebook = bar("tune", max(total, done, 1), done, self._best_text(plain=True))
            self._lines = self._notebook is None and not console().is_terminal
        if verbose and not self._lines and self._notebook is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            from kampai.core.console import console

            self._bar = RichProgress(
                TextColumn("[bold]tune[/bold]"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[best]}"), TextColumn("[dim]{task.fields[states]}[/dim]"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=console(), transient=False)
            self._task = self._bar.add_task("tune", total=max(total, done, 1), completed=done,
                                            best=self._best_text(), states="")
            self._bar.start()

    def _best_text(self, plain: bool = False) -> str:
        if self.best_value is None:
            return f"best {self.metric}: -"
        value = f"{self.best_value:.4f}" if plain else f"[green]{self.best_value:.4f}[/green]"
        return f"best {self.metric}: {value} (#{self.best_number})"

    def update(self, trial: Any) -> None:
        reused = trial.user_attrs.get("duplicate_of") is not None
        state = "reused" if reused else trial.state.name.lower()
        self.counts[state] = self.counts.get(state, 0) + 1
        if state == "complete" and better(trial.value, self.best_value, self.direction):
            self.best_value, self.best_number = trial.value, trial.number
        counts = not reused and (state != "fail" or "error" in trial.user_attrs)
        self.done += 1 if counts else 0
        if self._bar is not None:
            states = ", ".join(f"{v} {k}" for k, v in self.counts.items() if v and k != "complete")
            self._bar.update(self._task, advance=1 if counts else 0, best=self._best_text(), states=states)
        elif self._notebook is not None:
            states = ", ".join(f"{v} {k}" for k, v in self.counts.items() if v and k != "complete")
            self._notebook.update(self.done, self._best_text(plain=True) + (f"  ({states})" if states else ""),
                                  total=max(self.total, self.done))
        elif self._lines:
            self._line(trial, state)

    def _line(self, trial: Any, state: str) -> None:
        """``trial 3/20 (#2) complete: accuracy 0.9533, best 0.9600 (#1), 1.2 s`` on stderr."""
        from rich.markup import escape

        from kampai.core.console import console

        text = f"trial {self.done}/{max(self.total, self.done)} (#{trial.number}) {state}"
        if state == "complete" and trial.value is not None:
            text += f": {self.metric} {trial.value:.4f}"
        elif state == "reused":
            text += f" (the value of #{trial.user_attrs.get('duplicate_of')})"
        elif state == "fail" and trial.user_attrs.get("error"):
            text += f": {str(trial.user_attrs['error']).splitlines()[0][:200]}"
        if self.best_value is not None:
            text += f", best {self.best_value:.4f} (#{self.best_number})"
        start, end = getattr(trial, "datetime_start", None), getattr(trial, "datetime_complete", None)
        if start is not None and end is not None:
            text += f", {(end - start).total_seconds():.1f} s"
        console().print(escape(text), soft_wrap=True)

    def stop(self) -> None:
        if self._notebook is not None:
            self._notebook.close()
            self._notebook = None
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def trials_frame(study: Any) -> pd.DataFrame:
    """One row per trial: number, state, value, durations, worker, params, metrics, error."""
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {
            "number": t.number, "state": t.state.name, "value": t.value,
            "seconds": t.duration.total_seconds() if t.duration is not None else None,
            "fit_seconds": t.user_attrs.get("fit_seconds"),
            "started": t.datetime_start, "completed": t.datetime_complete,
            "worker": t.user_attrs.get("worker"),
        }
        for name, value in t.params.items():
            row[f"param:{name}"] = value
        for name, value in (t.user_attrs.get("metrics") or {}).items():
            row[f"metric:{name}"] = value
        if "grid_index" in t.user_attrs:
            row["grid_index"] = t.user_attrs["grid_index"]
        row["duplicate_of"] = t.user_attrs.get("duplicate_of")
        row["error"] = t.user_attrs.get("error") or t.user_attrs.get("interrupted")
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if column.startswith("param:") and frame[column].map(type).nunique() > 1:
            frame[column] = frame[column].astype(str)  # mixed categoricals: Parquet wants one type
    return frame


def export(study: Any, folder: Path) -> pd.DataFrame:
    """Write ``trials.csv`` and ``trials.parquet`` into ``folder``; return the frame."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = trials_frame(study)
    frame.to_csv(folder / "trials.csv", index=False)
    try:
        frame.to_parquet(folder / "trials.parquet", index=False)
    except Exception as exc:  # an odd categorical type must not lose the CSV
        warnings.warn(f"trials.parquet not written: {exc}", stacklevel=2)
    return frame


def top_rows(study: Any, direction: str, n: int) -> list[Any]:
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.user_attrs.get("duplicate_of") is None]
    done.sort(key=lambda t: t.value, reverse=direction == "maximize")
    return done[:n]


def print_top(study: Any, direction: str, metric: str, n: int) -> None:
    from kampai.core.console import print_table

    rows = []
    for t in top_rows(study, direction, n):
        params = "  ".join(f"{k}={_short(v)}" for k, v in t.params.items())
        seconds = t.duration.total_seconds() if t.duration is not None else float("nan")
        rows.append([t.number, f"{t.value:.4f}", params, f"{seconds:.2f}s"])
    print_table(f"Top trials of study '{study.study_name}' ({metric}, {direction})",
                ["#", metric, "params", "time"], rows)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def plots(study: Any, frame: pd.DataFrame, folder: Path, metric: str) -> list[Path]:
    """history.png, importances.png, duration.png (each skipped with a warning if it
    cannot be drawn, e.g. importances with fewer than two finished trials)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    complete = frame[frame["state"] == "COMPLETE"] if len(frame) else frame

    def save(name: str, draw: Any) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = draw()
            fig = ax.figure if hasattr(ax, "figure") else plt.gcf()
            fig.set_size_inches(8, 5)
            fig.tight_layout()
            fig.savefig(folder / name, dpi=100)
            written.append(folder / name)
        except Exception as exc:
            warnings.warn(f"{name} not drawn: {exc}", stacklevel=2)
        finally:
            plt.close("all")

    save("history.png", lambda: ovm.plot_optimization_history(study, target_name=metric))
    if len(complete) >= 2 and len(study.best_trial.params) >= 1:
        # PED-ANOVA: milliseconds, where the default fANOVA fits a random forest per call
        # (seconds on the user's critical path)
        from optuna.importance import PedAnovaImportanceEvaluator

        save("importances.png", lambda: ovm.plot_param_importances(
            study, evaluator=PedAnovaImportanceEvaluator(), target_name=metric))

    def duration() -> Any:
        _fig, ax = plt.subplots()
        x = complete["fit_seconds"].fillna(complete["seconds"]) if "fit_seconds" in complete else complete["seconds"]
        ax.scatter(x, complete["value"], alpha=0.7)
        ax.set_xlabel("fit seconds (all folds)")
        ax.set_ylabel(metric)
        ax.set_title("Score vs training time")
        return ax

    if len(complete):
        save("duration.png", duration)
    return written
