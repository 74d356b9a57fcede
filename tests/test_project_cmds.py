"""``runner init`` (a project that trains at once, never overwriting a changed file) and
``runner doctor`` (the environment, as text or JSON; exit 1 when a config's needs are missing;
light: nothing heavy imported)."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from pathlib import Path

import pytest

from helpers import invoke
from test_imports import probe


@pytest.mark.slow
def test_init_writes_a_project_that_trains_at_once(tmp_path: Path, cli) -> None:
    done = cli("init", "myproject")
    assert done.returncode == 0, done.stderr
    project = tmp_path / "myproject"
    for rel in ("conf/experiment.yaml", "data/sample.csv", "notebooks/explore.ipynb", "tests/test_experiment.py",
                ".gitignore", "README.md", ".github/workflows/train.yml", ".kampai-init.json"):
        assert (project / rel).is_file(), rel
    config = (project / "conf/experiment.yaml").read_text()
    assert config.count("\n# ") >= 8  # every section explained
    ignored = (project / ".gitignore").read_text().splitlines()
    assert {"runs/", ".kampai/", "*.key"} <= set(ignored)
    readme = (project / "README.md").read_text()
    assert "runner train -c conf/experiment.yaml" in readme and "pip install" in readme
    workflow = (project / ".github/workflows/train.yml").read_text()
    assert "runner train -c conf/experiment.yaml" in workflow and "pytest -q tests" in workflow
    notebook = json.loads((project / "notebooks/explore.ipynb").read_text())
    assert notebook["nbformat"] == 4 and any("conf/experiment.yaml" in "".join(c["source"]) for c in notebook["cells"])
    if (project / "dvc.yaml").exists():  # DVC installed: through runner dvc init's code
        assert "runner train -c params.yaml" in (project / "dvc.yaml").read_text()
        assert (project / ".dvc").is_dir() and (project / "params.yaml").is_file()
    # cd myproject && runner train -c conf/experiment.yaml
    trained = cli("train", "-c", "conf/experiment.yaml", "--json", cwd=project)
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["metrics"]["accuracy"] > 0.8


@pytest.mark.slow
def test_the_project_notebook_and_tests_run(tmp_path: Path, cli) -> None:
    """The project's notebook runs on a real kernel (from notebooks/, as Jupyter starts it)."""
    pytest.importorskip("nbclient")
    from test_notebook import _execute, problems_in

    assert cli("init", "proj", "--task", "regression").returncode == 0
    project = tmp_path / "proj"
    nb = _execute(project / "notebooks" / "explore.ipynb", project / "notebooks")
    assert problems_in(nb) == []
    assert "kampai run" in nb.cells[3].outputs[0]["data"]["text/html"]
    # the CI test the workflow runs: valid Python that trains the project's config
    test = (project / "tests" / "test_experiment.py").read_text()
    compile(test, "test_experiment.py", "exec")
    assert 'kampai.train("conf/experiment.yaml"' in test and 'run.metrics["r2"]' in test


def test_init_refuses_a_non_empty_folder_and_never_overwrites_a_changed_file(tmp_path: Path) -> None:
    from kampai.scaffold import create

    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert invoke("init", str(folder)).code == 2  # not empty: refused, nothing written
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]

    first = create(folder, force=True, pipeline=False)
    assert "conf/experiment.yaml" in first["written"] and first["kept"] == []
    (folder / "conf/experiment.yaml").write_text("# my own experiment\n")  # the user changes one
    (folder / "README.md").unlink()                                      # and removes another
    (folder / "data").joinpath("sample.csv").write_text((folder / "data/sample.csv").read_text())  # unchanged
    again = create(folder, force=True, pipeline=False)
    assert (folder / "conf/experiment.yaml").read_text() == "# my own experiment\n"
    assert "conf/experiment.yaml" in again["kept"]
    assert "README.md" in again["written"] and "data/sample.csv" in again["written"]
    assert (folder / "notes.txt").read_text() == "mine"
    # a file kampai never wrote (there before, same name) is the user's
    other = tmp_path / "q"
    other.mkdir()
    (other / "README.md").write_text("hello")
    assert "README.md" in create(other, force=True, pipeline=False)["kept"]
    assert (other / "README.md").read_text() == "hello"


