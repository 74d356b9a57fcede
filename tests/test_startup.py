"""Start-up: ``runner --help`` is served from the user cache without typer, and every command
prints its first line before it imports a framework (issue 27, target 6; issue 24).

Each command runs in a fresh interpreter under ``tests/startup_probe.py``, which stops it at
the first import of a framework and reports whether anything had reached stdout or stderr.
Times are measured by ``benchmarks/startup.py``, never here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import write_churn_csv

HERE = Path(__file__).parent
PROBE = HERE / "startup_probe.py"

#: every command of ``runner`` (built-in and the bundled plugins') with arguments that reach
#: its real work; {run} is a trained run, the folder is a git repository with exp.yaml
COMMANDS = {
    "train": "train -c exp.yaml model.params.n_estimators=5",
    "evaluate": "evaluate {run} --data churn.csv",
    "predict": "predict {run} --data churn.csv",
    "tune": "tune -c exp.yaml -n 2",
    "init": "init proj",
    "doctor": "doctor",
    "serve": "serve {run} --port {port}",
    "app": "app {run} --port {port}",
    "inspect": "inspect {run} --data churn.csv",
    "learning-curve": "learning-curve -c exp.yaml --rows 50%",
    "report": "report {run}",
    "config show": "config show -c exp.yaml",
    "runs list": "runs list",
    "runs compare": "runs compare --no-plots",
    "runs export": "runs export",
    "runs sync": "runs sync",
    "runs trust": "runs trust {run} --yes",
    "plugins list": "plugins list",
    "tasks list": "tasks list",
    "frameworks list": "frameworks list",
    "estimators list": "estimators list",
    "estimators show": "estimators show RandomForestClassifier",
    "datasets list": "datasets list",
    "splits list": "splits list",
    "metrics list": "metrics list",
    "cache info": "cache info",
    "cache clear": "cache clear",
    "registry register": "registry register {run} --name churn",
    "registry list": "registry list",
    "registry show": "registry show churn",
    "registry promote": "registry promote churn@1 --stage production",
    "registry best": "registry best churn --metric accuracy",
    "dvc init": "dvc init -c exp.yaml --dry-run",
    "container build": "container build --framework sklearn --dockerfile-only -t probe:1",
    "container run": "container run --dry-run -- train -c exp.yaml",
    "container k8s train": "container k8s train --name x --image i -- train -c exp.yaml",
    "container k8s tune": "container k8s tune --name x --image i --storage postgresql://u@h/db -- -c exp.yaml",
    "container k8s serve": "container k8s serve --name x --image i",
}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runner(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kampai", *args], cwd=folder, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A git repository with a CSV, an experiment config and one trained run."""
    folder = tmp_path_factory.mktemp("startup")
    write_churn_csv(folder / "churn.csv")
    (folder / "exp.yaml").write_text("task: classification\ndata:\n  path: churn.csv\n  target: churn\n")
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    done = _runner(folder, "train", "-c", "exp.yaml", "--json", "model.params.n_estimators=5")
    assert done.returncode == 0, done.stderr
    return {"folder": str(folder), "run": json.loads(done.stdout)["run_dir"]}


def probe(folder: str | Path, argv: list[str], env: dict[str, str] | None = None) -> dict:
    """``runner ARGV`` under the probe: what it had written when it first imported a framework."""
    folder = Path(folder)
    result = folder / "probe.json"
    result.unlink(missing_ok=True)
    with open(folder / "out.txt", "w") as out, open(folder / "err.txt", "w") as err:
        subprocess.run([sys.executable, str(PROBE), str(result), *argv], cwd=folder, stdout=out, stderr=err,
                       stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, timeout=300)
    found = json.loads(result.read_text())
    found["output"] = (folder / "out.txt").read_text() + (folder / "err.txt").read_text()
    return found


def test_every_command_is_probed() -> None:
    """A new command (built-in or a bundled plugin's) is added to COMMANDS with arguments."""
    from test_notebook_api import _commands

    missing = sorted(set(_commands()) - set(COMMANDS))
    assert not missing, f"add these commands to COMMANDS (and benchmarks/startup.py): {missing}"


@pytest.mark.parametrize("command", [pytest.param(c, marks=pytest.mark.slow) if c == "registry list" else c
                                     for c in COMMANDS])  # registry list registers the model first (MLflow)
