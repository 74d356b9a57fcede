"""``runner --help`` and ``runner plugins list`` start fast: no heavy library is imported.

Checked in a fresh interpreter (a subprocess), through the same ``main()`` the console
script calls, with every installed plugin loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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
