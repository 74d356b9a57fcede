"""A config is data, not code (issue 22, 1.3 and 1.4): a class named in a config must be a
model class, checked before anything calls it; the config a study records is signed like a
run; an MLflow model whose flavour files were rewritten is refused by kampai's commands.

Every attack runs for real: an Optuna database edited with sqlite3, an experiment YAML, a
pickle that writes a marker file when it is loaded; the marker must stay absent.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from helpers import invoke
from test_serve import free_port

pytest.importorskip("optuna")

IRIS = """
name: iris-tree
task: classification
data: {path: "sklearn:iris"}
split: {method: stratified_kfold, folds: 3}
model:
  estimator: DecisionTreeClassifier
  search:
    max_depth: {type: int, low: 1, high: 4}
    criterion: [gini, entropy]
tune: {plots: false}
output: {runs_dir: runs}
"""


class Payload:
    """Unpickling this writes the marker file: proof that code ran (as tests/test_security.py)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (builtins.exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _evil_step(marker: Path) -> dict[str, Any]:
    return {"class": "os.system", "command": f"touch {marker}"}


@pytest.fixture
def study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A genuine study, tuned here: its database file."""
    monkeypatch.setenv("KAMPAI_BLOCK_PLUGINS", "mlflow")
    (tmp_path / "iris.yaml").write_text(IRIS)
    code, _out, err = invoke("tune", "-c", "iris.yaml", "--trials", "2", "--sampler", "random", "-q",
                             "--storage", ".kampai/optuna.db")  # a SQLite file, edited below
    assert code == 0, err
    db = tmp_path / ".kampai" / "optuna.db"
    assert db.is_file()
    return db


def _attrs(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as con:
        return {k: json.loads(v) for k, v in con.execute("SELECT key, value_json FROM study_user_attributes")}


def _set_attr(db: Path, key: str, value: Any) -> None:
    with sqlite3.connect(db) as con:
        con.execute("UPDATE study_user_attributes SET value_json = ? WHERE key = ?", (json.dumps(value), key))


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    return " ".join(" ".join(lines).split())


# -- 1.3 (a): the study database ---------------------------------------------------------------


def test_genuine_study_trains_from_study(study: Path) -> None:
    import optuna
    import yaml

    code, out, err = invoke("train", "--from-study", "iris-tree", "--json", "-q")
    assert code == 0, err
    config = yaml.safe_load((Path(json.loads(out)["run_dir"]) / "config.yaml").read_text())
    best = optuna.load_study(study_name="iris-tree", storage=f"sqlite:///{study}").best_params
    assert {k: config["model"]["params"][k] for k in best} == best
    assert "kampai_signature" in _attrs(study)


def test_code_put_into_a_study_database_does_not_run(study: Path, tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    meta = _attrs(study)["kampai"]
    meta["config"]["model"]["preprocess"] = {"num": {"steps": {"x": _evil_step(marker)}}}
    _set_attr(study, "kampai", meta)  # the signature beside it is left as it was
    code, _out, err = invoke("train", "--from-study", "iris-tree", "-q")
    assert code == 2 and not marker.exists()
    line = _one_error_line(err)
    assert "does not match its signature" in line and "-c CONFIG" in line


@pytest.mark.parametrize("forged", ["missing", "made-up", "other-key"])
def test_an_unsigned_or_forged_study_record_is_refused(study: Path, tmp_path: Path, forged: str) -> None:
    marker = tmp_path / "MARKER"
    attrs = _attrs(study)
    meta = attrs["kampai"]
    meta["config"]["model"]["preprocess"] = {"num": {"steps": {"x": _evil_step(marker)}}}
    _set_attr(study, "kampai", meta)
    if forged == "missing":
        with sqlite3.connect(study) as con:
            con.execute("DELETE FROM study_user_attributes WHERE key = 'kampai_signature'")
        expected = "is not signed"
    elif forged == "made-up":  # looks right, this key's id, a value nobody computed with the key
        _set_attr(study, "kampai_signature", {**attrs["kampai_signature"], "value": "0" * 64})
        expected = "does not match its signature"
    else:
        _set_attr(study, "kampai_signature", {**attrs["kampai_signature"], "key_id": "0123456789ab"})
        expected = "signed with another key"
    code, _out, err = invoke("train", "--from-study", "iris-tree", "-q")
    assert code == 2 and not marker.exists()
    assert expected in _one_error_line(err)


def test_best_params_are_checked_against_the_signed_space(study: Path, tmp_path: Path) -> None:
    """The trials' params are data: a param outside the search space, edited into Optuna's
    own table, is refused (with -c CONFIG too, then against that config's model.search)."""
    with sqlite3.connect(study) as con:  # every trial, so the best one has it
        con.execute("UPDATE trial_params SET param_name = 'min_samples_leaf' WHERE param_name = 'max_depth'")
    for extra in ([], ["-c", "iris.yaml"]):
        code, _out, err = invoke("train", "--from-study", "iris-tree", "-q", *extra)
        assert code == 2 and "not in the study's search space" in _one_error_line(err), err


def test_resuming_a_study_signs_its_record_again(study: Path) -> None:
    """A study recorded unsigned (an older kampai) is signed again when `runner tune` resumes
    it with the user's own config; then --from-study trusts it."""
    with sqlite3.connect(study) as con:
        con.execute("DELETE FROM study_user_attributes WHERE key = 'kampai_signature'")
    assert invoke("train", "--from-study", "iris-tree", "-q").code == 2
    code, _out, err = invoke("tune", "-c", "iris.yaml", "--trials", "3", "--sampler", "random", "-q")
    assert code == 0, err
    assert "kampai_signature" in _attrs(study)
    assert invoke("train", "--from-study", "iris-tree", "-q").code == 0


# -- 1.3 (b): classes named by a config ----------------------------------------------------------


@pytest.mark.parametrize(("override", "key"), [
    ("model.preprocess={num: {steps: {x: {class: os.system, command: 'touch MARKER'}}}}",
     "model.preprocess.num.steps.x"),
    ("model.preprocess={num: {steps: {x: {class: builtins.exec, source: \"open('MARKER','w')\"}}}}",
     "model.preprocess.num.steps.x"),
    ("model.preprocess={num: {steps: {x: {class: subprocess.Popen, args: [touch, MARKER]}}}}",
     "model.preprocess.num.steps.x"),
    ("model.preprocess={num: {steps: {x: {class: os.path, a: 1}}}}", "model.preprocess.num.steps.x"),
])
def test_a_config_cannot_name_a_callable(tmp_path: Path, override: str, key: str) -> None:
    code, _out, err = invoke("train", "--task", "classification", "--data", "sklearn:iris", "--runs-dir",
                             "runs", "-q", override)
    assert code == 2 and not (tmp_path / "MARKER").exists()
    line = _one_error_line(err)
    assert line.startswith(f"Error: {key}:") and "--include MODULE" in line, line
    assert not list(Path(tmp_path).glob("runs/*/meta.json"))


def test_an_experiment_yaml_with_a_command_step_does_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    import yaml

    config = yaml.safe_load(IRIS)
    config["model"]["preprocess"] = {"num": {"steps": {"x": _evil_step(marker)}}}
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(config))
    for command in (["train", "-c", "exp.yaml"], ["tune", "-c", "exp.yaml", "--trials", "1"]):
        code, _out, err = invoke(*command, "-q")
        assert code == 2 and not marker.exists(), err
        line = _one_error_line(err)
        assert "'os.system' is not a scikit-learn estimator or transformer class (it is a function)" in line


def test_model_estimator_must_be_a_model_class(tmp_path: Path) -> None:
    for name in ("os.system", "builtins.exec", "subprocess.Popen"):
        code, _out, err = invoke("train", "--task", "classification", "--data", "sklearn:iris", "--model", name,
                                 "--runs-dir", "runs", "-q")
        assert code == 2 and _one_error_line(err).startswith("Error: model.estimator:"), err
    # a real estimator class by import path, and a user's class brought with --include, still work
    (tmp_path / "mysteps.py").write_text(
        "from sklearn.base import BaseEstimator, TransformerMixin\n"
        "class Double(TransformerMixin, BaseEstimator):\n"
        "    def fit(self, X, y=None):\n        self.n_features_in_ = X.shape[1]\n        return self\n"
        "    def transform(self, X):\n        return X * 2\n")
    code, _out, err = invoke("train", "--task", "classification", "--data", "sklearn:iris", "--runs-dir", "runs",
                             "--model", "sklearn.linear_model.LogisticRegression", "--include", "mysteps", "-q",
                             "model.preprocess={num: {steps: {scale: Double}}}")
    assert code == 0, err


# -- 1.4: the MLflow flavour files -----------------------------------------------------------------

REWRITTEN = """\
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.0
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.9.1
"""


@pytest.fixture
def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Path]:
    """A run registered as iris@production in a real MLflow store in tmp_path: the run, and
    the version's artifact folder (what someone who can write the artifact store edits)."""
    pytest.importorskip("mlflow")
    from kampai import api
    from mlflow_helpers import cli, client, store

    monkeypatch.delenv("KAMPAI_TRACKING__ENABLED", raising=False)
    run = api.train(task="classification", data="sklearn:iris", model="GaussianNB", verbose=False,
                    tracking={"enabled": False})
    assert cli("registry", "register", str(run.run_dir), "--name", "iris", "--stage", "production") == 0
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store(tmp_path))
    folder = Path(client(store(tmp_path)).get_model_version("iris", "1").source.removeprefix("file://"))
    assert (folder / "MLmodel").is_file() and (folder / "manifest.json").is_file()
    return run, folder