def test_the_first_line_comes_before_any_framework(project: dict[str, str], command: str) -> None:
    argv = COMMANDS[command].format(run=project["run"], port=_free_port()).split()
    if command.startswith("registry") and command != "registry register":
        pytest.importorskip("mlflow")
        if not (Path(project["folder"]) / ".kampai" / "mlflow.db").exists():
            done = _runner(Path(project["folder"]), "registry", "register", project["run"], "--name", "churn")
            assert done.returncode == 0, done.stderr
    found = probe(project["folder"], argv)
    assert found["written"] > 0, f"runner {command} imported {found['heavy']} before printing anything"
    if found["heavy"] is not None:  # stopped at the import: the line said what comes
        assert "…" in found["output"], found["output"]


def test_quiet_commands_print_no_status_line(project: dict[str, str]) -> None:
    for quiet in ("-q", "--json"):
        found = probe(project["folder"], ["train", "-c", "exp.yaml", quiet])
        assert found["heavy"] is not None and found["written"] == 0, found
    # a torchrun worker (runner train --nproc-per-node): the launching command printed its own
    found = probe(project["folder"], ["train", "-c", "exp.yaml"], env={"KAMPAI_DISTRIBUTED_WORKER": "1"})
    assert found["heavy"] is not None and found["written"] == 0, found


