"""DVC for real: runner dvc init in a temporary git repository, then dvc repro, dvc exp run -S,
dvc exp show and dvc metrics diff (dvc from PyPI, a local cache, no remote)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import invoke

pytest.importorskip("dvc")

CONFIG = """\
name: iris-dvc
task: classification
data:
  path: sklearn:iris
split:
  method: stratified
model:
  estimator: RandomForestClassifier
  params:
    n_estimators: 10
    max_depth: 4
metrics: [accuracy, f1_macro]
"""


def sh(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)  # runner and dvc of this environment
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
           "OMP_NUM_THREADS": "1", "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    env.pop("KAMPAI_REPORT__AFTER_TRAIN", None)  # the train stage writes report.html into the tracked run folder
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return sh(sys.executable, "-m", "dvc", *args, cwd=cwd, check=check)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    sh("git", "init", "-q", cwd=tmp_path)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "iris.yaml").write_text(CONFIG)
    return tmp_path


def test_dvc_init_outside_git_and_conflicting_stage(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text(CONFIG)
    code, _, err = invoke("dvc", "init", "-c", "x.yaml")
    assert code == 2 and "not inside a git repository" in err and "git init" in err
    sh("git", "init", "-q", cwd=tmp_path)
    (tmp_path / "dvc.yaml").write_text("stages:\n  train:\n    cmd: python train.py\n")
    code, _, err = invoke("dvc", "init", "-c", "x.yaml")
    assert code == 2 and "stage 'train' that kampai did not write" in err and "rename it" in err
    assert not (tmp_path / "params.yaml").exists()  # nothing half-written


def test_dvc_init_keeps_user_stages_and_validates(repo: Path) -> None:
    (repo / "dvc.yaml").write_text("stages:\n  prepare:\n    cmd: echo prepared > prepared.txt\n"
                                   "    outs: [prepared.txt]\nplots:\n- mine.csv:\n    x: a\n")
    result = invoke("dvc", "init", "-c", "conf/iris.yaml", "--evaluate", "sklearn:iris")
    assert result.code == 0, result.stderr
    pipeline = yaml.safe_load((repo / "dvc.yaml").read_text())
    assert list(pipeline["stages"]) == ["prepare", "train", "evaluate", "learning_curve"]
    confusion = {"template": "confusion", "x": "prediction", "y": "target",
                 "title": "iris-dvc: confusion matrix (test rows)"}
    assert pipeline["plots"] == [{"mine.csv": {"x": "a"}}, {"dvc/iris-dvc/train/predictions.csv": confusion}]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["model"]["params"] == {"n_estimators": 10, "max_depth": 4}
    assert set(params) >= {"data", "split", "model", "metrics"} and "output" not in params
    assert (repo / ".dvc").is_dir()
    # a second init updates kampai's stages in place, still keeping the user's
    assert invoke("dvc", "init", "-c", "conf/iris.yaml", "--rows", "").code == 0
    again = yaml.safe_load((repo / "dvc.yaml").read_text())
    assert list(again["stages"]) == ["prepare", "train", "evaluate", "learning_curve"]
    assert again["plots"] == pipeline["plots"]  # ours replaced, not repeated; the user's kept
    (repo / "conf" / "bad.yaml").write_text(CONFIG.replace("split:", "splitt:"))
    code, _, err = invoke("dvc", "init", "-c", "conf/bad.yaml", "--force")
    assert code == 2 and "Did you mean 'split'" in err


@pytest.mark.slow
def test_dvc_repro_exp_run_and_metrics_diff(repo: Path) -> None:
    sh(sys.executable, "-m", "kampai", "dvc", "init", "-c", "conf/iris.yaml", "--rows", "50%,100%", cwd=repo)
    first = dvc("repro", cwd=repo)
    assert "Running stage 'train'" in first.stdout
    metrics = json.loads((repo / "dvc/iris-dvc/metrics.json").read_text())
    run_dir = repo / "dvc/iris-dvc/train"
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert (run_dir / "model").is_dir() and (run_dir / "manifest.json").exists()
    assert json.loads((run_dir / "meta.json").read_text())["estimator"] == "RandomForestClassifier"
    assert (run_dir / "report.html").read_text().count("data:image/png") == 2  # tracked with the run
    plots = json.loads(dvc("plots", "show", "--json", cwd=repo).stdout)["data"]
    assert {"dvc/iris-dvc/train/predictions.csv", "dvc/iris-dvc/learning_curve/learning_curve.csv",
            "dvc/iris-dvc/learning_curve/learning_curve.png"} <= set(plots)  # confusion matrix + curve
    assert len(list((repo / "runs").iterdir())) == 1  # the usual history copy as well
    again = dvc("repro", cwd=repo)
    assert "Running stage" not in again.stdout and "up to date" in again.stdout
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "baseline", cwd=repo)

    dvc("exp", "run", "-S", "model.params.max_depth=1", cwd=repo)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["model"]["params"]["max_depth"] == 1  # reached kampai with no code edit
    shown = json.loads(dvc("exp", "show", "--json", cwd=repo).stdout)
    text = json.dumps(shown)
    assert "accuracy" in text and "max_depth" in text
    diff = json.loads(dvc("metrics", "diff", "--json", "--all", cwd=repo).stdout)
    accuracy = diff["dvc/iris-dvc/metrics.json"]["accuracy"]
    assert accuracy["old"] == pytest.approx(metrics["accuracy"])
    assert accuracy["new"] < accuracy["old"]  # stumps do worse on iris than depth 4

    bad = dvc("exp", "run", "-S", "+split.metod=random", cwd=repo, check=False)
    assert bad.returncode != 0
    assert "Unknown config key 'split.metod'" in bad.stdout + bad.stderr
    assert "Did you mean 'method'" in bad.stdout + bad.stderr


@pytest.mark.slow
def test_dvc_tune_stage_feeds_train(repo: Path) -> None:
    pytest.importorskip("optuna")  # the tune stage (the tune extra)
    search = "  search:\n    max_depth: {type: int, low: 1, high: 6}\n"
    searched = CONFIG.replace("    max_depth: 4\n", "    max_depth: 4\n" + search)
    (repo / "conf" / "iris.yaml").write_text(searched + "tune:\n  trials: 3\n")
    sh(sys.executable, "-m", "kampai", "dvc", "init", "-c", "conf/iris.yaml", "--tune", "--rows", "", cwd=repo)
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    assert stages["train"]["deps"] == ["dvc/iris-dvc/tune"] and "--from-study tune" in stages["train"]["cmd"]
    out = dvc("repro", cwd=repo).stdout
    assert out.index("Running stage 'tune'") < out.index("Running stage 'train'")
    study = repo / "dvc/iris-dvc/tune"
    best = json.loads((study / "best.json").read_text())
    assert (study / "optuna.db").exists() and (study / "params.png").exists()
    trained = yaml.safe_load((repo / "dvc/iris-dvc/train/config.yaml").read_text())["model"]["params"]
    assert trained["max_depth"] == best["params"]["max_depth"]  # the study's best, on top of params.yaml
    assert trained["n_estimators"] == 10
    assert "up to date" in dvc("repro", cwd=repo).stdout
