"""The plugin SDK: plugins are guests (they import only kampai.plugin), the contract is enforced
at registration, plugins own their settings and options, errors say where a name should have
come from, every run records its signature, and the core has no import circle."""

from __future__ import annotations

import ast
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT
from helpers import invoke
from kampai.core.host import get_host
from kampai.plugin import Framework, PluginError, Prediction, Setting, hookimpl

SRC = ROOT / "src" / "kampai"


def _imports(path: Path, *, top_level_only: bool = False) -> list[str]:
    """Modules ``path`` imports (absolute names), skipping ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text())
    out = []

    def visit(node: ast.AST, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                out.extend(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                out.append(child.module)
                out.extend(f"{child.module}.{a.name}" for a in child.names)
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and top_level_only:
                continue
            visit(child, depth + 1)

    visit(tree, 0)
    return out


def _guest_violations(folder: Path, own: str) -> list[str]:
    bad = []
    for path in sorted(folder.rglob("*.py")):
        for name in _imports(path):
            if not name.startswith("kampai"):
                continue
            if name in ("kampai.plugin", "kampai") or name.startswith("kampai.plugin."):
                continue
            if name.startswith(own):
                continue
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            bad.append(f"{shown} imports {name}")
    return bad


# -- plugins are guests ---------------------------------------------------------------------


@pytest.mark.parametrize("plugin", sorted(p.name for p in (SRC / "plugins").iterdir()
                                          if p.is_dir() and not p.name.startswith("_")))
def test_a_builtin_plugin_imports_only_the_sdk(plugin: str) -> None:
    bad = _guest_violations(SRC / "plugins" / plugin, f"kampai.plugins.{plugin}")
    # the scikit-lego plugin needs nothing of scikit-learn's plugin either
    assert not bad, "plugins may import only kampai.plugin and themselves:\n" + "\n".join(bad)


def test_the_builtin_tasks_import_only_the_sdk() -> None:
    bad = _guest_violations(SRC / "tasks", "kampai.tasks")
    assert not bad, "tasks may import only kampai.plugin and kampai.tasks:\n" + "\n".join(bad)


def test_the_guard_rail_catches_an_internal_import(tmp_path: Path) -> None:
    folder = tmp_path / "sneaky"
    folder.mkdir()
    (folder / "__init__.py").write_text("from kampai.core.engine import train\nfrom kampai.plugin import hookimpl\n")
    bad = _guest_violations(folder, "kampai.plugins.sneaky")
    assert len(bad) == 2 and all("imports kampai.core.engine" in b for b in bad)


SDK_MODULES = ("kampai.plugin", "kampai.plugin.io", "kampai.plugin.runs", "kampai.plugin.cli",
               "kampai.plugin.experiments")


def _documented_sdk() -> dict[str, set[str]]:
    """The names docs/plugins.md lists, per SDK module (one table row per name)."""
    text = (ROOT / "docs" / "plugins.md").read_text()
    section = text[text.index("## The SDK: `kampai.plugin`"):text.index("## Writing a plugin")]
    out: dict[str, set[str]] = {}
    for block in re.split(r"^### ", section, flags=re.M)[1:]:
        module = re.match(r"`(kampai\.plugin[\w.]*)`", block)
        if module is None:
            continue
        names = out.setdefault(module.group(1), set())
        for line in block.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not line.startswith("| ") or cells[0] in ("group", "name") or set(cells[0]) <= {"-"}:
                continue
            cell = cells[1] if module.group(1) == "kampai.plugin" else cells[0]
            named = re.fullmatch(r"`([A-Za-z_]\w*)(\(.*\))?`", cell)
            assert named, f"{module.group(1)}: a row of docs/plugins.md names no SDK name: {line}"
            names.add(named.group(1))
    return out


def test_the_sdk_is_exactly_the_documented_list() -> None:
    """Every SDK name is documented in docs/plugins.md, every documented name exists, and
    nothing else is offered (dir() and __all__ agree)."""
    import importlib

    documented = _documented_sdk()
    assert set(documented) == set(SDK_MODULES)
    for name in SDK_MODULES:
        module = importlib.import_module(name)
        assert set(module.__all__) == documented[name], name
        assert sorted(dir(module)) == sorted(module.__all__), name
        for public in module.__all__:
            assert getattr(module, public) is not None, f"{name}.{public}"
    import kampai.plugin as sdk

    with pytest.raises(AttributeError):
        _ = sdk.engine
    with pytest.raises(AttributeError):
        _ = sdk.hookspec  # the specs are kampai's: a plugin implements them
    assert sdk.API_VERSION == "2.0"


def test_every_type_a_hook_spec_names_is_exported() -> None:
    """The registries and values the hook specs are annotated with are SDK names, the very
    classes the specs mean (a plugin can annotate ``registry: FrameworkRegistry``)."""
    import importlib

    import kampai.plugin as sdk

    tree = ast.parse((SRC / "core" / "hookspecs.py").read_text())
    sources = {alias.asname or alias.name: node.module for block in tree.body
               if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
               for node in block.body if isinstance(node, ast.ImportFrom) and node.module.startswith("kampai")
               for alias in node.names}
    named = {n.id for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name.startswith("kampai_")
             for a in [*fn.args.args, *fn.args.kwonlyargs] if a.annotation is not None
             for n in ast.walk(a.annotation) if isinstance(n, ast.Name)}
    kampai_types = named & set(sources)
    assert {"FrameworkRegistry", "SettingRegistry", "RunContext", "RunRecord"} <= kampai_types
    for name in sorted(kampai_types):
        assert name in sdk.__all__, f"hook specs name {name}, which kampai.plugin does not export"
        assert getattr(sdk, name) is getattr(importlib.import_module(sources[name]), name), name


def test_plugins_and_docs_import_only_current_sdk_names() -> None:
    """Every ``from kampai.plugin... import`` of the built-in plugins and tasks, the docs' code,
    the example plugin and the benchmarks names a 2.0 name (no DeprecationWarning), and
    docs/plugins.md never imports kampai.core."""
    import importlib
    import warnings

    sources = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md",
               *sorted((ROOT / "examples" / "kampai-hello").rglob("*.py")),
               *sorted((SRC / "plugins").rglob("*.py")), *sorted((SRC / "tasks").rglob("*.py")),
               *sorted((ROOT / "benchmarks").glob("*.py"))]
    seen = 0
    for path in sources:
        text = path.read_text()
        blocks = re.findall(r"```python\n(.*?)```", text, re.S) if path.suffix == ".md" else [text]
        for block in blocks:
            try:
                tree = ast.parse(textwrap.dedent(block))
            except SyntaxError:  # a sketch with elisions: its one-line imports still count
                lines = re.findall(r"^\s*(from kampai\.plugin\S* import [^(\n]+)$", block, re.M)
                tree = ast.parse("\n".join(lines))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module in SDK_MODULES:
                    module = importlib.import_module(node.module)
                    for alias in node.names:
                        with warnings.catch_warnings():
                            warnings.simplefilter("error", DeprecationWarning)
                            assert alias.name in module.__all__ and getattr(module, alias.name) is not None, \
                                f"{path.name}: {node.module}.{alias.name}"
                        seen += 1
    assert seen > 10
    plugins_md = (ROOT / "docs" / "plugins.md").read_text()
    assert not re.search(r"^\s*(from|import) kampai\.core", plugins_md, re.M)


def test_the_migration_script_rewrites_1x_imports(tmp_path: Path) -> None:
    """scripts/sdk_migrate.py moves a plugin's 1.x imports to their 2.0 homes and renames the
    code's uses (names only, never text), and lists what 2.0 no longer offers."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sdk_migrate", ROOT / "scripts" / "sdk_migrate.py")
    migrate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migrate)
    plugin = tmp_path / "plugin.py"
    plugin.write_text(textwrap.dedent('''\
        from kampai.plugin import DataError, hookimpl, open_run, read_frame


        def serve(ref):
            from kampai.plugin import RUNS_DIR, merge, write_text_atomic as wta

            run = open_run(ref)  # "open_run" in a comment or a string stays
            return run, read_frame, RUNS_DIR, merge, wta, "open_run"
        '''))
    assert migrate.main(["--check", str(plugin)]) == 1
    assert migrate.main([str(plugin)]) == 0
    assert plugin.read_text() == textwrap.dedent('''\
        from kampai.plugin import DataError, hookimpl
        from kampai.plugin.io import read_frame
        from kampai.plugin.runs import load_run


        def serve(ref):
            from kampai.plugin import merge
            from kampai.plugin.io import write_text as wta
            from kampai.plugin.runs import RUNS_DIR

            run = load_run(ref)  # "open_run" in a comment or a string stays
            return run, read_frame, RUNS_DIR, merge, wta, "open_run"
        ''')
    assert migrate.main(["--check", str(plugin)]) == 0


