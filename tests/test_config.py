"""One place for all parameters: layering, validation with did-you-mean, ``runner config show``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from helpers import invoke, no_tracker  # noqa: F401  (autouse)
from kampai.core import config as config_mod
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
    assert set(result.json()["metrics"]) == {"rmse", "mae", "r2", "baseline_rmse", "baseline_mae", "baseline_r2"}


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


def _script(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults_yaml_and_the_key_tables_are_generated_from_the_declarations() -> None:
    module = _script("config_reference")
    assert (ROOT / "src/kampai/conf/defaults.yaml").read_text() == module.defaults_yaml(), (
        "defaults.yaml is stale: run scripts/config_reference.py")
    text = (ROOT / "docs" / "config.md").read_text()
    from kampai.core import schema

    sections = [s.key for s in schema.CORE_SETTINGS if "." not in s.key and isinstance(s.default, dict)]
    assert text.count("generated by scripts/config_reference.py") == len(sections) + 1  # + the top level
    assert module.rewrite(text) == text, "docs/config.md is stale: run scripts/config_reference.py"


def test_core_keys_are_declared_once_and_checked_from_the_declaration() -> None:
    from kampai.core import schema
    from kampai.core.host import get_host

    settings = get_host().settings()
    folds = settings.get("split.folds")
    assert (folds.type, folds.default, folds.minimum, folds.owner) == (int, 5, 2, "core")
    assert folds is not None and folds.help
    declared = {s.key for s in schema.CORE_SETTINGS}
    assert {"seed", "split.folds", "tune.cache_max_mb", "tune.trials", "output.runs_dir"} <= declared
    # the loaded values are those declarations' defaults
    cfg = load_config(None, {"task": "classification"})
    assert cfg["split"]["folds"] == folds.default
    with pytest.raises(ConfigError, match=r"split.test_size' must be a fraction in \(0, 1\) or a row count"):
        load_config(None, {"task": "regression"}, ["split.test_size=1.5"])


def test_load_returns_typed_sections(tmp_path: Path) -> None:
    exp = write(tmp_path / "exp.yaml", "task: classification\nsplit: {folds: 3}\ntune: {cache_max_mb: 64}\n")
    cfg = load_config(exp, {}, ["tracking.enabled=false"] if _has("tracking") else [])
    assert cfg.split.folds == 3 and isinstance(cfg.split.folds, int)
    assert cfg.tune.cache_max_mb == 64
    assert cfg.seed == 42 and cfg.task == "classification"
    assert cfg.model.params == {}  # free-form: the mapping itself
    assert cfg["split"]["folds"] == 3 and isinstance(cfg, dict)  # still the merged mapping
    assert cfg.to_dict() == cfg and type(cfg.to_dict()) is dict
    if _has("tracking"):
        assert cfg.section("tracking").enabled is False
    with pytest.raises(AttributeError, match="Did you mean 'folds'"):
        _ = cfg.split.fold
    with pytest.raises(ConfigError, match="no section 'trackin'"):
        cfg.section("trackin")
    # null = the declared default, not a None every reader must guard
    assert load_config(None, {"task": "classification"}, ["split.folds=null"]).split.folds == 5
    assert yaml.safe_load(config_mod.to_yaml(cfg))["split"]["folds"] == 3


def _has(section: str) -> bool:
    from kampai.core.host import get_host

    return any(s.key.startswith(section + ".") for s in get_host().settings().items())


def test_a_splitter_reads_a_typed_split_filled_from_the_declarations() -> None:
    from kampai.core.typed import section_of

    split = section_of("split", {"folds": 3})
    assert (split.folds, split.test_size, split.shuffle) == (3, 0.2, True)
    assert section_of("split", {"holdout": 2}).holdout == 2  # a task's own key is kept
    with pytest.raises(ConfigError, match=r"Config key 'split.folds' must be >= 2, got 1"):
        section_of("split", {"folds": 1})


@pytest.mark.parametrize("trials", ["0", "-1"])
def test_tune_trials_has_one_rule(trials: str) -> None:
    """The CLI, the config and the tuner agree: 1 or more, one line naming the key (exit 2)."""
    code, out, err = invoke("tune", "--task", "classification", "--data", "sklearn:iris", "--trials", trials)
    assert code == 2, (out, err)
    assert f"Config key 'tune.trials' must be >= 1, got {trials}." in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    # the same rule from a config or an override
    with pytest.raises(ConfigError, match=r"tune.trials' must be >= 1, got 0"):
        load_config(None, {"task": "classification"}, ["tune.trials=0"])


def test_cache_info_shows_the_configured_cap(tmp_path: Path) -> None:
    import json

    folder = tmp_path / "foldcache"
    exp = write(tmp_path / "exp.yaml", f"tune: {{cache_max_mb: 64, cache_dir: '{folder}'}}\n")
    code, out, err = invoke("cache", "info", "-c", str(exp), "--json")
    assert code == 0, err
    row = next(r for r in json.loads(out) if r["cache"] == "tune")
    assert row["cap_bytes"] == 64 * 1024 * 1024 and row["path"] == str(folder.resolve())
    code, out, err = invoke("cache", "info", "-c", str(exp), "--json", "tune.cache_max_mb=0.5")
    assert json.loads(out)[0]["cap_bytes"] == 512 * 1024
    code, out, _ = invoke("cache", "info", "--json")  # no config: the declared default
    assert json.loads(out)[0]["cap_bytes"] == 2048 * 1024 * 1024


@pytest.mark.parametrize(("given", "parsed"), [(None, "auto"), ("auto", "auto"), ("CPU", "cpu"), ("cuda", "cuda"),
                                               ("cuda:1", "cuda:1"), (" mps ", "mps")])
def test_device_grammar_parses_once(given: str | None, parsed: str) -> None:
    from kampai.core.contract import BuildContext
    from kampai.core.devices import Device

    device = Device.parse(given)
    assert device == parsed and isinstance(device, str)
    assert BuildContext(device=given or "auto").device == parsed  # the build context holds a Device
    assert device.kind == parsed.partition(":")[0]


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "cuda1", "tpu", ""])
def test_device_grammar_refuses_the_rest(bad: str) -> None:
    from kampai.core.devices import Device, torch_device

    with pytest.raises(ConfigError, match="must be auto, cpu, cuda, cuda:N or mps"):
        Device.parse(bad)
    pytest.importorskip("torch")
    with pytest.raises(ConfigError, match="must be auto, cpu, cuda, cuda:N or mps"):
        torch_device(bad)  # the SDK's reading is the same grammar ('gpu' was its own)


def test_a_missing_device_fails_at_the_config_check_in_one_line(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    args = ("--framework", "torch", "--task", "classification", "--data", "sklearn:iris")
    code, out, err = invoke("config", "show", *args, "device=mps")
    assert code == 2, (out, err)
    assert err.strip() == ("Error: device=mps but torch sees no MPS device (Apple silicon with macOS 12.3+); "
                           "use --device cpu or auto.")
    code, _, err = invoke("train", *args, "--device", "mps", "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and "torch sees no MPS device" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # refused before anything ran
    if not torch.cuda.is_available():
        code, _, err = invoke("config", "show", *args, "device=cuda:0")
        assert code == 2 and "torch sees no CUDA device" in err


@pytest.mark.parametrize(("value", "on"), [(None, False), ("", False), ("0", False), ("false", False),
                                           (" OFF ", False), ("no", False), ("1", True), ("yes", True),
                                           ("true", True)])
def test_env_flags_have_one_reading(monkeypatch: pytest.MonkeyPatch, value: str | None, on: bool) -> None:
    from kampai.core.envflags import env_flag
    from kampai.core.host import Host

    if value is None:
        monkeypatch.delenv("KAMPAI_STRICT_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("KAMPAI_STRICT_PLUGINS", value)
    assert env_flag("KAMPAI_STRICT_PLUGINS") is on
    assert Host().strict is on  # the host reads it the same way


def test_plugin_options_do_not_outlive_their_command(tmp_path: Path) -> None:
    """A plugin option given to one command (--text, the tasks plugin's) is not in the next
    config built in the same process."""
    from kampai.core.cli import options

    code, _, err = invoke("train", "--text", "body", "--task", "classification", "--data", str(tmp_path / "none.csv"))
    assert code == 2, err  # the command ran (and failed on its data) with the option set
    cfg = options.build_config(None, "classification", None, "sklearn:iris", None, None, None, [])
    assert cfg["data"]["text"] is None


def test_the_environment_is_a_layer_of_the_same_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exp = write(tmp_path / "exp.yaml", "task: classification\nsplit: {folds: 4}\n")
    monkeypatch.setenv("KAMPAI_SPLIT__FOLDS", "3")
    monkeypatch.setenv("KAMPAI_TUNE__CACHE_MAX_MB", "64")
    cfg = load_config(exp)
    assert (cfg.split.folds, cfg.tune.cache_max_mb) == (3, 64)  # the environment beats the YAML
    assert load_config(exp, {}, ["split.folds=6"]).split.folds == 6  # overrides beat it
    monkeypatch.setenv("KAMPAI_SPLIT__FOLDS", "1")
    with pytest.raises(ConfigError, match=r"split.folds' must be >= 2, got 1"):  # checked as any layer
        load_config(exp)
    monkeypatch.delenv("KAMPAI_SPLIT__FOLDS")
    monkeypatch.setenv("KAMPAI_TUNE__CACHE_MAX_MBB", "3")
    with pytest.raises(ConfigError, match=r"Unknown config key 'tune\.cache_max_mbb'\. Did you mean 'cache_max_mb'"):
        load_config(exp)
    monkeypatch.delenv("KAMPAI_TUNE__CACHE_MAX_MBB")
    monkeypatch.setenv("KAMPAI_CACHE_DIR", str(tmp_path))  # no '__': not a config key
    assert load_config(exp).split.folds == 4


def test_the_environment_may_hold_keys_of_plugins_a_command_does_not_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test suite's switches are keys of the plugins' declared settings, set through the
    environment (tests/conftest.py): a command that blocks the plugin ignores them."""
    from kampai.core import host

    exp = write(tmp_path / "exp.yaml", "task: classification\n")
    monkeypatch.delenv("KAMPAI_BLOCK_PLUGINS")  # helpers.no_tracker blocks mlflow in this file
    host.reset()
    monkeypatch.setenv("KAMPAI_TRACKING__ENABLED", "false")
    monkeypatch.setenv("KAMPAI_REPORT__AFTER_TRAIN", "off")
    cfg = load_config(exp)
    assert cfg.section("tracking").enabled is False and cfg.section("report").after_train is False
    monkeypatch.setenv("KAMPAI_TRACKING__ENABLD", "false")  # a typo in a declared section: an error
    with pytest.raises(ConfigError, match=r"Unknown config key 'tracking\.enabld'\. Did you mean 'enabled'"):
        load_config(exp)
    monkeypatch.delenv("KAMPAI_TRACKING__ENABLD")
    monkeypatch.setenv("KAMPAI_BLOCK_PLUGINS", "mlflow,insight")
    host.reset()
    cfg = load_config(exp)  # no tracking or report section here, and no unknown-key error
    assert "tracking" not in cfg and "report" not in cfg
    host.reset()


def test_load_checks_against_the_registry_it_is_given() -> None:
    """config.load takes the schema as an argument (hosted.load_config passes the host's)."""
    from kampai.core import schema
    from kampai.core.settings import Setting, SettingRegistry

    registry = SettingRegistry.core(schema.CORE_SETTINGS)
    registry.current_plugin = "mine"
    registry.add(Setting("mine.level", 1, "a key of my own", type=int, minimum=0))
    cfg = config_mod.load(None, {"task": "regression"}, ["mine.level=3"], settings=registry)
    assert cfg.section("mine").level == 3 and "data" in cfg and "tracking" not in cfg
    with pytest.raises(ConfigError, match=r"Unknown config key 'minee'.*Plugins not loaded, whose keys are "
                                          r"unknown: other \(blocked\)"):
        config_mod.load(None, {}, ["minee.level=3"], settings=registry, unloaded=["other (blocked)"])
    with pytest.raises(ConfigError, match=r"mine.level' must be >= 0"):
        config_mod.load(None, {}, ["mine.level=-1"], settings=registry)
