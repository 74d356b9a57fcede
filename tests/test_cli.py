"""Every ``runner`` command, its ``--json`` output, and expected errors (exit 2, one line)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from helpers import invoke, no_tracker, run_dirs, write_churn_csv  # noqa: F401  (autouse)


@pytest.fixture
def churn_csv(tmp_path: Path) -> Path:
    return write_churn_csv(tmp_path / "churn.csv")


@pytest.fixture
def trained(tmp_path: Path, churn_csv: Path) -> dict:
    result = invoke("train", "--task", "classification", "--data", str(churn_csv), "--target", "churn",
                    "--json", "model.params.n_estimators=20")
    assert result.code == 0, result.stderr
    return result.json()


def test_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.code == 0
    for command in ("train", "evaluate", "predict", "config", "runs", "plugins", "tasks",
                    "frameworks", "estimators", "datasets", "splits", "metrics"):
        assert command in result.stdout


def test_version(cli) -> None:
    from importlib.metadata import version

    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"kampai {version('kampai')}"


def test_tasks_list_json() -> None:
    result = invoke("tasks", "list", "--json")
    assert result.code == 0
    tasks = {t["name"]: t for t in result.json()}
    assert {"classification", "regression", "clustering"} <= set(tasks)
    assert tasks["classification"]["default_split"] == "stratified"
    assert tasks["classification"]["default_metrics"][:2] == ["accuracy", "balanced_accuracy"]
    assert tasks["regression"]["default_metrics"] == ["rmse", "mae", "r2"]
    assert tasks["clustering"]["default_split"] == "none"
    assert tasks["classification"]["plugin"] == "tasks"
    table = invoke("tasks", "list")
    assert "classification" in table.stdout and "regression" in table.stdout


def test_frameworks_list_json() -> None:
    frameworks = {f["name"]: f for f in invoke("frameworks", "list", "--json").json()}
    assert {"classification", "regression", "clustering"} <= set(frameworks["sklearn"]["tasks"])
    assert frameworks["sklearn"]["plugin"] == "sklearn"
    assert frameworks["hello"]["tasks"] == ["classification"]  # the example plugin
    assert "sklearn" in invoke("frameworks", "list").stdout


def test_datasets_list_json() -> None:
    datasets = {d["name"]: d for d in invoke("datasets", "list", "--json").json()}
    for name, task in [("sklearn:iris", "classification"), ("sklearn:wine", "classification"),
                       ("sklearn:breast_cancer", "classification"), ("sklearn:diabetes", "regression")]:
        assert datasets[name]["task"] == task
        assert datasets[name]["target"] == "target"


def test_splits_list_json() -> None:
    splits = {s["name"]: s["cv"] for s in invoke("splits", "list", "--json").json()}
    assert {k: splits[k] for k in ("none", "random", "stratified", "group", "time")} == dict.fromkeys(
        ("none", "random", "stratified", "group", "time"), False)
    assert all(splits[k] for k in ("kfold", "stratified_kfold", "group_kfold", "timeseries"))


def test_metrics_list_json() -> None:
    metrics = invoke("metrics", "list", "--task", "regression", "--json").json()
    by_name = {m["name"]: m for m in metrics}
    assert {"rmse", "mae", "r2"} <= set(by_name)
    assert all("regression" in m["tasks"] for m in metrics)
    assert by_name["rmse"]["greater_is_better"] is False and by_name["r2"]["greater_is_better"] is True
    everything = {m["name"] for m in invoke("metrics", "list", "--json").json()}
    assert {"accuracy", "roc_auc", "log_loss", "silhouette", "ari", "nmi"} <= everything


def test_train_json_then_runs_list(tmp_path: Path, trained: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(trained) == {"run_id", "run_dir", "metrics"}
    assert Path(trained["run_dir"]).is_dir()
    assert Path(trained["run_dir"]).name == trained["run_id"]
    assert {"accuracy", "roc_auc", "log_loss"} <= set(trained["metrics"])
    listed = invoke("runs", "list", "--json").json()
    assert [r["run_id"] for r in listed] == [trained["run_id"]]
    assert listed[0]["metrics"] == trained["metrics"]
    assert listed[0]["meta"]["estimator"] == "RandomForestClassifier"
    monkeypatch.setenv("COLUMNS", "300")  # one row per run, unwrapped
    table = invoke("runs", "list")
    assert table.code == 0 and trained["run_id"] in table.stdout and "Runs in runs" in table.stdout
    assert invoke("runs", "list", "--runs-dir", str(tmp_path / "nothing"), "--json").json() == []


def test_train_logs_steps_on_stderr(churn_csv: Path) -> None:
    result = invoke("train", "--task", "classification", "--data", str(churn_csv), "--target", "churn",
                    "model.params.n_estimators=10")
    assert result.code == 0, result.stderr
    for step in ("data loaded", "split", "fit RandomForestClassifier", "saved", "Run "):
        assert step in result.stderr
    assert result.stdout == ""
    quiet = invoke("train", "--task", "classification", "--data", str(churn_csv), "--target", "churn",
                   "-q", "model.params.n_estimators=10")
    assert quiet.code == 0 and quiet.stderr == ""


def test_evaluate_json(trained: dict, churn_csv: Path, tmp_path: Path) -> None:
    holdout = write_churn_csv(tmp_path / "holdout.csv", n=60, seed=1)
    result = invoke("evaluate", trained["run_dir"], "--data", str(holdout), "--json")
    assert result.code == 0, result.stderr
    metrics = result.json()
    assert set(metrics) == {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"}
    assert 0.5 < metrics["accuracy"] <= 1
    table = invoke("evaluate", trained["run_dir"], "--data", str(holdout))
    assert "accuracy" in table.stdout


def test_predict_output_with_proba_columns(trained: dict, tmp_path: Path) -> None:
    new = write_churn_csv(tmp_path / "new.csv", n=40, seed=2).read_text()
    unlabelled = tmp_path / "unlabelled.csv"
    pd.read_csv(tmp_path / "new.csv").drop(columns="churn").to_csv(unlabelled, index=False)
    assert new
    out = tmp_path / "out" / "preds.csv"
    result = invoke("predict", trained["run_dir"], "--data", str(unlabelled), "--output", str(out))
    assert result.code == 0, result.stderr
    preds = pd.read_csv(out)
    assert list(preds.columns) == ["prediction", "proba_no", "proba_yes"]
    assert len(preds) == 40
    assert set(preds["prediction"]) <= {"no", "yes"}
    assert ((preds["proba_no"] + preds["proba_yes"]) - 1).abs().max() < 1e-9
    # the label is the most probable class
    assert (preds["prediction"] == preds[["proba_no", "proba_yes"]].idxmax(axis=1).str[6:]).all()
    # without --output: CSV on stdout, same values
    stdout = invoke("predict", trained["run_dir"], "--data", str(unlabelled))
    from io import StringIO

    pd.testing.assert_frame_equal(pd.read_csv(StringIO(stdout.stdout)), preds)
    # parquet output
    pq = tmp_path / "preds.parquet"
    assert invoke("predict", trained["run_dir"], "--data", str(unlabelled), "-o", str(pq)).code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(pq), preds)


def test_predict_keeps_target_column_when_present(trained: dict, churn_csv: Path) -> None:
    result = invoke("predict", trained["run_dir"], "--data", str(churn_csv))
    assert result.stdout.splitlines()[0] == "target,prediction,proba_no,proba_yes"


def _one_error_line(stderr: str) -> str:
    # progress lines (✓ data loaded ...) may come first; the error itself is one line
    lines = [line for line in stderr.strip().splitlines() if line.strip() and not line.startswith("✓")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--task", "classification", "--data", "sklearn:iris", "--framework", "sklearnn"],
     "Unknown framework 'sklearnn'. Did you mean 'sklearn'?"),
    (["train", "--task", "clasification", "--data", "sklearn:iris"],
     "Unknown task 'clasification'. Did you mean 'classification'"),
    (["train", "--task", "classification", "--data", "sklearn:iris", "--model", "RandomForestClassifer"],
     "Unknown estimator 'RandomForestClassifer'. Did you mean 'RandomForestClassifier'"),
    (["train", "--task", "classification", "--data", "missing.csv", "--target", "y"],
     "Data file 'missing.csv' does not exist."),
    (["train", "--task", "classification", "--data", "sklearn:irs"],
     "Unknown dataset 'sklearn:irs'. Did you mean 'sklearn:iris'"),
    (["train", "--task", "classification", "--data", "CHURN", "--target", "chrun"],
     "Column 'chrun' (target) is not in the data. Did you mean 'churn'?"),
    (["train", "--task", "regression", "--framework", "hello", "--data", "sklearn:diabetes"],
     "Framework 'hello' does not support task 'regression'"),
    (["train", "--data", "sklearn:iris"], "No task given"),
    (["train", "--task", "classification", "--data", "sklearn:iris", "split.method=kfld"],
     "Unknown split method 'kfld'. Did you mean 'kfold'"),
    (["train", "--task", "classification", "--data", "sklearn:iris", "metrics=[acuracy]"],
     "Unknown metric for task 'classification' 'acuracy'. Did you mean 'accuracy'"),
    (["train", "--task", "classification", "--data", "sklearn:iris", "--model", "sklearn.nope.Model"],
     "Cannot import 'sklearn.nope'"),
    (["predict", "runs/nope", "--data", "sklearn:iris"], "Run 'runs/nope' does not exist"),
    (["estimators", "list", "--type", "clasifier"], "Unknown estimator type 'clasifier'."),
])
def test_expected_errors_exit_2_in_one_line(args: list[str], message: str, churn_csv: Path) -> None:
    args = [str(churn_csv) if a == "CHURN" else a for a in args]
    result = invoke(*args)
    assert result.code == 2, result
    assert message in _one_error_line(result.stderr)
    assert not run_dirs(Path("runs"))


def test_debug_shows_the_traceback(cli) -> None:
    plain = cli("train", "--task", "classification", "--data", "missing.csv", "--target", "y")
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr
    debug = cli("--debug", "train", "--task", "classification", "--data", "missing.csv", "--target", "y")
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "DataError" in debug.stderr


def test_bad_plugin_option_is_a_usage_error() -> None:
    result = invoke("-p", "hello", "tasks", "list")
    assert result.code == 2
    assert "no:NAME" in result.stderr


def test_json_outputs_are_strict_json(tmp_path: Path) -> None:
    # DBSCAN with its default eps puts every wine row in one cluster: internal metrics are
    # undefined (NaN); --json must still print valid JSON (null), not NaN
    result = invoke("train", "--task", "clustering", "--data", "sklearn:wine", "--model", "DBSCAN", "--json")
    assert result.code == 0, result.stderr
    payload = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert payload["metrics"]["silhouette"] is None
    listed = json.loads(invoke("runs", "list", "--json").stdout,
                        parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert listed[0]["metrics"]["silhouette"] is None


def test_data_formats(tmp_path: Path) -> None:
    from helpers import churn_frame

    frame = churn_frame(80)
    frame.to_parquet("churn.parquet")
    frame.to_csv("churn.tsv", sep="\t", index=False)
    results = {}
    for name in ("churn.parquet", "churn.tsv"):
        result = invoke("train", "--task", "classification", "--data", name, "--target", "churn", "--json",
                        "model.params.n_estimators=10")
        assert result.code == 0, result.stderr
        results[name] = json.loads((Path(result.json()["run_dir"]) / "meta.json").read_text())["data"]
    assert results["churn.parquet"]["rows"] == results["churn.tsv"]["rows"] == 80
    assert results["churn.parquet"]["features"] == results["churn.tsv"]["features"]
    Path("churn.xlsx").write_text("not really")
    bad = invoke("train", "--task", "classification", "--data", "churn.xlsx", "--target", "churn")
    assert bad.code == 2 and "use a .csv, .tsv or .parquet file" in bad.stderr
    Path("empty.csv").write_text("a,b\n")
    empty = invoke("train", "--task", "classification", "--data", "empty.csv", "--target", "b")
    assert empty.code == 2 and "holds no rows" in empty.stderr


def test_every_bundled_dataset_loads_with_its_target() -> None:
    from kampai.core.data import read_frame
    from kampai.core.host import get_host

    for name in ("sklearn:iris", "sklearn:wine", "sklearn:breast_cancer", "sklearn:digits",
                 "sklearn:diabetes", "sklearn:linnerud"):
        dataset = get_host().datasets().get(name)
        frame = read_frame(name)
        assert dataset.target in frame.columns and len(frame) >= 20, name
        if dataset.task == "classification":
            assert isinstance(frame[dataset.target].iloc[0], str)  # class names, not codes
        else:
            assert frame[dataset.target].dtype.kind == "f"