def _unscoped_warning_filters(folder: Path) -> list[str]:
    """Calls that change warning filters outside a ``with warnings.catch_warnings():`` block."""
    found = []

    def visit(node: ast.AST, scoped: bool, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scoped or (isinstance(child, ast.With) and any(
                "catch_warnings" in ast.unparse(item.context_expr) for item in child.items))
            changes = isinstance(child, ast.Call) and ast.unparse(child.func).endswith(("filterwarnings",
                                                                                       "simplefilter"))
            if changes and not inner:
                found.append(f"{where}:{child.lineno}")
            visit(child, inner, where)

    for path in sorted(folder.rglob("*.py")):
        visit(ast.parse(path.read_text()), False, str(path.relative_to(folder.parent)))
    return found


def test_plugins_and_tasks_leave_the_process_warning_filters_alone(tmp_path: Path) -> None:
    """A plugin silences a library's warnings only inside ``warnings.catch_warnings()``: never
    for the whole process (and never at import)."""
    for folder in (SRC / "plugins", SRC / "tasks"):
        assert not _unscoped_warning_filters(folder), _unscoped_warning_filters(folder)
    sneaky = tmp_path / "sneaky"
    sneaky.mkdir()
    (sneaky / "m.py").write_text("import warnings\nwarnings.filterwarnings('ignore')\n\n\ndef f():\n"
                                 "    with warnings.catch_warnings():\n        warnings.simplefilter('ignore')\n")
    assert _unscoped_warning_filters(sneaky) == ["sneaky/m.py:2"]


def test_the_1x_names_still_resolve_with_a_deprecation_warning() -> None:
    """API 2.0 moved or dropped 1.x names: until 3.0 each resolves to what it was, with a
    DeprecationWarning saying what to use."""
    import kampai.plugin as sdk
    from kampai.core import engine, runs

    with pytest.warns(DeprecationWarning, match=r"kampai\.plugin\.open_run .*use kampai\.plugin\.runs\.load_run"):
        assert sdk.open_run is engine.load_run
    with pytest.warns(DeprecationWarning, match=r"use kampai\.plugin\.io\.write_text"):
        from kampai.plugin import write_text_atomic
    assert write_text_atomic is sdk.io.write_text
    with pytest.warns(DeprecationWarning, match="RunRecord"):
        assert sdk.Run is runs.RunRecord is sdk.RunRecord
    with pytest.warns(DeprecationWarning, match=r"ctx\.device\.torch\(\)"):
        assert callable(sdk.torch_device)
    assert sdk.runs.Run is engine.TrainedRun and sdk.runs.load_run is engine.load_run
    import kampai

    assert kampai.Run is sdk.runs.Run and kampai.load_run is sdk.runs.load_run


def test_the_core_has_no_import_circle() -> None:
    """Module-level imports inside kampai.core form no cycle (function-level imports that
    go downward at call time are allowed; TYPE_CHECKING imports do not count)."""
    modules = {}
    for path in (SRC / "core").rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        modules[name] = [m for m in _imports(path, top_level_only=True) if m.startswith("kampai.core")]
    graph = {m: {d if d in modules else d.rpartition(".")[0] for d in deps} & set(modules) - {m}
             for m, deps in modules.items()}
    # a package's __init__ importing its own submodules is not a circle
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if seen.get(dep) == 1:
                cycle = [*stack[stack.index(dep):], dep]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if dep not in seen:
                visit(dep)
        stack.pop()
        seen[node] = 2

    for module in sorted(graph):
        if module not in seen:
            visit(module)


# -- the contract, enforced at registration -----------------------------------------------------


class _NoPredict(Framework):
    name = "nopredict"
    tasks = ("classification",)

    def default_estimator(self, task: Any) -> str:
        return "x"

    def build(self, task: Any, model_cfg: dict, data: Any, ctx: Any) -> Any:
        return None

    def fit(self, model: Any, data: Any, task: Any) -> Any:
        return model

    def save(self, model: Any, path: Path) -> None: ...

    def load(self, path: Path) -> Any:
        return None


class _Full(_NoPredict):
    name = "fullfw"

    def predict(self, model: Any, data: Any, task: Any) -> Prediction:
        return Prediction(y=[0] * len(data))


def _register(obj: Any, name: str) -> dict[str, Any]:
    host = get_host()
    host.register(obj, name)
    host.frameworks()
    return host.infos[name]


def _plugin(framework: Any) -> Any:
    """A plugin registering ``framework()`` (a factory: the object is made inside the hook)."""

    class Plugin:
        @hookimpl
        def kampai_register_frameworks(self, registry: Any) -> None:
            registry.add(framework())

    return Plugin()


class _PredictIsNone(_Full):
    """Dodges the abstract-method check (predict is set, but to nothing callable)."""

    name = "nonepredict"
    predict = None


@pytest.mark.parametrize(("framework", "phrase"), [
    (_NoPredict, "Can't instantiate abstract class _NoPredict"),
    (_PredictIsNone, "does not implement predict"),
    (lambda: _Full, "a class was given: register an instance, add '()'"),
    (object, "not a kampai.plugin.Framework"),
    (type("Typo", (_Full,), {"name": "typo", "tasks": ("clasification",)}), "unknown task 'clasification'"),
    (type("Claims", (_Full,), {"name": "claims", "capabilities": frozenset({"incremental"})}),
     "declares capability 'incremental' but does not implement fit_incremental()"),
    (type("Hides", (_Full,), {"name": "hides", "default_search_space": lambda self, e, t: {}}),
     "implements default_search_space() but does not declare capability 'search_space'"),
    (type("Bogus", (_Full,), {"name": "bogus", "capabilities": frozenset({"gpu"})}),
     "declares unknown capability 'gpu'"),
    (type("Taken", (_Full,), {"name": "sklearn"}), "already registered by plugin 'sklearn'"),
])
def test_registration_refuses_what_breaks_the_contract(framework: Any, phrase: str) -> None:
    info = _register(_plugin(framework), "badfw")
    assert info.status == "broken" and phrase in info.error
    assert "badfw" in info.error or "kampai_register_frameworks" in info.error
    # the rest keep working
    assert "sklearn" in get_host().frameworks()
    # the rest keep working
    assert "sklearn" in get_host().frameworks()


def test_a_well_formed_framework_is_accepted() -> None:
    info = _register(_plugin(_Full), "goodfw")
    assert info.status == "ok" and "fullfw" in get_host().frameworks()


def test_a_misspelled_hook_is_refused_with_a_suggestion() -> None:
    class Typo:
        @hookimpl
        def kampai_after_fitt(self, ctx: Any) -> None: ...

    with pytest.raises(Exception, match=r"'kampai_after_fitt', which is not a kampai hook\. Did you mean "
                                        r"'kampai_after_fit'"):
        get_host().register(Typo(), "typo")
    assert get_host().pm.get_plugin("typo") is None


def test_a_hook_with_a_wrong_argument_is_refused() -> None:
    class Wrong:
        @hookimpl
        def kampai_after_fit(self, ctx: Any, modell: Any) -> None: ...

    with pytest.raises(PluginError, match=r"Plugin .wrong.*kampai_after_fit.*modell.*hookspec"):
        get_host().register(Wrong(), "wrong")
    assert get_host().pm.get_plugin("wrong") is None


def test_a_broken_installed_plugin_is_listed_with_its_reason(tmp_path: Path, cli: Any) -> None:
    """An entry-point plugin with a misspelled hook: broken in `plugins list`, the rest work."""
    from helpers import write_distribution

    write_distribution(tmp_path, "kampai-typo", {"typo": "kampai_typo"}, {"kampai_typo": (
        "from kampai.plugin import hookimpl\n\n@hookimpl\ndef kampai_after_trian(ctx):\n    pass\n")})
    env = {"PYTHONPATH": str(tmp_path)}
    listed = {p["name"]: p for p in json.loads(cli("plugins", "list", "--json", env=env).stdout)}
    assert listed["typo"]["status"] == "broken"
    assert "'kampai_after_trian', which is not a kampai hook. Did you mean" in listed["typo"]["error"]
    assert "'kampai_after_train'" in listed["typo"]["error"]
    assert listed["sklearn"]["status"] == "ok"


# -- errors say where a name should have come from -----------------------------------------------


def test_a_framework_whose_library_is_missing_names_the_extra() -> None:
    class NeedsLib(_Full):
        name = "needslib"
        extra = "needslib"
        requires = ("kampai_no_such_library_xyz",)

    _register(_plugin(NeedsLib), "needslib")
    code, _, err = invoke("train", "--task", "classification", "--framework", "needslib", "--data", "sklearn:iris")
    assert code == 2
    assert "needs kampai_no_such_library_xyz, which is not installed: pip install 'kampai[needslib]'" in err


def test_a_broken_plugin_is_named_when_its_framework_is_asked_for() -> None:
    class Boom:
        @hookimpl
        def kampai_register_frameworks(self, registry: Any) -> None:
            raise RuntimeError("cannot start")

    host = get_host()
    host.register(Boom(), "boomfw")
    host.frameworks()
    code, _, err = invoke("train", "--task", "classification", "--framework", "boomfw", "--data", "sklearn:iris")
    assert code == 2 and "plugin 'boomfw' failed to load" in err and "cannot start" in err


def test_registry_commands_are_missing_with_a_reason_when_mlflow_is_blocked(cli: Any) -> None:
    result = cli("-p", "no:mlflow", "registry", "list")
    assert result.returncode == 2
    assert "No such command 'registry'. It may come from a plugin that is not loaded: mlflow (blocked)" \
        in result.stderr


# -- plugins own their settings and options -------------------------------------------------------


class _Wandb:
    @hookimpl
    def kampai_add_settings(self, settings: Any) -> None:
        settings.add(Setting("wandb.project", None, "W&B project", type=str, option="--wandb-project"))
        settings.add(Setting("wandb.enabled", True, "false: log nothing", type=bool, option="--no-wandb",
                             option_value=False))

    @hookimpl
    def kampai_before_train(self, ctx: Any) -> None:
        ctx.state["wandb_seen"] = dict(ctx.config["wandb"])
        _Wandb.seen = dict(ctx.config["wandb"])


def test_hook_kampai_add_settings(tmp_path: Path) -> None:
    """A plugin's own section and options: validated, typed, on the CLI, in --schema."""
    get_host().register(_Wandb(), "wandb")
    code, _, err = invoke("train", "--task", "classification", "--data", "sklearn:iris",
                          "--wandb-project", "churn", "--no-wandb", "--quiet")
    assert code == 0, err
    assert _Wandb.seen == {"project": "churn", "enabled": False}
    code, _, err = invoke("train", "--task", "classification", "--data", "sklearn:iris", "wandb.projet=x")
    assert code == 2 and "Unknown config key 'wandb.projet'" in err and "Did you mean 'project'" in err
    code, _, err = invoke("train", "--task", "classification", "--data", "sklearn:iris", "wandb.enabled=maybe")
    assert code == 2 and "Config key 'wandb.enabled' must be bool" in err
    code, out, _ = invoke("config", "show", "--schema", "--json")
    rows = {r["key"]: r for r in json.loads(out)}
    assert rows["wandb.project"]["owner"] == "wandb" and rows["wandb.project"]["option"] == "--wandb-project"
    assert rows["report.after_train"]["owner"] == "insight" and rows["data.text"]["owner"] == "tasks"
    assert rows["seed"]["owner"] == "core" and "one seed" in rows["seed"]["help"]
    assert rows["device"]["owner"].startswith("core (device frameworks:")


def test_a_plugins_section_exists_only_while_it_is_loaded(tmp_path: Path) -> None:
    config = tmp_path / "x.yaml"
    config.write_text("task: classification\ndata: {path: 'sklearn:iris'}\nwandb: {project: churn}\n")
    code, _, err = invoke("config", "show", "-c", str(config))
    assert code == 2 and "Unknown config key 'wandb'" in err


def test_options_of_a_blocked_plugin_do_not_exist(cli: Any) -> None:
    pytest.importorskip("mlflow")  # blocked, not missing
    result = cli("-p", "no:mlflow", "train", "--task", "classification", "--data", "sklearn:iris",
                 "--tracking-uri", "sqlite:///x.db")
    assert result.returncode == 2 and "--tracking-uri" in result.stderr
    config = "tracking:\n  enabled: false\n"
    Path("t.yaml").write_text(config)
    result = cli("-p", "no:mlflow", "config", "show", "-c", "t.yaml")
    assert result.returncode == 2 and "Unknown config key 'tracking'" in result.stderr
    assert "mlflow (blocked)" in result.stderr


def test_a_setting_cannot_take_anothers_key_or_option() -> None:
    pytest.importorskip("mlflow")  # the owner of tracking.uri
    class Thief:
        @hookimpl
        def kampai_add_settings(self, settings: Any) -> None:
            settings.add(Setting("tracking.uri", None, "mine"))

    get_host().register(Thief(), "thief")
    get_host().settings()
    assert "already declared by 'mlflow'" in get_host().infos["thief"].error


def test_device_is_one_rule_for_every_framework() -> None:
    code, _, err = invoke("train", "--task", "classification", "--data", "sklearn:iris", "--device", "cuda")
    assert code == 2 and "Framework 'sklearn' does not train on a device" in err
    code, _, err = invoke("train", "--task", "classification", "--data", "sklearn:iris", "--device", "gpu")
    assert code == 2 and "Config key 'device' must be auto, cpu, cuda, cuda:N or mps" in err


# -- metrics a plugin resolves --------------------------------------------------------------------


def test_hook_kampai_resolve_metric() -> None:
    """A metric name no plugin registered is asked of kampai_resolve_metric (firstresult)."""
    from kampai.plugin import Metric

    class Mine:
        @hookimpl(tryfirst=True)
        def kampai_resolve_metric(self, name: str, task: str) -> Any:
            if name == "always_one":
                return Metric("always_one", lambda y, p, X: 1.0, (task,))
            return None

    get_host().register(Mine(), "mine")
    import kampai

    run = kampai.train(task="classification", data="sklearn:iris", metrics=["always_one", "precision_macro"],
                       verbose=False)
    assert run.metrics["always_one"] == 1.0
    assert 0.8 < run.metrics["precision_macro"] <= 1.0  # answered by the scikit-learn plugin
    with pytest.raises(Exception, match="Unknown metric for task 'classification' 'no_such'"):
        kampai.train(task="classification", data="sklearn:iris", metrics=["no_such"], verbose=False)


# -- run signatures --------------------------------------------------------------------------------


def test_every_run_records_its_signature() -> None:
    import kampai

    run = kampai.train(task="classification", data="sklearn:iris", verbose=False)
    signature = json.loads((run.run_dir / "signature.json").read_text())
    assert signature["task"] == "classification" and signature["framework"] == "sklearn"
    assert signature["input_kind"] == "table"
    assert signature["inputs"][0] == {"name": "sepal length (cm)", "dtype": "float64", "nullable": False}
    assert signature["classes"] == ["setosa", "versicolor", "virginica"]
    assert signature["outputs"] == ["prediction", "proba_setosa", "proba_versicolor", "proba_virginica"]
    assert signature["packages"]["scikit-learn"] and signature["packages"]["python"] == sys.version.split()[0]
    manifest = json.loads((run.run_dir / "manifest.json").read_text())
    assert "signature.json" in manifest["files"]


def test_the_hook_reference_is_generated_from_the_specs() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("hook_reference", ROOT / "scripts" / "hook_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / "docs" / "plugins.md").read_text()
    assert module.rewrite(text) == text, "docs/plugins.md is stale: run scripts/hook_reference.py"
