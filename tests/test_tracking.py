"""MLflow tracking as an observer plugin: the embedded store, switches, unreachable servers.

Real MLflow, in-process (its import is paid once); each test has its own project folder.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from helpers import free_port
from kampai import api
from mlflow_helpers import cli, client, runs_of, store

IRIS = {"task": "classification", "data": "sklearn:iris"}


@pytest.fixture(autouse=True)
def _tracking_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAMPAI_TRACKING__ENABLED", raising=False)  # tests/conftest.py sets it for the others


def test_train_is_an_mlflow_run_in_the_embedded_store(tmp_path: Path) -> None:
    subprocess.run("git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -q "
                   "--allow-empty -m init", shell=True, cwd=tmp_path, check=True)
    run = api.train(**IRIS, model="LogisticRegression", verbose=False,
                    params={"C": 0.5, "preprocess__num__imputer__strategy": "mean"},
                    output={"runs_dir": "runs"})
    record = json.loads((run.run_dir / "tracking.json").read_text())["mlflow"]
    uri = store(tmp_path)
    assert list(record) == [uri]  # the default store is embedded, under the project
    logged = client(uri).get_run(record[uri]["run_id"])
    params, metrics, tags = logged.data.params, logged.data.metrics, logged.data.tags
    # the nested config, flattened; pipeline params keep their __ names
    assert params["model.params.C"] == "0.5"
    assert params["model.params.preprocess__num__imputer__strategy"] == "mean"
    assert params["estimator.model__C"] == "0.5"
    assert params["estimator.preprocess__num__imputer__strategy"] == "mean"
    assert params["split.method"] == "stratified"
    assert metrics["accuracy"] == pytest.approx(run.metrics["accuracy"])
    assert metrics["fit_seconds"] > 0 and metrics["model_size_bytes"] == run.meta["model_size_bytes"]
    assert tags["kampai.data.fingerprint"] == run.meta["data"]["fingerprint"]
    assert tags["kampai.version.scikit-learn"] and tags["kampai.version.kampai"]
    assert tags["mlflow.source.git.commit"] == run.meta["git"]["commit"]
    assert tags["kampai.git.dirty"] in ("true", "false")
    assert tags["kampai.run_id"] == run.run_id
    artifacts = {a.path for a in client(uri).list_artifacts(logged.info.run_id, "run")}
    assert {"run/config.yaml", "run/metrics.json", "run/meta.json", "run/model", "run/manifest.json"} <= artifacts
    assert (run.run_dir / "config.yaml").exists()  # the run folder stays the source of truth


def test_no_track_flag_and_blocked_plugin_log_nothing(tmp_path: Path, monkeypatch) -> None:
    assert cli("train", "--task", "classification", "--data", "sklearn:iris", "--model", "GaussianNB",
               "-q", "--no-track") == 0
    assert cli("-p", "no:mlflow", "train", "--task", "classification", "--data", "sklearn:iris",
               "--model", "GaussianNB", "-q") == 0
    monkeypatch.setenv("KAMPAI_TRACKING__ENABLED", "false")  # the switch for CI and test suites
    api.train(**IRIS, model="GaussianNB", verbose=False)
    assert not (tmp_path / ".kampai" / "mlflow.db").exists()
    assert len(list((tmp_path / "runs").iterdir())) == 3
    assert not list((tmp_path / "runs").glob("*/tracking*.json"))


def test_unreachable_server_keeps_the_run_and_sync_pushes_it(tmp_path: Path, capsys) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    assert cli("train", "--task", "classification", "--data", "sklearn:iris", "--model", "GaussianNB",
               "-q", "--tracking-uri", dead) == 0
    err = capsys.readouterr().err
    assert err.count("Warning") == 1 and "runner runs sync" in err and "unreachable" in err
    (run_dir,) = (tmp_path / "runs").iterdir()
    marker = json.loads((run_dir / "tracking-pending.json").read_text())
    assert marker["uri"] == dead and (run_dir / "model").is_dir()
    # still unreachable: sync says so and keeps the marker
    assert cli("runs", "sync") == 2
    assert (run_dir / "tracking-pending.json").exists()
    capsys.readouterr()
    # pushed elsewhere (or to the same server once it is back)
    uri = store(tmp_path)
    assert cli("runs", "sync", "--tracking-uri", uri) == 0
    assert run_dir.name in capsys.readouterr().out
    assert not (run_dir / "tracking-pending.json").exists()
    (logged,) = runs_of(uri)
    assert logged.data.tags["kampai.run_id"] == run_dir.name
    assert cli("runs", "sync") == 0
    assert "Nothing to push" in capsys.readouterr().out


def test_tracking_uri_from_config_and_env(tmp_path: Path, monkeypatch) -> None:
    env_store = "sqlite:///" + str(tmp_path / "env.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env_store)
    run = api.train(**IRIS, model="GaussianNB", verbose=False, tracking={"experiment": "iris-exp"})
    assert list(json.loads((run.run_dir / "tracking.json").read_text())["mlflow"]) == [env_store]
    assert client(env_store).get_experiment_by_name("iris-exp") is not None
    cfg_store = "sqlite:///" + str(tmp_path / "cfg.db")
    run = api.train(**IRIS, model="GaussianNB", verbose=False, tracking={"uri": cfg_store})
    assert list(json.loads((run.run_dir / "tracking.json").read_text())["mlflow"]) == [cfg_store]


def test_tuning_study_is_one_parent_run_trials_only_when_asked(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    from kampai.core.tuning import tune

    uri = store(tmp_path)
    base = {**IRIS, "model": "LogisticRegression", "params": {"max_iter": 200},
            "overrides": ["model.search.C={low: 0.01, high: 10.0, log: true}"]}
    cfg = api.config(**base, tune={"trials": 3, "plots": False, "study": "quick", "refit": True})
    result = tune(cfg, verbose=False)
    (parent,) = runs_of(uri, "study")
    assert parent.data.tags["kampai.study"] == "quick"
    assert parent.data.metrics["n_trials"] == 3
    assert parent.data.metrics["best_value"] == pytest.approx(result.best_value)
    assert float(parent.data.params["best.C"]) == pytest.approx(result.best_params["C"])
    # the trial table; with --refit also what the tuner wrote after the study (best.json ...)
    assert {a.path for a in client(uri).list_artifacts(parent.info.run_id, "study")} >= {
        "study/trials.csv", "study/best.json"}
    assert runs_of(uri, "trial") == []  # search mode: no run per trial by default
    (refit,) = runs_of(uri, "run")  # the --refit run is linked to its study
    assert refit.data.tags["kampai.study"] == "quick"
    assert refit.data.tags["mlflow.parentRunId"] == parent.info.run_id
    # registry mode: the study's trained run goes to the registry and is served from it
    assert cli("registry", "register", "--study", "quick", "--name", "tuned", "--stage", "production") == 0
    assert api.load_run("tuned@production").run_id == result.run.run_id
    # trials as child runs when asked
    cfg = api.config(**base, tune={"trials": 2, "plots": False, "study": "children"},
                     tracking={"trials": True})
    tune(cfg, verbose=False)
    parent = next(r for r in runs_of(uri, "study") if r.data.tags["kampai.study"] == "children")
    children = runs_of(uri, "trial")
    assert len(children) == 2
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}


def test_new_embedded_stores_are_copied_from_a_cached_empty_one(tmp_path: Path) -> None:
    from kampai.plugins.mlflow import store as mlflow_store

    mlflow_store.client(store(tmp_path / "a")).search_experiments()  # created (or already seeded)
    assert mlflow_store._template().is_file()
    seeded = mlflow_store.client(store(tmp_path / "b"))
    (default,) = seeded.search_experiments()
    assert default.artifact_location == str((tmp_path / "b" / ".kampai" / "mlartifacts" / "0").resolve())
    assert seeded.get_experiment(seeded.create_experiment("works")).name == "works"


def test_a_study_tuned_while_the_server_is_down_is_synced_later(tmp_path: Path, capsys) -> None:
    pytest.importorskip("optuna")
    from kampai.core.tuning import tune

    dead = f"http://127.0.0.1:{free_port()}"
    cfg = api.config(**IRIS, model="GaussianNB", overrides=["model.search.var_smoothing=[1e-9, 1e-6]"],
                     tune={"trials": 2, "plots": False, "study": "offline"}, tracking={"uri": dead})
    tune(cfg, verbose=False)
    assert capsys.readouterr().err.count("Warning") == 1
    folder = tmp_path / "studies" / "offline"
    assert json.loads((folder / "tracking-pending.json").read_text())["kind"] == "study"
    uri = store(tmp_path)
    assert cli("runs", "sync", "--tracking-uri", uri) == 0
    assert not (folder / "tracking-pending.json").exists()
    (parent,) = runs_of(uri, "study")
    artifacts = {a.path for a in client(uri).list_artifacts(parent.info.run_id, "study")}
    assert "study/trials.csv" in artifacts and "study/best.json" in artifacts
    best = json.loads((folder / "best.json").read_text())
    assert parent.data.metrics["best_value"] == pytest.approx(best["value"])
    assert float(parent.data.params["best.var_smoothing"]) == pytest.approx(best["params"]["var_smoothing"])


def test_the_push_runs_in_the_background_and_nothing_is_lost(tmp_path: Path, monkeypatch) -> None:
    """The default: `runner train` hands the finished run to a background push (it does not
    wait for MLflow); a failed push stays pending for `runner runs sync`, which waits for a
    push in progress and never pushes a run twice."""
    import time

    monkeypatch.delenv("KAMPAI_TRACKING__BACKGROUND")
    monkeypatch.setenv("KAMPAI_TRACKING__LINGER", "0")  # the pusher exits once the queue is empty
    assert cli("train", "--task", "classification", "--data", "sklearn:iris", "--model", "GaussianNB", "-q") == 0
    (folder,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    deadline = time.time() + 120
    while (folder / "tracking-pending.json").exists() and time.time() < deadline:
        time.sleep(0.3)
    assert not (folder / "tracking-pending.json").exists(), (tmp_path / ".kampai" / "mlflow-push.log").read_text()
    uri = store(tmp_path)
    assert [r.data.tags["kampai.run_id"] for r in runs_of(uri)] == [folder.name]
    assert cli("runs", "sync") == 0 and len(runs_of(uri)) == 1  # nothing pushed twice
    # a background push that fails keeps the run pending, with the reason
    down = f"http://127.0.0.1:{free_port()}"
    assert cli("train", "--task", "classification", "--data", "sklearn:iris", "--model", "GaussianNB", "-q",
               "--tracking-uri", down) == 0
    late = next(p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".") and p != folder)
    deadline = time.time() + 120
    while time.time() < deadline:
        marker = json.loads((late / "tracking-pending.json").read_text())
        if "queued" not in marker["error"]:
            break
        time.sleep(0.3)
    assert "queued" not in marker["error"] and marker["uri"] == down
    assert cli("runs", "sync", "--tracking-uri", uri) == 0
    assert len(runs_of(uri)) == 2 and not (late / "tracking-pending.json").exists()


def test_a_study_is_pushed_in_the_background_after_the_study(tmp_path: Path, monkeypatch) -> None:
    """`runner tune` (default tracking) opens no MLflow store while trials run: the finished
    study folder (trial log, best.json, plots) is handed to the background push."""
    import time

    pytest.importorskip("optuna")
    monkeypatch.delenv("KAMPAI_TRACKING__BACKGROUND")
    monkeypatch.setenv("KAMPAI_TRACKING__LINGER", "0")  # the pusher exits once the queue is empty
    assert cli("tune", "--task", "classification", "--data", "sklearn:iris", "--model", "GaussianNB",
               "model.search.var_smoothing=[1e-9, 1e-6]", "--trials", "2", "--study", "bg", "-q") == 0
    folder = tmp_path / "studies" / "bg"
    deadline = time.time() + 120
    while (folder / "tracking-pending.json").exists() and time.time() < deadline:
        time.sleep(0.3)
    assert not (folder / "tracking-pending.json").exists(), (tmp_path / ".kampai" / "mlflow-push.log").read_text()
    (parent,) = runs_of(store(tmp_path), "study")
    assert parent.data.tags["kampai.study"] == "bg" and parent.data.tags["kampai.metric"] == "accuracy"
    assert parent.data.metrics["n_trials"] >= 2
    best = json.loads((folder / "best.json").read_text())
    assert parent.data.metrics["best_value"] == pytest.approx(best["value"])
    artifacts = {a.path for a in client(store(tmp_path)).list_artifacts(parent.info.run_id, "study")}
    assert {"study/trials.csv", "study/best.json", "study/history.png"} <= artifacts


def test_no_lock_file_is_left_in_a_tracked_run_folder(tmp_path: Path) -> None:
    """The push lock holds the folder itself: a tracked run (pushed, then synced again)
    holds no ``.lock`` file beside its signed files."""
    assert cli("train", "--task", "classification", "--data", "sklearn:iris", "--model", "GaussianNB", "-q") == 0
    (folder,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    assert (folder / "tracking.json").exists()
    assert cli("runs", "sync") == 0
    assert not [p.name for p in folder.rglob("*") if ".lock" in p.name]
