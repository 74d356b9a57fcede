"""One place for all parameters: layering, validation with did-you-mean, ``runner config show``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from helpers import invoke, no_tracker  # noqa: F401  (autouse)
from kampai.core.errors import ConfigError
from kampai.core.hosted import load_config


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_fill_every_key(tmp_path: Path) -> None:
    cfg = load_config(None, {"task": "classification"})
    assert cfg["task"] == "classification"
    assert cfg["framework"] == "sklearn"
    assert cfg["seed"] == 42
    assert cfg["split"]["test_size"] == 0.2
    assert cfg["split"]["folds"] == 5
    assert cfg["output"]["runs_dir"] == "runs"
    assert cfg["model"]["params"] == {}


def test_layering_yaml_then_flags_then_overrides(tmp_path: Path) -> None:
    exp = write(tmp_path / "exp.yaml", """
task: regression
seed: 7
data: {path: sklearn:diabetes}
model:
  estimator: Ridge
  params: {alpha: 0.5, fit_intercept: false}
split: {method: kfold, folds: 4}
""")
    # YAML alone
    cfg = load_config(exp)
    assert (cfg["task"], cfg["seed"], cfg["model"]["estimator"]) == ("regression", 7, "Ridge")
    assert cfg["model"]["params"] == {"alpha": 0.5, "fit_intercept": False}
    # flags beat the YAML
    cfg = load_config(exp, {"model.estimator": "Lasso", "data.path": "other.csv"})
    assert cfg["model"]["estimator"] == "Lasso"
    assert cfg["data"]["path"] == "other.csv"
    assert cfg["split"]["folds"] == 4  # untouched sibling keys survive the merge
    # dotted overrides beat flags; mappings merge key by key
    cfg = load_config(exp, {"model.estimator": "Lasso"},
                          ["model.estimator=ElasticNet", "model.params.alpha=2", "split.folds=3"])
    assert cfg["model"]["estimator"] == "ElasticNet"
    assert cfg["model"]["params"] == {"alpha": 2, "fit_intercept": False}
    assert cfg["split"] == {**cfg["split"], "method": "kfold", "folds": 3}
    # None flags (an option not given) do not erase the YAML
    cfg = load_config(exp, {"task": None, "model.estimator": None})
    assert cfg["task"] == "regression" and cfg["model"]["estimator"] == "Ridge"


def test_overrides_are_typed_like_yaml() -> None:
    cfg = load_config(None, {}, ["model.params.max_depth=5", "split.shuffle=false",
                                     "split.test_size=0.3", "metrics=[accuracy,f1_macro]",
                                     "model.params.criterion=entropy", "data.target=null"])
    params = cfg["model"]["params"]
    assert params["max_depth"] == 5 and isinstance(params["max_depth"], int)
    assert params["criterion"] == "entropy"
    assert cfg["split"]["shuffle"] is False
    assert cfg["split"]["test_size"] == pytest.approx(0.3)
    assert cfg["metrics"] == ["accuracy", "f1_macro"]
    assert cfg["data"]["target"] is None


@pytest.mark.parametrize(("text", "overrides", "key", "suggestion"), [
    ("taks: classification\n", [], "taks", "task"),
    ("split: {fold: 3}\n", [], "split.fold", "folds"),
    ("data: {taget: y}\n", [], "data.taget", "target"),
    ("{}\n", ["ouput.runs_dir=x"], "ouput", "output"),
    ("{}\n", ["split.metod=kfold"], "split.metod", "method"),
    ("{}\n", ["model.estimatr=Ridge"], "model.estimatr", "estimator"),
])
def test_unknown_keys_name_the_closest(tmp_path: Path, text: str, overrides: list[str],
                                       key: str, suggestion: str) -> None:
    """Typos are caught when the config is resolved (a task/framework may add keys)."""
    exp = write(tmp_path / "exp.yaml", text)
    result = invoke("config", "show", "-c", str(exp), "--task", "classification",
                    "--data", "sklearn:iris", *overrides)
    assert result.code == 2
    assert f"Unknown config key '{key}'" in result.stderr
    assert f"Did you mean '{suggestion}'" in result.stderr
    assert "Valid keys here:" in result.stderr
    # the same through the Python API
    import kampai
    from kampai.core.errors import KampaiError

    with pytest.raises(KampaiError, match=f"Did you mean '{suggestion}'"):
        kampai.train(exp, task="classification", data="sklearn:iris", overrides=overrides,
                     verbose=False)
    assert not Path("runs").exists() or not any(Path("runs").iterdir())


def test_section_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'split' must be a mapping"):
        load_config(write(tmp_path / "a.yaml", "split: 5\n"))
    with pytest.raises(ConfigError, match=r"'model\.params' must be a mapping"):
        load_config(write(tmp_path / "b.yaml", "model: {params: [1, 2]}\n"))


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(write(tmp_path / "bad.yaml", "task: [classification\n  seed: 1\n"))
    with pytest.raises(ConfigError, match="must hold a mapping at the top level"):
        load_config(write(tmp_path / "list.yaml", "- task\n- seed\n"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match=r"must look like 'section\.key=value'"):
        load_config(None, {}, ["model.params.max_depth"])


def test_bad_yaml_from_cli_is_one_line_exit_2(tmp_path: Path) -> None:
    exp = write(tmp_path / "bad.yaml", "task: [classification\n  seed: 1\n")
    result = invoke("train", "-c", str(exp))
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Config file")
    assert "Traceback" not in result.stderr


def test_framework_model_keys_are_checked(tmp_path: Path) -> None:
    result = invoke("config", "show", "--task", "classification", "--data", "sklearn:iris",
                    "model.preproces=false")
    assert result.code == 2
    assert "Unknown config key 'model.preproces' for framework 'sklearn'" in result.stderr
    assert "Did you mean 'preprocess'?" in result.stderr
    # the example third-party framework declares no extra model keys
    result = invoke("config", "show", "--task", "classification", "--framework", "hello",
                    "--data", "sklearn:iris", "model.preprocess=false")
    assert result.code == 2
    assert "Unknown config key 'model.preprocess' for framework 'hello'" in result.stderr


def test_config_show_prints_the_resolved_config() -> None:
    result = invoke("config", "show", "-c", str(ROOT / "conf/experiments/iris.yaml"),
                    "--data", "sklearn:wine", "split.folds=3", "model.params.max_depth=2")
    assert result.code == 0, result.stderr
    cfg = yaml.safe_load(result.stdout)
    assert cfg["name"] == "iris-rf"                       # from the YAML
    assert cfg["data"]["path"] == "sklearn:wine"          # from the flag
    assert cfg["data"]["target"] == "target"              # the bundled dataset's target
    assert cfg["split"] == {**cfg["split"], "method": "stratified_kfold", "folds": 3, "seed": 42}
    assert cfg["model"]["params"]["max_depth"] == 2       # from the override
    assert cfg["model"]["params"]["n_estimators"] == 200  # from the YAML
    assert cfg["model"]["search"]["max_depth"] == {"type": "int", "low": 2, "high": 12}
    assert cfg["output"]["runs_dir"] == "runs"            # from the packaged defaults


def test_config_show_fills_task_defaults() -> None:
    result = invoke("config", "show", "--task", "classification", "--data", "sklearn:iris")
    cfg = yaml.safe_load(result.stdout)
    assert cfg["split"]["method"] == "stratified"             # the task's default split
    assert cfg["model"]["estimator"] == "RandomForestClassifier"  # the framework's default
    result = invoke("config", "show", "--task", "clustering", "--data", "sklearn:wine")
    cfg = yaml.safe_load(result.stdout)
    assert cfg["split"]["method"] == "none" and cfg["model"]["estimator"] == "KMeans"


def test_config_show_without_task_still_validates() -> None:
    result = invoke("config", "show", "seed=3")
    assert result.code == 0
    assert yaml.safe_load(result.stdout)["seed"] == 3
    result = invoke("config", "show", "sed=3")
    assert result.code == 2 and "Did you mean 'seed'?" in result.stderr


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "conf/experiments").glob("*.yaml")))
def test_shipped_experiment_configs_resolve(name: str) -> None:
    result = invoke("config", "show", "-c", str(ROOT / "conf/experiments" / name))
    assert result.code == 0, result.stderr
    cfg = yaml.safe_load(result.stdout)
    assert cfg["task"] and cfg["model"]["estimator"] and cfg["split"]["method"]


def test_empty_sections_mean_the_defaults(tmp_path: Path) -> None:
    """``model:`` with all its children commented out is YAML null."""
    exp = write(tmp_path / "exp.yaml", "task: regression\ndata: {path: 'sklearn:diabetes'}\nmodel:\n"
                                       "split:\noutput:\n")
    cfg = load_config(exp)
    assert cfg["model"]["params"] == {} and cfg["split"]["folds"] == 5 and cfg["output"]["runs_dir"] == "runs"
    result = invoke("train", "-c", str(exp), "--json", "model.params.n_estimators=10")
    assert result.code == 0, result.stderr
    assert set(result.json()["metrics"]) == {"rmse", "mae", "r2"}


@pytest.mark.parametrize(("name", "overrides", "metric", "low"), [
    ("diabetes.yaml", ["model.params.max_iter=50"], "r2", 0.3),
    ("wine-clusters.yaml", ["model.params.n_init=3"], "ari", 0.8),
])
def test_shipped_experiment_configs_train(name: str, overrides: list[str], metric: str, low: float) -> None:
    result = invoke("train", "-c", str(ROOT / "conf/experiments" / name), "--json", *overrides)
    assert result.code == 0, result.stderr
    assert result.json()["metrics"][metric] > low


@pytest.mark.parametrize(("override", "phrase"), [
    ("model.params.n_estimatrs=3", "Unknown parameter 'model.params.n_estimatrs'. Did you mean 'n_estimators'?"),
    ("model.search.max_deptx=[1, 2]", "Unknown parameter 'model.search.max_deptx'. Did you mean 'max_depth'?"),
    ("model.preprocess.num.steps.imputer.strategi=mean",
     "unexpected keyword argument 'strategi'. Did you mean 'strategy'?"),
    ("model.search.max_depth={type: int, low: 3, high: 1}", "low (3) is above high (1)"),
])
def test_config_show_checks_the_model_section(override: str, phrase: str) -> None:
    """docs/config.md: `config show` validates every key, model params and search included."""
    result = invoke("config", "show", "--task", "classification", "--data", "sklearn:iris",
                    "--model", "RandomForestClassifier", override)
    assert result.code == 2, result.stdout
    assert phrase in " ".join(result.stderr.split()) and "Traceback" not in result.stderr


def test_config_show_says_what_tune_searches_and_what_stays_fixed() -> None:
    result = invoke("config", "show", "--task", "classification", "--data", "sklearn:iris",
                    "--model", "RandomForestClassifier", "model.params.n_estimators=10")
    assert result.code == 0
    notes = [line for line in result.stdout.splitlines() if line.startswith("# ")]
    (searched,) = [n.rsplit("): ", 1)[1].split(", ") for n in notes if n.startswith("# searched by runner tune")]
    assert "max_depth" in searched and "n_estimators" not in searched
    assert "# fixed (model.params): n_estimators=10" in notes
    assert yaml.safe_load(result.stdout)["model"]["params"] == {"n_estimators": 10}  # still valid YAML


def test_an_override_replaces_a_search_entry_of_the_yaml(tmp_path: Path) -> None:
    exp = tmp_path / "exp.yaml"
    exp.write_text("task: classification\ndata: {path: 'sklearn:iris'}\nmodel:\n"
                   "  estimator: DecisionTreeClassifier\n"
                   "  search:\n    max_depth: {type: int, low: 1, high: 8, log: true}\n")
    result = invoke("config", "show", "-c", str(exp), "model.search.max_depth={type: int, low: 2, high: 8, step: 2}")
    assert result.code == 0, result.stderr
    assert yaml.safe_load(result.stdout)["model"]["search"]["max_depth"] == {
        "type": "int", "low": 2, "high": 8, "step": 2}
