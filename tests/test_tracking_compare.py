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
