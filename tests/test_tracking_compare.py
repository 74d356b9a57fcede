"""Across runs, without any tracker: ``runner runs compare`` (table + PNG plots) and
``runner runs export --format csv``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kampai import api
from mlflow_helpers import cli

IRIS = {"task": "classification", "data": "sklearn:iris", "tracking": {"enabled": False}}


@pytest.fixture
def runs(tmp_path: Path) -> list:
    return [api.train(**IRIS, model=m, verbose=False) for m in ("GaussianNB", "LogisticRegression", "DummyClassifier")]


def test_compare_ranks_runs_and_writes_plots(tmp_path: Path, runs, capsys) -> None:
    assert cli("runs", "compare", "--metric", "log_loss", "--json", "--out-dir", "plots") == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["metric"] == "log_loss" and payload["greater_is_better"] is False
    ranked = [r["run_id"] for r in payload["runs"]]
    assert ranked == [r.run_id for r in sorted(runs, key=lambda r: r.metrics["log_loss"])]
    assert {"fit_seconds", "model_size_bytes", "estimator"} <= set(payload["runs"][0])
    for name in ("score_vs_training_time.png", "score_vs_model_size.png"):
        png = tmp_path / "plots" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    # the table, default metric (the task's primary one)
    assert cli("runs", "compare", "--no-plots") == 0
    out = capsys.readouterr().out
    assert "Runs by accuracy (higher is better)" in out and "DummyClassifier" in out


def test_export_csv_holds_every_run_and_metric(tmp_path: Path, runs, capsys) -> None:
    import pandas as pd

    assert cli("runs", "export", "--format", "csv", "-o", "metrics.csv") == 0
    table = pd.read_csv(tmp_path / "metrics.csv")
    assert sorted(table["run_id"]) == sorted(r.run_id for r in runs)
    assert {"accuracy", "f1_macro", "fit_seconds", "model_size_bytes", "data_fingerprint"} <= set(table.columns)
    row = table.set_index("run_id").loc[runs[0].run_id]
    assert row["accuracy"] == pytest.approx(runs[0].metrics["accuracy"])
    assert cli("runs", "export") == 0  # stdout
    assert capsys.readouterr().out.startswith("run_id,")


def test_compare_and_export_errors(tmp_path: Path, capsys) -> None:
    assert cli("runs", "compare") == 2
    assert "No runs under 'runs'" in capsys.readouterr().err
    api.train(**IRIS, model="GaussianNB", verbose=False)
    assert cli("runs", "compare", "--metric", "acuracy") == 2
    assert "Did you mean 'accuracy'" in capsys.readouterr().err
    assert cli("runs", "export", "--format", "xlsx") == 2
    assert "Unknown export format 'xlsx'" in capsys.readouterr().err


def test_compare_ranks_only_runs_on_the_same_data_and_marks_the_protocol(tmp_path: Path, runs, capsys) -> None:
    """Runs on other data are left out (and counted) unless --all-data; a k-fold mean beside a
    holdout score is flagged."""
    wine = api.train(task="classification", data="sklearn:wine", model="GaussianNB", verbose=False,
                     tracking={"enabled": False})
    cv = api.train(**IRIS, model="GaussianNB", verbose=False, overrides=["split.method=stratified_kfold",
                                                                          "split.folds=4"])
    # the newest run is the iris CV run: the wine run is not ranked with the iris runs
    assert cli("runs", "compare", "--no-plots", "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    ranked = {r["run_id"] for r in payload["runs"]}
    assert ranked == {r.run_id for r in runs} | {cv.run_id} and payload["left_out"] == 1
    protocols = {r["run_id"]: r["protocol"] for r in payload["runs"]}
    assert protocols[cv.run_id] == "4-fold CV (stratified_kfold)"
    assert protocols[runs[0].run_id].startswith("holdout, 30 test rows")
    assert cli("runs", "compare", "--no-plots") == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "1 run on other data left out" in err and "different evaluation protocols" in err
    # --all-data ranks everything and says that data differ; --data picks the wine runs
    assert cli("runs", "compare", "--no-plots", "--all-data") == 0
    out = capsys.readouterr()
    assert wine.run_id in out.out and "trained on different data" in " ".join(out.err.split())
    fingerprint = wine.meta["data"]["fingerprint"]
    assert cli("runs", "compare", "--no-plots", "--json", "--data", fingerprint[:10]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)["runs"]] == [wine.run_id]
