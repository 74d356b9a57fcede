"""Tracking tuning studies: one parent MLflow run per study (live, or pushed from the study's
folder afterwards), trials as child runs only when asked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kampai.plugins.mlflow.push_queue import background, linger, queue_push
from kampai.plugins.mlflow.records import _now, _short, mark_pending, warn, write_record
from kampai.plugins.mlflow.run_data import TAG_KIND, _finite, _param_value, run_params
from kampai.plugins.mlflow.store import client, experiment_id, experiment_name, tracking_uri
from kampai.plugins.mlflow.tracking import LINK_KEY
from kampai.plugins.mlflow.upload import _terminate, log_batch, log_folder


class StudyTracker:
    """Kept in ``ctx.state["mlflow_study"]`` between the tune hooks of one study."""

    def __init__(self, ctx: Any) -> None:
        cfg = ctx.config
        self.uri, self.experiment = tracking_uri(cfg), experiment_name(cfg)
        self.children = bool((cfg.get("tracking") or {}).get("trials"))
        # the study's folder is pushed after the study by a detached process (as a run is),
        # unless trials are logged as they finish or a refit run must link to the study's
        # MLflow run: those need the run now, in the foreground
        self.deferred = (background(cfg) and not self.children
                         and not (cfg.get("tune") or {}).get("refit"))
        self.client: Any = None
        self.run_id: str | None = None
        self.error: BaseException | None = None
        self.rows: list[dict[str, Any]] = []

    def start(self, ctx: Any, study: Any) -> None:
        if self.deferred:
            return  # nothing to open: MLflow is not even imported during the study
        try:
            self.client = client(self.uri)
            exp_id = experiment_id(self.client, self.experiment, self.uri)
            tags = {"mlflow.runName": f"study-{ctx.run_id}", "mlflow.source.name": "runner tune",
                    TAG_KIND: "study", "kampai.study": str(ctx.run_id),
                    "kampai.study_dir": str(Path(ctx.run_dir).resolve()),
                    "kampai.metric": str(ctx.state.get("metric")),
                    "kampai.direction": str(ctx.state.get("direction")),
                    "kampai.storage": str(ctx.state.get("storage"))}
            created = self.client.create_run(exp_id, run_name=f"study-{ctx.run_id}", tags=tags)
            self.run_id = created.info.run_id
            log_batch(self.client, self.run_id, params=run_params(ctx.config))
        except Exception as exc:
            self._fail(ctx, exc)

    def _fail(self, ctx: Any, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
            warn(f"study {ctx.run_id} is not tracked ({_short(exc)}); its folder keeps everything, "
                 "'runner runs sync' pushes it later.")
        self.run_id = None

    def trial(self, ctx: Any, trial: Any, metrics: dict[str, float]) -> None:
        row = trial_row(trial, metrics)
        self.rows.append(row)
        if not (self.run_id and self.children):
            return
        try:
            tags = {"mlflow.parentRunId": self.run_id, "mlflow.runName": f"trial-{trial.number}",
                    TAG_KIND: "trial", "kampai.study": str(ctx.run_id), "kampai.trial": str(trial.number),
                    "kampai.trial_state": row["state"]}
            child = self.client.create_run(self.client.get_run(self.run_id).info.experiment_id,
                                           run_name=f"trial-{trial.number}", tags=tags)
            scores = [(k, float(v), 0) for k, v in metrics.items() if _finite(v)]
            if _finite(row.get("fit_seconds")):
                scores.append(("fit_seconds", float(row["fit_seconds"]), 0))
            log_batch(self.client, child.info.run_id,
                      params={k: _param_value(v) for k, v in (trial.params or {}).items()}, metrics=scores)
            self.client.set_terminated(child.info.run_id, "FINISHED" if row["state"] == "COMPLETE" else "FAILED")
        except Exception as exc:
            self._fail(ctx, exc)

    def finish(self, ctx: Any, study: Any, best: Any, status: str = "FINISHED") -> None:
        if self.deferred:
            # the tuner has written the trial log, best.json and the plots by now
            queue_push(Path(ctx.run_dir), self.uri, self.experiment, kind="study", linger_s=linger(ctx.config))
            return
        if status == "FINISHED" and (ctx.config.get("tune") or {}).get("refit"):
            ctx.state[LINK_KEY] = {"name": str(ctx.run_id), "run_id": self.run_id, "uri": self.uri,
                                   "dir": str(ctx.run_dir)}
        if self.run_id is None:
            if self.error is not None:
                mark_pending(ctx.run_dir, self.uri, self.experiment, self.error, kind="study")
            return
        try:
            log_study(self.client, self.run_id, ctx.run_dir, study, best, self.rows,
                      metric=ctx.state.get("metric"))
            self.client.set_terminated(self.run_id, status)
            write_record(ctx.run_dir, {"uri": self.uri, "experiment": self.experiment,
                                       "run_id": self.run_id, "logged": _now()})
        except Exception as exc:
            _terminate(self.client, self.run_id, "FAILED")
            self._fail(ctx, exc)
            mark_pending(ctx.run_dir, self.uri, self.experiment, exc, kind="study")


def trial_row(trial: Any, metrics: dict[str, float] | None = None) -> dict[str, Any]:
    state = getattr(trial.state, "name", str(trial.state))
    duration = getattr(trial, "duration", None)
    attrs = getattr(trial, "user_attrs", {}) or {}
    row: dict[str, Any] = {"number": trial.number, "state": state, "value": trial.value,
                           "duration_seconds": duration.total_seconds() if duration else None,
                           "fit_seconds": attrs.get("fit_seconds")}
    row["duplicate_of"] = attrs.get("duplicate_of")  # a reused point: no fit, not a trial of the budget
    row.update({f"params_{k}": v for k, v in (trial.params or {}).items()})
    row.update({f"metric_{k}": v for k, v in (metrics or attrs.get("metrics") or {}).items()})
    return row


def study_table(study: Any, rows: list[dict[str, Any]]) -> Any:
    """Every trial of the study (also those of earlier, resumed invocations)."""
    import pandas as pd

    if study is not None:
        try:
            return pd.DataFrame([trial_row(t) for t in study.trials])
        except Exception:
            pass
    return pd.DataFrame(rows)


def log_study(mlflow_client: Any, run_id: str, study_dir: Path, study: Any, best: Any,
              rows: list[dict[str, Any]], metric: str | None) -> None:
    import tempfile

    table = study_table(study, rows)
    if "duplicate_of" in table:
        reused = int(table["duplicate_of"].notna().sum())
        table = table[table["duplicate_of"].isna()]
    else:
        reused = 0
    states = table["state"].value_counts().to_dict() if "state" in table else {}
    metrics = [("n_trials", float(len(table)), 0), ("n_trials_reused", float(reused), 0)]
    metrics += [(f"n_trials_{str(k).lower()}", float(v), 0) for k, v in states.items()]
    params: dict[str, str] = {}
    if best is not None:
        if _finite(best.value):
            metrics.append(("best_value", float(best.value), 0))
            if metric:
                metrics.append((f"best_{metric}", float(best.value), 0))
        for k, v in ((best.user_attrs or {}).get("metrics") or {}).items():
            if _finite(v):
                metrics.append((f"best.{k}", float(v), 0))
        params = {f"best.{k}": _param_value(v) for k, v in (best.params or {}).items()}
        params["best.trial"] = str(best.number)
    log_batch(mlflow_client, run_id, params=params, metrics=metrics)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trials.csv"
        table.to_csv(path, index=False)
        mlflow_client.log_artifact(run_id, str(path), "study")
    if Path(study_dir).is_dir():
        log_folder(mlflow_client, run_id, Path(study_dir), "study")


def _trial_counts(trials_csv: Path) -> list[tuple[str, float, int]]:
    """``n_trials`` and ``n_trials_<state>`` from the tuner's trial log (none if absent)."""
    import csv

    try:
        with open(trials_csv, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError:
        return []
    fitted = [row for row in rows if not row.get("duplicate_of")]  # a reused point is no trial run
    states = [row.get("state") or "" for row in fitted]
    counts = [("n_trials", float(len(states)), 0), ("n_trials_reused", float(len(rows) - len(fitted)), 0)]
    for state in sorted(set(states)):
        counts.append((f"n_trials_{state.lower()}", float(states.count(state)), 0))
    return counts


def log_study_folder(folder: Path, uri: str, experiment: str) -> None:
    """One parent run for a study, from its folder: the background push after ``runner
    tune``, and ``runs sync`` for a study whose tracking failed."""
    best_file = folder / "best.json"  # the tuner's summary, when it got that far
    best = json.loads(best_file.read_text()) if best_file.is_file() else {}
    mlflow_client = client(uri)
    exp_id = experiment_id(mlflow_client, experiment, uri)
    tags = {TAG_KIND: "study", "kampai.study": folder.name, "kampai.study_dir": str(folder.resolve()),
            "mlflow.source.name": "runner tune"}
    tags.update({f"kampai.{key}": str(best[key]) for key in ("metric", "direction") if best.get(key)})
    created = mlflow_client.create_run(exp_id, run_name=f"study-{folder.name}", tags=tags)
    try:
        metrics, params = _trial_counts(folder / "trials.csv"), {}
        if best:
            if _finite(best.get("value")):
                metrics.append(("best_value", float(best["value"]), 0))
                if best.get("metric"):
                    metrics.append((f"best_{best['metric']}", float(best["value"]), 0))
            params = {f"best.{k}": _param_value(v) for k, v in (best.get("params") or {}).items()}
            if best.get("number") is not None:
                params["best.trial"] = str(best["number"])
        if metrics or params:
            log_batch(mlflow_client, created.info.run_id, params=params, metrics=metrics)
        log_folder(mlflow_client, created.info.run_id, folder, "study")
    except BaseException:
        _terminate(mlflow_client, created.info.run_id, "FAILED")
        raise
    mlflow_client.set_terminated(created.info.run_id, "FINISHED")
    write_record(folder, {"uri": uri, "experiment": experiment, "run_id": created.info.run_id,
                          "logged": _now()})
