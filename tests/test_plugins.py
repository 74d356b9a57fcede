"""Plugin discovery through entry points, broken plugins, kill switches, inline plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import kampai
from helpers import invoke, no_tracker, write_distribution  # noqa: F401  (autouse)
from kampai import hookimpl
from kampai.core import host as plugins
from kampai.core.errors import UnknownNameError
from kampai.core.host import get_host

BUILTIN = {"tasks", "splitters", "sklearn"}

BROKEN_AT_IMPORT = '''
raise ImportError("kampai-broken needs libnothing (pip install libnothing)")
'''

BROKEN_AT_REGISTRATION = '''
from kampai import hookimpl


@hookimpl
def kampai_register_tasks(registry):
    raise RuntimeError("cannot build my task table")
'''


def report() -> dict[str, dict]:
    return {p["name"]: p for p in invoke("plugins", "list", "--json").json()}


def test_builtin_plugins_come_from_kampais_own_entry_points() -> None:
    eps = {ep.name: ep for ep in metadata.entry_points(group="kampai") if ep.dist.metadata["Name"] == "kampai"}
    assert set(eps) >= BUILTIN
    listed = report()
    for name in BUILTIN:
        assert listed[name]["distribution"] == "kampai"
        assert listed[name]["version"] == kampai.__version__
        assert listed[name]["status"] == "ok" and listed[name]["error"] is None
        assert listed[name]["module"] == eps[name].value
    assert listed["sklearn"]["provides"]["frameworks"] == ["sklearn"]
    assert {"classification", "regression", "clustering"} <= set(listed["tasks"]["provides"]["tasks"])
    assert "kfold" in listed["splitters"]["provides"]["splitters"]
    assert "sklearn:iris" in listed["sklearn"]["provides"]["datasets"]


LOAD_EVERY_PLUGIN = """
import warnings
from importlib import metadata

before = list(warnings.filters)
for ep in metadata.entry_points(group="kampai"):
    try:
        ep.load()
    except ImportError:  # an extra that is not installed
        pass
from kampai.core.host import get_host