def test_a_find_spec_lookup_is_not_announced(tmp_path: Path) -> None:
    """``importlib.util.find_spec`` (plugins check what is installed with it) prints nothing;
    the import itself does, once."""
    code = (
        "import importlib.util, sys\n"
        "from kampai.core.cli import first_line\n"
        "first_line.watch(quiet=False)\n"
        "assert importlib.util.find_spec('sklearn') is not None\n"
        "print('looked', file=sys.stderr, flush=True)\n"
        "import sklearn, pandas\n"
        "first_line.unwatch()\n"
        "assert not any(type(f).__name__ == '_Watch' for f in sys.meta_path)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["looked", "loading scikit-learn …"]


def test_train_says_when_the_framework_import_starts(project: dict[str, str]) -> None:
    """In a log (not a terminal) the framework's import shows when it starts, then the
    libraries step with the time it really took (issue 24)."""
    done = _runner(Path(project["folder"]), "train", "-c", "exp.yaml", "model.params.n_estimators=5")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "loading scikit-learn …" and lines[1].startswith("✓ libraries"), lines
    assert "sklearn" in lines[1] and float(lines[1].rsplit(None, 1)[-1].rstrip("s")) > 0


def test_a_program_calling_main_gets_no_status_line(project: dict[str, str]) -> None:
    """main(argv) from a program (the tests' invoke, a notebook) prints only the command's
    own output: a config mistake stays one line wherever the framework was imported."""
    code = ("import sys\nfrom kampai.core.cli import main\n"
            "main(['train', '-c', 'exp.yaml', 'model.params.n_estimators=5'])\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=project["folder"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0].startswith("✓ libraries"), done.stderr


# ---------------------------------------------------------------------------------------
# runner --help from the cache
# ---------------------------------------------------------------------------------------

HELP_PROBE = """
import json, sys
from kampai.core.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
sys.stdout.flush()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
      ("typer", "click", "pluggy", "rich", "kampai"))), file=sys.stderr)
"""


def _help(env: dict[str, str], cwd: Path) -> tuple[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **env}, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def test_help_comes_from_the_cache_without_typer(tmp_path: Path) -> None:
    env = {"KAMPAI_CACHE_DIR": str(tmp_path / "cache")}
    rendered, loaded = _help(env, tmp_path)
    assert "typer" in loaded and "Commands" in rendered and "serve" in rendered  # plugins' commands too
    assert [f.name.startswith("help-") for f in (tmp_path / "cache").iterdir()].count(True) == 1
    cached, loaded = _help(env, tmp_path)
    assert cached == rendered
    assert loaded == ["kampai", "kampai.core", "kampai.core.cli", "kampai.core.cli.help_cache",
                      "kampai.core.envflags"], loaded
    # blocking a plugin, or a narrower terminal, is another help text
    blocked, loaded = _help({**env, "KAMPAI_BLOCK_PLUGINS": "serve"}, tmp_path)
    assert "typer" in loaded and " serve " not in blocked and " serve " in cached
    narrow, _ = _help({**env, "COLUMNS": "60"}, tmp_path)
    assert max(map(len, narrow.splitlines())) <= 60 < max(map(len, cached.splitlines()))
    for switch in ("KAMPAI_NO_PLUGIN_CACHE", "KAMPAI_TRACE_PLUGINS"):
        _, loaded = _help({**env, switch: "1"}, tmp_path)
        assert "typer" in loaded, switch


def test_a_changed_plugin_renders_the_help_again(tmp_path: Path) -> None:
    """An edited module (an editable install) or a new distribution is seen at once."""
    site = tmp_path / "site"
    dist = site / "kampai_probe-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kampai-probe\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("[kampai]\nprobe = kampai_probe\n")
    module = site / "kampai_probe.py"

    def write(help_text: str) -> None:
        module.write_text(
            "import typer\nfrom kampai.plugin import hookimpl\n\n"
            "@hookimpl\ndef kampai_register_commands(app):\n"
            f"    app.add_typer(typer.Typer(help={help_text!r}), name='probe')\n")

    env = {"KAMPAI_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    write("First words.")
    first, _ = _help(env, tmp_path)
    assert "First words." in first
    write("Second words, longer.")
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 10**9))
    second, loaded = _help(env, tmp_path)
    assert "Second words, longer." in second and "typer" in loaded
    import shutil

    shutil.rmtree(dist)  # uninstalled: site/ changed, the command is gone
    third, _ = _help(env, tmp_path)
    assert "probe" not in third


def test_a_tampered_cache_entry_is_not_printed(tmp_path: Path) -> None:
    env = {"KAMPAI_CACHE_DIR": str(tmp_path / "cache")}
    rendered, _ = _help(env, tmp_path)
    entry = next((tmp_path / "cache").glob("help-*.txt"))
    header, material, text, *files = entry.read_text().split("\0")
    entry.write_text("\0".join([header, material, text + "\x1b]0;owned\x07", *files]))
    again, loaded = _help(env, tmp_path)
    assert again == rendered and "typer" in loaded  # rendered anew, the escape never printed


def test_the_help_cache_reads_the_user_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from kampai.core.cli import help_cache
    from kampai.core.diskcache import cache_dir

    for env in ({"KAMPAI_CACHE_DIR": str(tmp_path / "a")}, {"XDG_CACHE_HOME": str(tmp_path / "b")}, {}):
        for var in ("KAMPAI_CACHE_DIR", "XDG_CACHE_HOME"):
            monkeypatch.delenv(var, raising=False)
        for var, value in env.items():
            monkeypatch.setenv(var, value)
        assert Path(help_cache._cache_dir()) == cache_dir()


def test_help_imports_no_framework_rendered_or_cached(tmp_path: Path) -> None:
    """``-X importtime`` lists every module ``runner --help`` imports: none of
    test_imports.HEAVY when rendered (every plugin loaded), and no typer, pluggy or rich
    from the cache."""
    from test_imports import HEAVY

    def imported(env: dict[str, str]) -> set[str]:
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "kampai", "--help"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "KAMPAI_CACHE_DIR": str(tmp_path / "cache"), **env})
        assert done.returncode == 0 and "Commands" in done.stdout, done.stderr[-2000:]
        return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in done.stderr.splitlines()
                if line.startswith("import time:") and "|" in line} - {"imported package"}

    rendered = imported({})
    assert "typer" in rendered and not rendered & set(HEAVY), sorted(rendered & set(HEAVY))
    cached = imported({})
    assert not cached & {*HEAVY, "typer", "click", "pluggy", "rich", "omegaconf", "yaml"}, sorted(cached)


def test_cache_clear_removes_the_help_text(tmp_path: Path) -> None:
    env = {"KAMPAI_CACHE_DIR": str(tmp_path / "cache")}
    _help(env, tmp_path)
    assert list((tmp_path / "cache").glob("help-*.txt"))
    done = subprocess.run([sys.executable, "-m", "kampai", "cache", "clear", "user"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    assert not list((tmp_path / "cache").glob("help-*.txt"))
