"""``runner --help`` and ``runner plugins list`` start fast: no heavy library is imported.

Checked in a fresh interpreter (a subprocess), through the same ``main()`` the console
script calls, with every installed plugin loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import kampai.core

HEAVY = ("sklearn", "pandas", "numpy", "scipy", "torch", "darts", "transformers", "mlflow", "optuna",
         "pyarrow", "joblib")

PROBE = """
import contextlib, io, json, sys
from kampai.core.cli import main
sys.argv = ["runner", *{args!r}]
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main()
    except SystemExit as exc:
        code = exc.code
print(json.dumps({{"code": code, "out": out.getvalue(),
                   "heavy": sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))}}))
"""


def probe(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE.format(args=list(args), heavy=HEAVY)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [("--help",), ("plugins", "list"), ("plugins", "list", "--json"),
                                  ("tasks", "list"), ("frameworks", "list"), ("--version",)])
def test_light_commands_import_no_heavy_library(args: tuple[str, ...]) -> None:
    found = probe(*args)
    assert found["code"] in (0, None)
    assert found["out"]  # the command did its job
    assert found["heavy"] == [], f"runner {' '.join(args)} imported {found['heavy']}"


def test_plugins_list_really_loaded_the_plugins() -> None:
    found = probe("plugins", "list", "--json")
    names = {p["name"] for p in json.loads(found["out"])}
    assert {"tasks", "splitters", "sklearn", "hello"} <= names


def test_import_kampai_is_light() -> None:
    code = "import kampai, sys, json; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           timeout=60, check=True).stdout))
    assert not loaded & set(HEAVY)
    assert "typer" not in loaded  # the Python API does not pay for the CLI


def test_training_a_sklearn_model_imports_no_other_framework() -> None:
    """Resolving 'RandomForestClassifier' searches scikit-learn's index first: no other
    framework (Darts, torch, transformers) is imported, and no tracker with --no-track."""
    args = ("train", "--task", "classification", "--data", "sklearn:iris", "-q", "--no-track",
            "model.params.n_estimators=5")
    probe(*args)  # the first run builds the cached estimator index (all_estimators imports a lot)
    found = probe(*args)
    assert found["code"] in (0, None)
    assert not set(found["heavy"]) & {"torch", "darts", "transformers", "mlflow", "optuna"}, found["heavy"]
    assert "sklearn" in found["heavy"]  # it did train


# ---------------------------------------------------------------------------------------
# The core's import graph has no circle, counting every import: at the top, inside
# functions, and under ``if TYPE_CHECKING`` (an annotation-only circle is still two modules
# that know each other).
# ---------------------------------------------------------------------------------------

CORE = Path(kampai.core.__file__).parent


def _core_modules() -> dict[str, Path]:
    modules = {}
    for path in CORE.rglob("*.py"):
        parts = list(path.relative_to(CORE.parent.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The core modules ``module`` imports anywhere in its source.  ``from pkg import sub``
    names the submodule ``pkg.sub`` (not ``pkg``'s own code); an import of a name inside a
    module names that module."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:  # kampai.core.x.attr -> kampai.core.x
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of ``graph`` as ``[a, b, ..., a]``, or None (depth-first, three colours)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def core_import_graph() -> dict[str, set[str]]:
    modules = _core_modules()
    return {module: _imports(module, path, modules) for module, path in modules.items()}


def test_the_core_import_graph_has_no_circle() -> None:
    graph = core_import_graph()
    assert {"kampai.core.host", "kampai.core.config", "kampai.core.runs"} <= set(graph)
    assert "kampai.core.hookspecs" in graph["kampai.core.host"]  # the walk sees imports
    cycle = _cycle(graph)
    assert cycle is None, "import circle in kampai.core: " + " -> ".join(cycle or [])


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_config_and_run_records_do_not_need_the_host() -> None:
    """``config.load`` takes the settings registry; a run record loads its model through the
    store lookup it was opened with (kampai.core.hosted passes the host's)."""
    graph = core_import_graph()
    assert "kampai.core.host" not in graph["kampai.core.config"]
    assert "kampai.core.host" not in graph["kampai.core.runs"]



OPEN_WITHOUT_HOST = """
import sys
from kampai.core import runs
from kampai.plugins.sklearn.framework import SklearnFramework

run = runs.open_run(sys.argv[1], store_for=lambda config: SklearnFramework())
print(type(run.model[-1]).__name__, "kampai.core.host" in sys.modules)
"""


def test_a_run_record_loads_its_model_without_the_host() -> None:
    """A fresh interpreter opens a run and loads (verifies, unpickles) its model through a
    store it passes in: the process-wide host is never imported."""
    import kampai

    run = kampai.train(task="regression", data="sklearn:diabetes", model="Ridge", verbose=False)
    done = subprocess.run([sys.executable, "-c", OPEN_WITHOUT_HOST, str(run.run_dir)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Ridge", "False"]


def test_a_module_over_400_lines_says_why_in_its_docstring() -> None:
    """Rooms with one job: a module of kampai over 400 lines states its reason (the words
    '400 lines' in its docstring), so a long module is a decision, never an accident."""
    root = Path(__file__).resolve().parents[1] / "src" / "kampai"
    long_and_silent = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        if text.count("\n") > 400 and "400 lines" not in (ast.get_docstring(ast.parse(text)) or ""):
            long_and_silent.append(f"{path.relative_to(root)} ({text.count(chr(10))} lines)")
    assert not long_and_silent, long_and_silent