get_host().frameworks()  # the registration hooks too
changed = [f for f in warnings.filters if f not in before]
print(changed)
"""


def test_loading_the_plugins_leaves_the_warning_filters_alone() -> None:
    """A plugin silences a library's warnings around its own calls (warnings.catch_warnings),
    never for the whole process at import: the user's and other libraries' warnings stay."""
    done = subprocess.run([sys.executable, "-c", LOAD_EVERY_PLUGIN], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_example_plugin_from_its_own_distribution_is_discovered_and_trains() -> None:
    """examples/kampai-hello is pip-installed (scripts/bootstrap) as its own distribution."""
    dist = metadata.distribution("kampai-hello")
    assert [ep.name for ep in dist.entry_points if ep.group == "kampai"] == ["hello"]
    hello = report()["hello"]
    assert (hello["distribution"], hello["version"], hello["status"]) == ("kampai-hello", "0.1.0", "ok")
    assert hello["provides"] == {"frameworks": ["hello"]}
    result = invoke("train", "--task", "classification", "--framework", "hello", "--data", "sklearn:iris",
                    "--json", "model.params.metric=manhattan")
    assert result.code == 0, result.stderr
    payload = result.json()
    assert payload["metrics"]["accuracy"] > 0.8
    assert "roc_auc" not in payload["metrics"]  # NearestCentroid gives no probabilities
    run = kampai.load_run(payload["run_dir"])
    assert run.meta["framework"] == "hello" and run.model.metric == "manhattan"
    from sklearn.datasets import load_iris

    preds = run.predict(load_iris(as_frame=True).data)
    assert set(preds["prediction"]) <= {"setosa", "versicolor", "virginica"}
    table = invoke("plugins", "list")
    assert "kampai-hello" in table.stdout


def test_the_example_plugin_trains_on_categorical_data(tmp_path: Path) -> None:
    """Penguins: text columns (island, sex) and gaps; NearestCentroid uses the numeric ones."""
    penguins = pytest.importorskip("palmerpenguins").load_penguins()
    penguins.to_csv(tmp_path / "penguins.csv", index=False)
    result = invoke("train", "--task", "classification", "--framework", "hello", "--data",
                    str(tmp_path / "penguins.csv"), "--target", "species", "--json")
    assert result.code == 0, result.stderr
    run = kampai.load_run(result.json()["run_dir"])
    assert run.model.ignored_ == ["island", "sex"] and "bill_length_mm" in run.model.columns_
    assert result.json()["metrics"]["accuracy"] > 0.6
    assert len(run.predict(penguins.head(5))) == 5


def test_broken_plugins_are_listed_while_the_rest_works(tmp_path: Path) -> None:
    site = write_distribution(tmp_path / "site", "kampai-broken",
                              {"broken": "kampai_broken", "half": "kampai_half"},
                              {"kampai_broken": BROKEN_AT_IMPORT, "kampai_half": BROKEN_AT_REGISTRATION})
    env = {**os.environ, "PYTHONPATH": str(site)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kampai", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=300)

    listed = run("plugins", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    import json

    by_name = {p["name"]: p for p in json.loads(listed.stdout)}
    broken = by_name["broken"]
    assert broken["status"] == "broken" and broken["distribution"] == "kampai-broken"
    assert broken["version"] == "0.3.0"
    assert broken["error"] == "ImportError: kampai-broken needs libnothing (pip install libnothing)"
    assert by_name["half"]["status"] == "broken"
    assert "kampai_register_tasks: RuntimeError: cannot build my task table" in by_name["half"]["error"]
    assert by_name["sklearn"]["status"] == "ok" and by_name["hello"]["status"] == "ok"
    table = run("plugins", "list")
    assert "broken" in table.stdout and "libnothing" in table.stdout
    # everything else keeps working
    trained = run("train", "--task", "classification", "--data", "sklearn:iris", "--json",
                  "model.params.n_estimators=5")
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["metrics"]["accuracy"] > 0.8


def test_broken_plugin_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = write_distribution(tmp_path / "site", "kampai-broken", {"broken": "kampai_broken"},
                              {"kampai_broken": BROKEN_AT_IMPORT})
    monkeypatch.syspath_prepend(str(site))
    plugins.reset()
    info = get_host().infos["broken"]
    assert info.status == "broken" and "libnothing" in info.error
    run = kampai.train(task="regression", data="sklearn:diabetes", model="Ridge", verbose=False)
    assert run.metrics["r2"] > 0.3


def test_disable_autoload_with_an_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMPAI_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("KAMPAI_PLUGINS", "tasks,splitters,sklearn")
    plugins.reset()
    listed = report()
    assert set(listed) == {"tasks", "splitters", "sklearn"}
    frameworks = [f["name"] for f in invoke("frameworks", "list", "--json").json()]
    assert frameworks == ["sklearn"]
    run = kampai.train(task="classification", data="sklearn:iris", params={"n_estimators": 5}, verbose=False)
    assert run.metrics["accuracy"] > 0.8
    result = invoke("train", "--task", "classification", "--framework", "hello", "--data", "sklearn:iris")
    assert result.code == 2 and "Unknown framework 'hello'" in result.stderr


def test_disable_autoload_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMPAI_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("KAMPAI_PLUGINS", raising=False)
    plugins.reset()
    assert invoke("plugins", "list", "--json").json() == []
    assert invoke("tasks", "list", "--json").json() == []
    with pytest.raises(UnknownNameError, match="Unknown task 'classification'"):
        kampai.train(task="classification", data="sklearn:iris", verbose=False)


def test_block_plugins_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMPAI_BLOCK_PLUGINS", "hello,mlflow")
    plugins.reset()
    listed = report()
    assert listed["hello"]["status"] == "blocked" and listed["hello"]["provides"] == {}
    assert listed["sklearn"]["status"] == "ok"
    assert "hello" not in [f["name"] for f in invoke("frameworks", "list", "--json").json()]
    # a blocked plugin cannot be registered inline either
    get_host().register(object(), "hello")
    assert "hello" not in [f["name"] for f in invoke("frameworks", "list", "--json").json()]


def test_block_one_plugin_from_the_command_line(cli) -> None:
    import json

    result = cli("-p", "no:hello", "frameworks", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert "hello" not in [f["name"] for f in json.loads(result.stdout)]
    listed = {p["name"]: p for p in json.loads(cli("-p", "no:hello", "-p", "no:sklego", "plugins", "list",
                                                   "--json").stdout)}
    assert listed["hello"]["status"] == "blocked" and listed["sklego"]["status"] == "blocked"
    assert listed["sklearn"]["status"] == "ok"
    refused = cli("-p", "no:hello", "train", "--task", "classification", "--framework", "hello",
                  "--data", "sklearn:iris")
    assert refused.returncode == 2 and "Unknown framework 'hello'" in refused.stderr
    assert "plugin 'hello' is blocked (-p no:hello" in refused.stderr
    # blocking the scikit-learn plugin takes its framework and its datasets away
    no_sklearn = cli("-p", "no:sklearn", "train", "--task", "classification", "--data", "sklearn:iris")
    assert no_sklearn.returncode == 2 and "Unknown" in no_sklearn.stderr


class Counter:
    """An inline plugin: counts fits and can change what a run records."""

    def __init__(self) -> None:
        self.fits = 0
        self.trained: list[str] = []

    @hookimpl
    def kampai_after_fit(self, ctx, model, seconds):
        self.fits += 1

    @hookimpl
    def kampai_after_train(self, run):  # a subset of the hook's arguments is fine
        self.trained.append(run.run_id)


def test_inline_plugin_object() -> None:
    counter = Counter()
    get_host().register(counter, "counter")
    run = kampai.train(task="regression", data="sklearn:diabetes", model="Ridge",
                       split={"method": "kfold", "folds": 3}, verbose=False)
    assert counter.fits == 4 and counter.trained == [run.run_id]
    listed = report()
    assert listed["counter"]["hooks"] == ["kampai_after_fit", "kampai_after_train"]
    get_host().unregister("counter")
    kampai.train(task="regression", data="sklearn:diabetes", model="Ridge", verbose=False)
    assert counter.fits == 4


def test_two_plugins_claiming_one_name_mark_the_second_broken() -> None:
    class Impostor:
        @hookimpl
        def kampai_register_frameworks(self, registry):
            from kampai.plugins.sklearn.framework import SklearnFramework

            registry.add(SklearnFramework())

    get_host().register(Impostor(), "impostor")
    listed = report()
    assert listed["impostor"]["status"] == "broken"
    assert "already registered by plugin 'sklearn'" in listed["impostor"]["error"]
    run = kampai.train(task="regression", data="sklearn:diabetes", model="Ridge", verbose=False)
    assert run.meta["framework"] == "sklearn"


def test_dash_p_does_not_leak_into_the_next_command_in_one_process() -> None:
    blocked = invoke("-p", "no:hello", "frameworks", "list", "--json")
    assert "hello" not in [f["name"] for f in blocked.json()]
    again = invoke("frameworks", "list", "--json")
    assert "hello" in [f["name"] for f in again.json()]


def test_the_entry_point_index_is_remembered_until_something_is_installed(tmp_path: Path, monkeypatch) -> None:
    """runner --help does not scan every dist-info folder each time; installing a distribution
    (a new dist-info folder on sys.path) makes the next command scan again."""
    from kampai.core import plugin_index

    monkeypatch.setenv("KAMPAI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("KAMPAI_NO_PLUGIN_CACHE", raising=False)
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    first = plugin_index.entry_points("kampai")
    assert {"sklearn", "tasks"} <= {ep.name for ep in first}
    (cached,) = (tmp_path / "cache").glob("entry-points-*.json")
    assert {item["name"] for item in json.loads(cached.read_text())} == {ep.name for ep in first}
    # what is read back is what was scanned (no importlib.metadata needed on a hit)
    assert plugin_index.entry_points("kampai") == first
    write_distribution(site, "kampai-late", {"late": "kampai_late"}, {"kampai_late": ""})  # pip install
    assert "late" in {ep.name for ep in plugin_index.entry_points("kampai")}
    assert len(list((tmp_path / "cache").glob("entry-points-*.json"))) == 2


ONE_FRAMEWORK = '''
import sys
from kampai.core.host import get_host

host = get_host()
host.settings()
host.framework("sklearn")
late = sorted(m for m in ("kampai.plugins.pyg.framework", "kampai.plugins.torch.framework",
                          "kampai.plugins.transformers.framework") if m in sys.modules)
owner = next(r["owner"] for r in host.settings().rows() if r["key"] == "device")
print(late, "device" in host.settings(), "pyg" in host.frameworks(), "pyg" in owner, "transformers" in owner)
'''


def test_one_framework_is_looked_up_without_importing_every_framework_plugin() -> None:
    """A run reads its settings (``device`` exists: a device framework is loaded) and finds its
    framework by asking the plugins in registration order only until the name is found; the
    full list and the owner of ``device`` in the schema still name every framework."""
    done = subprocess.run([sys.executable, "-c", ONE_FRAMEWORK], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "True", "True", "True", "True"]