def test_init_knows_its_templates(tmp_path: Path) -> None:
    import kampai
    from kampai.scaffold import create
    from kampai.scaffold.templates import EXPERIMENTS

    for task, framework in EXPERIMENTS:  # every template is a valid config (torch/fastai trained by hand)
        folder = tmp_path / f"{task}-{framework}"
        create(folder, task=task, framework=framework, pipeline=False)
        cfg = kampai.config(folder / "conf/experiment.yaml")
        assert (cfg["task"], cfg["framework"]) == (task, framework)
    cfg = kampai.config(tmp_path / "regression-sklearn/conf/experiment.yaml")
    assert cfg["model"]["estimator"] == "HistGradientBoostingRegressor"
    with pytest.raises(kampai.KampaiError, match="no template for --task forecasting"):
        create(tmp_path / "f", task="forecasting")
    (tmp_path / "file").write_text("x")
    with pytest.raises(kampai.KampaiError, match="is a file"):
        create(tmp_path / "file")


def _doctor(*args: str, cwd: Path, env: dict[str, str] | None = None, cli=None):
    done = cli("doctor", "--json", *args, cwd=cwd, env=env)
    return done.returncode, json.loads(done.stdout), done.stdout + done.stderr


def test_doctor_reports_the_environment_without_the_key(tmp_path: Path, cli) -> None:
    key = "k" * 40
    code, report, text = _doctor(cwd=tmp_path, env={"KAMPAI_SECRET_KEY": key}, cli=cli)
    assert code == 0 and report["ok"] is True
    sections = {c["section"] for c in report["checks"]}
    assert {"python", "kampai", "plugins", "extras", "gpu", "tracking", "security", "tools"} <= sections
    names = {(c["section"], c["name"]) for c in report["checks"]}
    assert {("plugins", "sklearn"), ("kampai", "kampai"), ("gpu", "torch"), ("tools", "git")} <= names or \
        ("gpu", "torch") not in names
    assert key not in text
    (secret,) = [c for c in report["checks"] if c["name"] == "secret key"]
    assert "value not shown" in secret["detail"]
    plain = cli("doctor", cwd=tmp_path, env={"KAMPAI_SECRET_KEY": key})
    assert plain.returncode == 0 and "plugins:" in plain.stdout and key not in plain.stdout


def test_doctor_warns_on_a_readable_key_and_a_project_venv_not_in_use(tmp_path: Path, cli) -> None:
    key = tmp_path / "secret.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o644)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    env = {k: v for k, v in os.environ.items() if k != "KAMPAI_SECRET_KEY"} | {"KAMPAI_KEY_FILE": str(key)}
    code, report, _ = _doctor(cwd=tmp_path, env=env, cli=cli)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["secret key"]["status"] == "warn" and "644" in checks["secret key"]["detail"]
    assert checks["project venv"]["status"] == "warn" and str(tmp_path / ".venv") in checks["project venv"]["detail"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o644  # looked at, not changed
    assert code == 0  # warnings, nothing a config needs


def test_doctor_exits_1_when_a_config_needs_what_is_missing(tmp_path: Path, cli) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    tracked = importlib.util.find_spec("mlflow") is not None  # the tracking: section is the mlflow plugin's
    (conf / "ok.yaml").write_text("task: classification\ndata: {path: sklearn:iris}\nmodel: {estimator: GaussianNB}\n"
                                  + ("tracking: {uri: 'http://127.0.0.1:9'}\n" if tracked else ""))
    code, report, _ = _doctor(cwd=tmp_path, cli=cli)
    assert code == 0 and [c["status"] for c in report["checks"] if c["section"] == "configs"] == ["ok"]
    stores = {c["detail"].split()[0]: c["status"] for c in report["checks"] if c["name"] == "mlflow store"}
    if tracked:  # the config's server is probed too (nothing listens on port 9)
        assert stores["http://127.0.0.1:9"] == "warn" and len(stores) == 2
    (conf / "lost.yaml").write_text("task: classification\nframework: nosuchframework\n")
    code, report, _ = _doctor(cwd=tmp_path, cli=cli)
    assert code == 1 and report["ok"] is False
    (lost,) = [c for c in report["checks"] if c["name"] == "conf/lost.yaml"]
    assert lost["status"] == "missing" and lost["needed"] and "nosuchframework" in lost["detail"]
    plain = cli("doctor", cwd=tmp_path)
    assert plain.returncode == 1 and "MISS" in plain.stdout and "1 problem(s)" in plain.stdout


def test_doctor_imports_nothing_heavy(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()  # configs to check: their frameworks' extras, not the frameworks
    (tmp_path / "conf" / "a.yaml").write_text("task: classification\nframework: torch\nmodel: {estimator: MLP}\n")
    (tmp_path / "conf" / "b.yaml").write_text("task: classification\nmodel: {estimator: GaussianNB}\n")
    found = probe("doctor", "--json")
    assert found["code"] in (0, 1, None)
    configs = [c for c in json.loads(found["out"])["checks"] if c["section"] == "configs"]
    assert [c["name"] for c in configs] == ["conf/a.yaml", "conf/b.yaml"]
    assert found["heavy"] == [], f"runner doctor imported {found['heavy']}"
