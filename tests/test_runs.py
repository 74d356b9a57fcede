"""Run folders: their contents, atomic writes, refusing tampered models, reloading."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import sklearn
import yaml

import kampai
from helpers import churn_frame, invoke, leftovers, no_tracker, run_dirs  # noqa: F401  (autouse)
from kampai.core.errors import DataError, RunError
from kampai.core.runs import dir_size, list_runs

FAILING = '''
from sklearn.base import BaseEstimator, ClassifierMixin


class Boom(ClassifierMixin, BaseEstimator):
    """Fails in fit, as a real estimator does on data it cannot handle."""

    def __init__(self, error="runtime"):
        self.error = error

    def fit(self, X, y):
        if self.error == "interrupt":
            raise KeyboardInterrupt
        raise RuntimeError("boom: this estimator cannot fit")

    def predict(self, X):
        return [0] * len(X)
'''


def train(config=None, **kwargs):
    kwargs.setdefault("verbose", False)
    return kampai.train(config, **kwargs)


@pytest.fixture
def run(tmp_path: Path):
    churn_frame(120).to_csv("churn.csv", index=False)
    return train(task="classification", data="churn.csv", target="churn", name="churn-rf",
                 params={"n_estimators": 15})


def test_run_folder_contents(run) -> None:
    run_dir = Path(run.run_dir)
    assert run_dir.parent == Path("runs") and run_dir.name == run.run_id
    assert "churn-rf" in run.run_id  # the config's name is in the id
    assert {"config.yaml", "metrics.json", "meta.json", "predictions.csv", "model"} <= {
        p.name for p in run_dir.iterdir()}
    assert any((run_dir / "model").iterdir())
    assert not [p for p in leftovers(Path("runs")) if p.name.startswith(".")]


def test_config_yaml_is_the_resolved_config(run) -> None:
    cfg = yaml.safe_load((Path(run.run_dir) / "config.yaml").read_text())
    assert cfg == run.config
    assert cfg["task"] == "classification" and cfg["data"]["target"] == "churn"
    assert cfg["split"]["method"] == "stratified" and cfg["split"]["seed"] == 42
    assert cfg["model"]["estimator"] == "RandomForestClassifier"
    assert cfg["model"]["params"] == {"n_estimators": 15}


def test_meta_json(run) -> None:
    meta = json.loads((Path(run.run_dir) / "meta.json").read_text())
    assert meta["run_id"] == run.run_id
    assert (meta["task"], meta["framework"], meta["estimator"]) == ("classification", "sklearn",
                                                                     "RandomForestClassifier")
    assert 0 < meta["fit_seconds"] <= meta["total_seconds"]
    assert meta["model_size_bytes"] > 1000
    assert meta["model_size_bytes"] == dir_size(Path(run.run_dir) / "model")
    versions = meta["versions"]
    assert versions["scikit-learn"] == sklearn.__version__ and versions["pandas"] == pd.__version__
    assert versions["kampai"] == kampai.__version__ and versions["python"].count(".") == 2
    assert meta["data"]["rows"] == 120 and meta["data"]["source"] == "churn.csv"
    assert meta["data"]["features"] == ["age", "income", "city", "plan", "customer", "day"]
    assert len(meta["data"]["fingerprint"]) == 16
    assert meta["created"].endswith("+00:00")


def test_data_fingerprint_follows_the_content(run) -> None:
    same = train(task="classification", data="churn.csv", target="churn", params={"n_estimators": 5})
    assert same.meta["data"]["fingerprint"] == run.meta["data"]["fingerprint"]
    frame = pd.read_csv("churn.csv")
    frame.loc[0, "income"] += 1
    frame.to_csv("churn2.csv", index=False)
    changed = train(task="classification", data="churn2.csv", target="churn", params={"n_estimators": 5})
    assert changed.meta["data"]["fingerprint"] != run.meta["data"]["fingerprint"]
    # a DataFrame with the same content has the same fingerprint as its file
    df_run = train(task="classification", data=pd.read_csv("churn.csv"), target="churn",
                   params={"n_estimators": 5})
    assert df_run.meta["data"]["fingerprint"] == run.meta["data"]["fingerprint"]


def test_git_info(tmp_path: Path) -> None:
    outside = train(task="classification", data="sklearn:iris", params={"n_estimators": 5},
                    output={"runs_dir": str(tmp_path / "out")})
    git = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True)
    if git.returncode != 0:
        assert outside.meta["git"] is None
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    result = subprocess.run(
        [str(Path(__import__("sys").executable)), "-m", "kampai", "train", "--task", "classification",
         "--data", "sklearn:iris", "--json", "model.params.n_estimators=5"],
        cwd=repo, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    meta = json.loads((repo / json.loads(result.stdout)["run_dir"] / "meta.json").read_text())
    assert meta["git"]["commit"] == head
    assert meta["git"]["dirty"] is True  # runs/ is untracked


def test_predictions_csv_holds_the_test_split(run) -> None:
    preds = pd.read_csv(Path(run.run_dir) / "predictions.csv")
    assert len(preds) == 24  # 20% of 120
    assert list(preds.columns) == ["row", "target", "prediction", "proba_no", "proba_yes"]
    frame = pd.read_csv("churn.csv")
    assert (frame.loc[preds["row"], "churn"].to_numpy() == preds["target"].to_numpy()).all()


def test_reloaded_run_predicts_what_training_predicted(run) -> None:
    preds = pd.read_csv(Path(run.run_dir) / "predictions.csv")
    frame = pd.read_csv("churn.csv").loc[preds["row"]]
    again = kampai.load_run(run.run_dir)
    assert again.metrics == run.metrics and again.run_id == run.run_id
    new = again.predict(frame.drop(columns="churn"))
    assert list(new["prediction"]) == list(preds["prediction"])
    assert new["proba_yes"].to_numpy() == pytest.approx(preds["proba_yes"].to_numpy())
    # and through the CLI
    frame.drop(columns="churn").to_csv("test_rows.csv", index=False)
    assert invoke("predict", str(run.run_dir), "--data", "test_rows.csv", "-o", "p.csv").code == 0
    assert list(pd.read_csv("p.csv")["prediction"]) == list(preds["prediction"])
    # evaluate on the test rows reproduces the run's metrics
    model_metrics = {k: v for k, v in run.metrics.items() if not k.startswith("baseline_")}
    assert again.evaluate(frame) == pytest.approx(model_metrics)


def test_predict_refuses_data_without_the_training_columns(run) -> None:
    frame = pd.read_csv("churn.csv").drop(columns=["churn", "income"])
    with pytest.raises(DataError, match="Column 'income'"):
        kampai.load_run(run.run_dir).predict(frame)


def test_tampered_model_is_refused(run) -> None:
    model_file = next(p for p in (Path(run.run_dir) / "model").iterdir() if p.suffix == ".joblib")
    with model_file.open("ab") as handle:
        handle.write(b"tampered")
    result = invoke("predict", str(run.run_dir), "--data", "churn.csv")
    assert result.code == 2
    assert "Refusing to load it" in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(RunError):
        _ = kampai.load_run(run.run_dir).model


def test_verify_manifest_has_no_required_keyword(run) -> None:
    """A manifest is always required: the 1.x ``required=`` keyword (ignored since 0.2) is gone."""
    from kampai.plugin.runs import verify_manifest

    verify_manifest(run.run_dir)
    with pytest.raises(TypeError, match="required"):
        verify_manifest(run.run_dir, required=False)  # type: ignore[call-arg]
    (Path(run.run_dir) / "manifest.json").unlink()
    with pytest.raises(RunError, match="manifest"):
        verify_manifest(run.run_dir)


def test_incomplete_runs_are_refused(run, tmp_path: Path) -> None:
    (Path(run.run_dir) / "metrics.json").unlink()
    result = invoke("evaluate", str(run.run_dir), "--data", "churn.csv")
    assert result.code == 2 and "metrics.json is missing" in result.stderr
    with pytest.raises(RunError, match="does not exist"):
        kampai.load_run(tmp_path / "nowhere")


@pytest.fixture
def boom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "boom_models.py").write_text(textwrap.dedent(FAILING))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "boom_models.Boom"


def test_failed_fit_leaves_nothing(boom: str) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        train(task="classification", data="sklearn:iris", model=boom)
    assert leftovers(Path("runs")) == []


def test_interrupted_run_leaves_nothing(boom: str) -> None:
    with pytest.raises(KeyboardInterrupt):
        train(task="classification", data="sklearn:iris", model=boom, params={"error": "interrupt"})
    assert leftovers(Path("runs")) == []


def test_failed_run_from_cli_leaves_nothing(tmp_path: Path) -> None:
    churn_frame(60).to_csv("churn.csv", index=False)
    # strings reach an estimator that needs numbers: the fit raises on bad data
    result = invoke("train", "--task", "classification", "--data", "churn.csv", "--target", "churn",
                    "model.preprocess=false")
    assert result.code == 2 and "cannot use this data" in result.stderr
    assert leftovers(Path("runs")) == []


def test_no_predictions_when_disabled() -> None:
    run = train(task="regression", data="sklearn:diabetes", model="Ridge", output={"predictions": False})
    assert not (Path(run.run_dir) / "predictions.csv").exists()


def test_runs_list_skips_temporary_and_broken_folders(run) -> None:
    (Path("runs") / ".tmp-half-written").mkdir()
    broken = Path("runs") / "broken-run"
    broken.mkdir()
    (broken / "meta.json").write_text("{not json")
    assert [r.run_id for r in list_runs("runs")] == [run.run_id]
    listed = invoke("runs", "list", "--json").json()
    assert [r["run_id"] for r in listed] == [run.run_id]


def test_runs_list_is_newest_first(run) -> None:
    second = train(task="regression", data="sklearn:diabetes", model="Ridge")
    ids = [r["run_id"] for r in invoke("runs", "list", "--json").json()]
    assert set(ids) == {run.run_id, second.run_id}
    created = [r.meta["created"] for r in list_runs("runs")]
    assert created == sorted(created, reverse=True)
    assert run_dirs(Path("runs")) == sorted(Path("runs") / i for i in ids)


def test_new_data_needs_no_split_only_columns(tmp_path: Path) -> None:
    """group/time columns and dropped columns served training only: new data may lack them."""
    frame = churn_frame(100)
    frame.to_csv("churn.csv", index=False)
    grouped = train(task="classification", data="churn.csv", target="churn", params={"n_estimators": 5},
                    overrides=["data.group=customer", "data.drop=[day]", "split.method=group"])
    new = frame.drop(columns=["customer", "day"])
    preds = kampai.load_run(grouped.run_dir).predict(new.drop(columns="churn"))
    assert len(preds) == 100
    assert set(kampai.load_run(grouped.run_dir).evaluate(new)) >= {"accuracy", "roc_auc"}
    timed = train(task="regression", data="churn.csv", target="income", model="Ridge",
                  overrides=["data.time=day", "split.method=time", "data.drop=[churn]"])
    assert len(timed.predict(frame.drop(columns=["day", "churn", "income"]))) == 100
    result = invoke("evaluate", str(timed.run_dir), "--data", "churn.csv", "--json")
    assert result.code == 0, result.stderr
    assert set(result.json()) == {"rmse", "mae", "r2"}
