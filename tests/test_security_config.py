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
    code, _out, err = invoke("tune", "-c", "iris.yaml", "--trials", "2", "--sampler", "random", "-q")
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
        assert "os.system' is a function" in _one_error_line(err)


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
