"""Tuning: search spaces, the Python API and the CLI, resume, cache, refit, bad input.

Real scikit-learn on bundled data, tiny models and few trials: fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("optuna")  # the tune extra

from kampai.core.errors import ConfigError, KampaiError, TuneError
from kampai.core.tuning import space as space_mod

HERE = Path(__file__).resolve().parent

IRIS = """
name: iris-tree
task: classification
data: {path: "sklearn:iris"}
split: {method: stratified_kfold, folds: 3}
model:
  estimator: DecisionTreeClassifier
  search:
    max_depth: {type: int, low: 1, high: 6}
    criterion: [gini, entropy]
metrics: [accuracy, f1_macro]
tune: {plots: false}
"""


@pytest.fixture(autouse=True)
def _no_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    # observers from other plugins are not what these tests measure
    monkeypatch.setenv("KAMPAI_BLOCK_PLUGINS", "mlflow")


@pytest.fixture
def iris_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "iris.yaml"
    path.write_text(IRIS)
    return path


def _tune(config: Path | None = None, **kwargs):
    import kampai

    return kampai.tune(config, verbose=False, **kwargs)


def _cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from kampai.core.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


# -- search spaces -----------------------------------------------------------------------


def test_space_forms_and_grid() -> None:
    space = space_mod.parse({
        "n": {"type": "int", "low": 1, "high": 3},
        "lr": {"low": 0.01, "high": 1.0, "log": True},
        "penalty": ["l1", "elasticnet"],
        "ratio": {"low": 0.0, "high": 1.0, "step": 0.5, "when": {"penalty": "elasticnet"}},
    })
    assert [d.type for d in space.dims] == ["int", "float", "categorical", "float"]
    assert space.names.index("ratio") > space.names.index("penalty")
    small = space_mod.parse({k: v for k, v in space.to_config().items() if k != "lr"})
    grid = small.grid()
    # n (3) x [l1 (ratio absent) + elasticnet x ratio (3)] = 3 x 4
    assert len(grid) == 12
    assert len({json.dumps(g, sort_keys=True) for g in grid}) == 12
    assert all("ratio" not in g for g in grid if g["penalty"] == "l1")


@pytest.mark.parametrize(("search", "fragment"), [
    ({"a": {"type": "int", "low": 1, "hihg": 3}}, "Did you mean 'high'"),
    ({"a": {"type": "integer", "low": 1, "high": 3}}, "unknown type 'integer'"),
    ({"a": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "log scale needs low > 0"),
    ({"a": {"type": "int", "low": 5, "high": 1}}, "low (5) is above high (1)"),
    ({"a": {"type": "categorical", "choices": []}}, "non-empty list"),
    ({"a": {"low": 0.0, "high": 1.0, "when": {"b": "x"}}}, "'when' names 'b'"),
    ({"a": 3}, "expected a mapping"),
])
def test_space_errors(search: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        space_mod.parse(search)
    assert fragment in str(info.value)
    assert "model.search.a" in str(info.value)


def test_grid_needs_float_step() -> None:
    with pytest.raises(TuneError, match="needs a step"):
        space_mod.parse({"a": {"low": 0.0, "high": 1.0}}).grid()


# -- Python API: a study, its log, hooks, resume ---------------------------------------------


def test_tune_python_api_logs_hooks_and_resumes(iris_yaml: Path) -> None:
    from kampai import hookimpl
    from kampai.core.host import get_host

    seen: dict[str, list] = {"before": [], "trial": [], "after": []}

    class Observer:
        @hookimpl
        def kampai_before_tune(self, ctx, study):
            seen["before"].append((ctx.run_id, study.study_name, ctx.state["metric"]))

        @hookimpl
        def kampai_after_trial(self, ctx, trial, metrics):
            seen["trial"].append((trial.number, trial.state.name, metrics))

        @hookimpl
        def kampai_after_tune(self, ctx, study, best):
            seen["after"].append(best.number if best is not None else None)

        @hookimpl
        def kampai_after_fit(self, ctx, model, seconds):  # search mode: never per fold
            seen.setdefault("fit", []).append(1)

    get_host().register(Observer(), "observer")
    # trial_metrics=all: every metric per trial (the default scores only the objective);
    # the random sampler: no duplicate points here (their reuse has its own test)
    all_metrics = ["tune.trial_metrics=all", "tune.sampler=random"]
    result = _tune(iris_yaml, trials=4, overrides=all_metrics)
    fitted = result.trials[result.trials["duplicate_of"].isna()]  # reused points are logged too
    assert result.ran == 4 and len(fitted) == 4
    assert result.metric == "accuracy" and result.direction == "maximize"
    assert set(result.best_params) <= {"max_depth", "criterion"}
    assert 0.5 < result.best_value <= 1.0
    assert seen["before"] == [("iris-tree", "iris-tree", "accuracy")]
    assert [n for n, _, _ in seen["trial"]] == sorted(result.trials["number"])  # reused ones too
    assert all(state == "COMPLETE" and "accuracy" in m and "f1_macro_std" in m for _, state, m in seen["trial"])
    assert seen["after"] == [result.best_number]
    assert "fit" not in seen
    # the compact trial log: CSV and Parquet, params, metrics and durations per trial
    import pandas as pd

    out = Path("studies/iris-tree")
    log = pd.read_csv(out / "trials.csv")
    assert {"number", "state", "value", "seconds", "fit_seconds", "param:max_depth",
            "metric:accuracy", "metric:f1_macro"} <= set(log.columns)
    assert len(pd.read_parquet(out / "trials.parquet")) == len(result.trials)
    assert json.loads((out / "best.json").read_text())["params"] == result.best_params
    assert not Path("runs").exists()  # search mode: no run folders
    first = log.set_index("number")["value"].to_dict()

    # same study name: resumes to the new total, keeps what was done
    again = _tune(iris_yaml, trials=6, overrides=all_metrics)
    assert again.ran == 2 and again.trials["duplicate_of"].isna().sum() == 6
    assert again.trials.set_index("number")["value"].to_dict().items() >= first.items()
    # already at the total: nothing to run
    assert _tune(iris_yaml, trials=6, overrides=all_metrics).ran == 0


def test_seeded_study_is_reproducible(iris_yaml: Path) -> None:
    a = _tune(iris_yaml, trials=5, study="a", sampler="random")
    b = _tune(iris_yaml, trials=5, study="b", sampler="random")
    assert a.trials["value"].tolist() == b.trials["value"].tolist()
    assert [json.dumps(t.params, sort_keys=True) for t in a.study.trials] == \
           [json.dumps(t.params, sort_keys=True) for t in b.study.trials]


def test_default_search_space_and_config_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli("config", "show", "--task", "classification", "--data", "sklearn:iris",
                        "--model", "KNeighborsClassifier", capsys=capsys)
    assert code == 0
    assert "n_neighbors:" in out and "weights:" in out
    result = _tune(task="classification", data="sklearn:iris", model="KNeighborsClassifier",
                   trials=2, split={"method": "stratified_kfold", "folds": 3})
    assert set(result.best_params) == {"n_neighbors", "weights", "metric"}


def test_cache_fits_preprocessing_once_per_fold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "fits.log"
    monkeypatch.setenv("KAMPAI_TEST_FIT_LOG", str(log))
    preprocess = {"num": {"steps": {"count": {"class": "tune_helpers:CountingScaler"}}}}
    common = dict(task="classification", data="sklearn:iris", model="LogisticRegression",
                  search={"C": {"low": 0.01, "high": 10.0, "log": True}},
                  split={"method": "stratified_kfold", "folds": 3}, trials=5)
    cached = _tune(study="cached", overrides=[f"model.preprocess={json.dumps(preprocess)}"],
                   **common)
    assert cached.ran == 5
    assert len(log.read_text().split()) == 3  # one preprocessing fit per fold, not per trial
    entries = list(Path(".kampai/cache/tune").rglob("*.joblib"))
    assert len(entries) == 3
    # a second study on the same data and preprocessing reuses the files: no fit at all
    _tune(study="cached-2", overrides=[f"model.preprocess={json.dumps(preprocess)}"], **common)
    assert len(log.read_text().split()) == 3
    # without the cache every trial refits it
    log.unlink()
    _tune(study="uncached", overrides=[f"model.preprocess={json.dumps(preprocess)}", "tune.cache=false"],
          **common)
    assert len(log.read_text().split()) == 15


def test_pruner_gets_intermediate_scores(iris_yaml: Path) -> None:
    result = _tune(task="classification", data="sklearn:iris", model="RandomForestClassifier",
                   search={"n_estimators": {"low": 10, "high": 30}, "max_depth": {"low": 1, "high": 4}},
                   split={"method": "stratified_kfold", "folds": 3}, trials=6, pruner="median",
                   study="pruned")
    states = {t.state.name for t in result.study.trials}
    assert states <= {"COMPLETE", "PRUNED"}
    assert all(t.intermediate_values for t in result.study.trials)  # warm-start steps reported


def test_refit_and_train_from_study(iris_yaml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _tune(iris_yaml, trials=3, refit=True)
    assert result.run is not None
    run_params = result.run.config["model"]["params"]
    assert all(run_params[k] == v for k, v in result.best_params.items())
    assert (result.run.run_dir / "model").is_dir()
    code, out, _ = _cli("train", "--from-study", "iris-tree", "--json", "-q", capsys=capsys)
    assert code == 0, out
    run_dir = Path(json.loads(out)["run_dir"])
    import yaml

    params = yaml.safe_load((run_dir / "config.yaml").read_text())["model"]["params"]
    assert all(params[k] == v for k, v in result.best_params.items())


# -- the CLI and bad input -------------------------------------------------------------------


def test_cli_tune_json_plots_and_table(iris_yaml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli("tune", "-c", str(iris_yaml), "--trials", "3", "--sampler", "random",
                        "--study", "cli", "--plots", "--json", capsys=capsys)
    assert code == 0, out
    payload = json.loads(out)
    assert payload["study"] == "cli" and payload["ran"] == 3 and payload["trials"] >= 3
    for name in ("history.png", "importances.png", "duration.png"):
        assert (Path("studies/cli") / name).stat().st_size > 1000
    code, out, err = _cli("tune", "-c", str(iris_yaml), "--trials", "4", "--study", "cli",
                          capsys=capsys)
    assert code == 0
    assert "Top trials of study 'cli'" in out
    assert "resuming at 3/4" in err


@pytest.mark.parametrize(("args", "fragment"), [
    (["--sampler", "annealing"], "'tune.sampler' must be one of tpe, random, cmaes, grid, got 'annealing'"),
    (["--pruner", "mediam"], "Did you mean 'median'"),
    (["--metric", "accuracyy"], "Unknown metric for task 'classification' 'accuracyy'"),
    (["--direction", "up"], "'tune.direction' must be one of maximize, minimize, got 'up'"),
    (["tune.trial_metrics=every"], "'tune.trial_metrics' must be one of objective, all, got 'every'"),
    (["--storage", "postgresql://kampai:secret@127.0.0.1:9/nope"], "Cannot open the study storage"),
    (["model.search.max_dpth={low: 1, high: 3}"], "'model.search.max_dpth'"),
    (["model.search.max_depth={type: int, low: 1, high: 2.5}"], "'high' must be an integer, got 2.5"),
    (["--sampler", "grid", "model.search.ccp_alpha={low: 0.0, high: 0.1}"], "needs a step"),
])
def test_cli_bad_input_exits_2(iris_yaml: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                               fragment: str) -> None:
    code, out, err = _cli("tune", "-c", str(iris_yaml), "--trials", "2", *args, capsys=capsys)
    assert code == 2, out + err
    text = " ".join(err.split())
    assert fragment in text
    assert "Traceback" not in err and "secret" not in err


def test_empty_space_and_incompatible_resume(iris_yaml: Path) -> None:
    with pytest.raises(TuneError, match=r"No search space for 'sklearn.dummy.DummyClassifier'"):
        _tune(task="classification", data="sklearn:iris", model="sklearn.dummy.DummyClassifier")
    _tune(iris_yaml, trials=2, study="fixed")
    with pytest.raises(TuneError, match=r"param 'max_depth' was int, now float.*param 'splitter' was added"):
        _tune(iris_yaml, trials=3, study="fixed",
              search={"max_depth": {"low": 1.0, "high": 6.0}, "criterion": ["gini", "entropy"],
                      "splitter": ["best", "random"]})
    with pytest.raises(TuneError, match="metric was 'accuracy', now 'f1_macro'"):
        _tune(iris_yaml, trials=3, study="fixed", metric="f1_macro")
    # nothing lost: the study still holds its two trials and resumes with the old config
    assert _tune(iris_yaml, trials=3, study="fixed").ran == 1


def test_failing_trials_stop_the_study_with_one_message(iris_yaml: Path) -> None:
    # max_depth=0 is invalid for a decision tree: every trial fails
    with pytest.raises(KampaiError, match="3 trials in a row failed") as info:
        _tune(iris_yaml, trials=10, study="broken", search={"max_depth": {"low": -3, "high": 0}},
              overrides=["tune.max_failures=3"])
    assert "max_depth" in str(info.value)


def test_tune_help_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys; from kampai.core.cli import main\n"
            "try: main(['tune', '--help'])\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('optuna', 'sklearn', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ}, timeout=60).stdout
    assert "--sampler" in out and out.strip().endswith("[]")


def test_cmaes_sampler_and_minimized_metric() -> None:
    result = _tune(task="regression", data="sklearn:diabetes", model="Ridge", trials=4, sampler="cmaes",
                   split={"method": "kfold", "folds": 3}, overrides=["tune.plots=false", "tune.startup_trials=2"])
    assert result.metric == "rmse" and result.direction == "minimize"
    assert list(result.trials["state"]) == ["COMPLETE"] * 4
    assert result.best_value == result.trials["value"].min()


def test_a_point_already_scored_is_reused_not_refitted_and_a_small_space_is_used_up(
        iris_yaml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """TPE proposes known points again on a small space: such a trial reuses the value (marked
    duplicate_of), costs no fit and no trial of the budget; when every point of a finite
    space has been scored the study stops and says so."""
    search = {"max_depth": {"type": "int", "low": 1, "high": 2}, "criterion": ["gini", "entropy"]}
    result = _tune(iris_yaml, trials=8, study="small", search=search, overrides=["tune.startup_trials=2"])
    log = result.trials.set_index("number")
    fitted = log[log["duplicate_of"].isna()]
    params = ["param:max_depth", "param:criterion"]
    assert len(fitted) == 4 and not fitted.duplicated(params).any()  # 4 points, each fitted once
    assert result.ran == 4
    for _, row in log[log["duplicate_of"].notna()].iterrows():
        original = log.loc[int(row["duplicate_of"])]
        assert original[params].tolist() == row[params].tolist() and original["value"] == row["value"]
        assert pd_isna(row["fit_seconds"]) or row["fit_seconds"] == 0
    # the same with the CLI: the end of the study is explained
    code, _, err = _cli("tune", "-c", str(iris_yaml), "--trials", "8", "--study", "small-cli",
                        "model.search.max_depth={type: int, low: 1, high: 2}", capsys=capsys)
    assert code == 0
    assert "Every point of the search space (4) has been scored" in " ".join(err.split())


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_trials_score_only_the_objective_unless_asked(iris_yaml: Path) -> None:
    result = _tune(iris_yaml, trials=2, study="lean", sampler="random")
    assert {c for c in result.trials.columns if c.startswith("metric:")} <= {"metric:accuracy", "metric:accuracy_std"}
    full = _tune(iris_yaml, trials=2, study="full", sampler="random", overrides=["tune.trial_metrics=all"])
    assert {"metric:f1_macro", "metric:accuracy"} <= set(full.trials.columns)
    with pytest.raises(KampaiError, match=r"'tune\.trial_metrics' must be one of objective, all, got 'some'"):
        _tune(iris_yaml, trials=2, study="bad", overrides=["tune.trial_metrics=some"])


def test_runner_cache_info_clear_and_the_size_cap(iris_yaml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kampai.core.tuning.fold_cache import entries, folder_size

    _tune(iris_yaml, trials=3, study="cached", sampler="random")
    folder = Path(".kampai/cache/tune")
    count, size = folder_size(folder)
    assert count >= 3 and size > 0  # 3 folds
    code, out, _ = _cli("cache", "info", "--json", capsys=capsys)
    tune_row = next(r for r in json.loads(out) if r["cache"] == "tune")
    assert code == 0 and tune_row["entries"] == count and tune_row["bytes"] >= size
    code, _, err = _cli("cache", "clear", "tune", capsys=capsys)
    assert code == 0 and "Cleared the tune cache" in err and not folder.exists()
    # a cap smaller than one entry: the folder never holds more than the cap
    _tune(iris_yaml, trials=3, study="capped", sampler="random", overrides=["tune.cache_max_mb=0.0001"])
    assert entries(folder) == [] or folder_size(folder)[1] <= 0.0001 * 1024 * 1024 + 4096
    code, _, err = _cli("cache", "clear", "everything", capsys=capsys)
    assert code == 2 and "Unknown cache 'everything'" in err