def _kampai_refuses(tmp_path: Path, marker: Path, expected: str) -> None:
    """predict, evaluate, the Python API and serve on iris@production: exit 2 / RunError."""
    import subprocess
    import sys

    from kampai import api
    from kampai.core.errors import RunError
    from mlflow_helpers import cli

    for command in (["predict", "iris@production", "--data", "sklearn:iris", "-o", "p.csv"],
                    ["evaluate", "iris@1", "--data", "sklearn:iris"]):
        assert cli(*command) == 2, command
    with pytest.raises(RunError, match=expected):
        _ = api.load_run("iris@production").model
    try:  # a server that started would never return: a timeout is a failure too
        served = subprocess.run([sys.executable, "-m", "kampai", "serve", "iris@production",
                                 "--port", str(free_port())],
                                capture_output=True, text=True, cwd=tmp_path, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("runner serve started serving a tampered model")
    assert served.returncode == 2 and expected in " ".join(served.stderr.split()), served.stderr
    assert "Traceback" not in served.stderr and not Path(tmp_path, "p.csv").exists()
    assert not marker.exists()


def test_a_rewritten_mlmodel_with_a_planted_pickle_is_refused(registered: tuple[Any, Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import pickle

    import mlflow.pyfunc

    _run, folder = registered
    marker = tmp_path / "MARKER"
    (folder / "model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    (folder / "MLmodel").write_text(REWRITTEN)
    # the attack is real: MLflow's own loader follows the rewritten MLmodel and runs the pickle
    # (outside kampai's control: it never calls kampai; docs/tracking.md says so)
    mlflow.pyfunc.load_model("models:/iris/1")
    assert marker.exists()
    marker.unlink()
    capsys.readouterr()
    _kampai_refuses(tmp_path, marker, "loads with 'mlflow.sklearn', not kampai's loader")
    assert "Refusing to load it" in capsys.readouterr().err


def test_unsealed_or_edited_flavour_files_are_refused(registered: tuple[Any, Path], tmp_path: Path) -> None:
    """MLmodel still names kampai's loader, but the seal is gone, or requirements.txt changed."""
    _run, folder = registered
    marker = tmp_path / "MARKER"
    seal = folder / "kampai-seal.json"
    sealed = seal.read_text()
    seal.unlink()
    _kampai_refuses(tmp_path, marker, "not sealed")
    seal.write_text(sealed)
    with open(folder / "requirements.txt", "a") as handle:
        handle.write("evil-package==1.0\n")
    _kampai_refuses(tmp_path, marker, "'requirements.txt' is not the one kampai wrote")


def test_kampais_pyfunc_loader_verifies_the_run_before_loading(registered: tuple[Any, Path],
                                                               tmp_path: Path) -> None:
    """mlflow.pyfunc.load_model on a genuine kampai MLmodel calls kampai's loader, which
    verifies the manifest with the key first: a planted model file never loads."""
    import joblib
    import mlflow.pyfunc

    from kampai.core.errors import RunError

    _run, folder = registered
    genuine = mlflow.pyfunc.load_model("models:/iris/1")  # the honest path still works
    from kampai.plugin.io import read_frame

    assert len(genuine.predict(read_frame("sklearn:iris").drop(columns="target"))) == 150
    marker = tmp_path / "MARKER"
    joblib.dump(Payload(marker), folder / "model" / "model.joblib")
    with pytest.raises(RunError, match=r"model/model\.joblib"):
        mlflow.pyfunc.load_model("models:/iris/1")
    assert not marker.exists()


def test_a_graph_model_by_import_path_must_be_a_torch_module(tmp_path: Path) -> None:
    """The PyG plugin resolves its own model type (torch.nn.Module) by import path: anything
    else is refused before it is called."""
    pytest.importorskip("torch_geometric")
    marker = tmp_path / "MARKER"
    for name in ("subprocess:Popen", "os:system"):
        code, _out, err = invoke("train", "--task", "node-classification", "--framework", "pyg", "--data",
                                 "networkx:karate", "--model", name, "--runs-dir", "runs", "-q",
                                 f"model.params.args=[touch,{marker}]")
        line = _one_error_line(err)
        assert code == 2 and "is not a torch.nn.Module class" in line, line
        assert not marker.exists()


def test_a_vision_architecture_is_a_registered_torchvision_model() -> None:
    """fast.ai vision's ``model.params.arch`` names one of torchvision's model builders, never
    another callable of the module (``get_model``, ``load_state_dict_from_url``)."""
    pytest.importorskip("torchvision")
    from kampai.plugin import ConfigError
    from kampai.plugins.fastai.vision import architecture

    assert callable(architecture("resnet18"))
    for name in ("get_model", "load_state_dict_from_url", "get_weight"):
        with pytest.raises(ConfigError, match="Unknown torchvision architecture"):
            architecture(name)
