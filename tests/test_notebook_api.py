"""The Python API beyond train/tune (kampai.lab): every command has its counterpart, and
each call does what its command does, on real runs, a real registry and a real server."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

import kampai
from kampai.lab.counterparts import COUNTERPARTS, NO_COUNTERPART

IRIS = {"task": "classification", "data": "sklearn:iris"}


def _commands() -> list[str]:
    """Every command path of ``runner``, with every plugin's command groups added."""
    import typer.main

    from kampai.core import cli

    cli.add_plugin_commands([])
    found: list[str] = []

    def walk(command, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found.append(" ".join(path))

    walk(typer.main.get_command(cli.app), [])
    return found


def _resolve(name: str) -> object:
    """``kampai.registry.best`` -> that object; ``kampai.load_run(...).predict`` -> the method
    of what load_run returns."""
    from kampai.api import Run as TrainedRun

    obj: object = kampai
    for part in name.replace("(...)", "()").split(".")[1:]:
        if part.endswith("()"):
            assert callable(getattr(obj, part[:-2])), name
            obj = TrainedRun
            continue
        obj = getattr(obj, part)
    return obj


def test_every_command_has_a_python_counterpart_or_a_reason() -> None:
    commands = _commands()
    assert {"train", "runs compare", "doctor", "init"} <= set(commands)
    missing = [c for c in commands if c not in COUNTERPARTS and c not in NO_COUNTERPART]
    assert not missing, f"commands with neither a Python counterpart nor a reason: {missing}"
    assert not set(COUNTERPARTS) & set(NO_COUNTERPART)
    groups = {c.split()[0] for c in commands}  # a plugin whose extra is missing adds no commands
    stale = sorted(c for c in (set(COUNTERPARTS) | set(NO_COUNTERPART)) - set(commands) if c.split()[0] in groups)
    assert not stale, f"listed but no such command: {stale}"
    for command, name in COUNTERPARTS.items():
        target = _resolve(name)
        assert callable(target), f"{command}: {name} is not callable"
        if "(...)" in name:  # a run's own method: its example is kampai.train's
            continue
        doc = target.__doc__ or ""
        assert ">>>" in doc or "::" in doc, f"{name} ({command}) has no example in its docstring"


def test_docs_list_every_counterpart() -> None:
    text = (Path(__file__).parents[1] / "docs" / "python-api.md").read_text()
    for command, name in COUNTERPARTS.items():
        assert f"`runner {command}" in text, command
        assert name.split("(")[0] in text, name
        if "(...)" in name:  # kampai.load_run(ref).predict(df)
            assert f".{name.rsplit('.', 1)[1]}(" in text, name
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "docs/python-api.md" in readme


@pytest.fixture
def two_runs() -> list:
    fast = kampai.train(**IRIS, model="GaussianNB", quiet=True)
    tree = kampai.train(**IRIS, model="DecisionTreeClassifier", params={"max_depth": 2}, quiet=True)
    return [fast, tree]


def test_runs_is_the_runs_list_and_compare_table(two_runs, capsys) -> None:
    fast, tree = two_runs
    table = kampai.runs()
    assert list(table["run_id"]) == [tree.run_id, fast.run_id]  # newest first, as runner runs list
    for column in ("task", "estimator", "protocol", "data_fingerprint", "fit_seconds", "model_size_bytes",
                   "accuracy", "created", "param:max_depth", "run_dir"):
        assert column in table.columns, column
    assert table.set_index("run_id").loc[tree.run_id, "param:max_depth"] == 2
    ranked = kampai.runs(metric="accuracy", top=1)
    assert len(ranked) == 1 and ranked["accuracy"][0] == max(fast.metrics["accuracy"], tree.metrics["accuracy"])
    assert kampai.runs(task="regression").empty
    assert kampai.runs("nowhere").empty
    assert capsys.readouterr().out == ""  # quiet=True: nothing printed


def test_compare_returns_figures_and_the_ranked_table(two_runs, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    result = kampai.compare("accuracy", out_dir="plots")
    assert result.metric == "accuracy" and result.greater_is_better
    assert len(result.table) == 2 and len(result.figures) == 2
    assert all(isinstance(f, Figure) for f in result.figures)
    assert sorted(Path(f).name for f in result.files) == ["score_vs_model_size.png", "score_vs_training_time.png"]
    page = result._repr_html_()
    assert "data:image/png;base64," in page and two_runs[0].run_id in page
    assert kampai.compare(plots=False).figures == []


def test_runs_render_in_jupyter_with_the_baseline_beside_each_metric(two_runs) -> None:
    pytest.importorskip("matplotlib")  # the plots inline
    fast, _ = two_runs
    page = fast._repr_html_()
    for text in (fast.run_id, "accuracy", "holdout", "GaussianNB", str(Path(fast.run_dir).resolve()),
                 "data:image/png;base64,"):
        assert text in page, text
    loaded = kampai.load_run(fast.run_dir)
    assert fast.run_id in loaded._repr_html_()
    # a run whose metrics.json carries the dummy baseline shows it in its own column
    from kampai.lab.html import run_html

    loaded.metrics = {"accuracy": 0.9, "accuracy_std": 0.01, "baseline_accuracy": 0.33, "f1_macro": 0.8}
    page = run_html(loaded, plots=False)
    assert "<th>baseline</th>" in page and "0.3300" in page and "0.0100" in page
    assert "<td>baseline_accuracy</td>" not in page
    loaded.metrics = {"accuracy": 0.9}
    assert "baseline" not in run_html(loaded, plots=False)


def test_html_escapes_what_a_run_records(two_runs) -> None:
    from kampai.lab.html import run_html

    run = kampai.load_run(two_runs[0].run_dir)
    run.meta = {**run.meta, "estimator": "<script>alert(1)</script>"}
    assert "<script>alert" not in run_html(run, plots=False)


def test_study_tune_and_train_from_the_study(capsys) -> None:
    pytest.importorskip("optuna")
    result = kampai.tune(**IRIS, model="DecisionTreeClassifier", trials=3, study="iris-tree", quiet=True,
                         search={"max_depth": {"type": "int", "low": 1, "high": 4}})
    assert capsys.readouterr().out == ""
    assert "iris-tree" in result._repr_html_()
    study = kampai.study("iris-tree")
    assert study.best_params == result.best_params and study.metric == result.metric
    assert len(study.trials) == len(result.trials) >= 3 and "param:max_depth" in study.trials
    assert study.plots and all(p.suffix == ".png" for p in study.plots)
    page = study._repr_html_()
    assert "Best params" in page and "max_depth" in page and "data:image/png" in page
    run = study.train(quiet=True)
    assert run.config["model"]["params"]["max_depth"] == study.best_params["max_depth"]
    with pytest.raises(kampai.KampaiError, match="iris-tre"):
        kampai.study("iris-tre")


def test_inspect_learning_curve_and_report(two_runs) -> None:
    pytest.importorskip("matplotlib")
    fast, _ = two_runs
    steps = kampai.inspect(fast)
    assert {"name", "shape", "columns"} <= set(steps.columns) and len(steps) >= 1
    curve = kampai.learning_curve(**{k: v for k, v in IRIS.items()}, model="GaussianNB", rows="50%,100%",
                                  quiet=True, out_dir="curve")
    assert list(curve.table["rows"]) == sorted(curve.table["rows"]) and len(curve.table) == 2
    assert {Path(f).name for f in curve.files} >= {"learning_curve.csv", "learning_curve.png"}
    assert "data:image/png" in curve._repr_html_()
    page = kampai.report(fast)
    assert page == Path(fast.run_dir) / "report.html" and page.is_file()
    assert "srcdoc=" in page._repr_html_()


def test_serve_in_the_background_answers_real_http(two_runs) -> None:
    pytest.importorskip("uvicorn")
    pytest.importorskip("fastapi")
    fast, _ = two_runs
    with kampai.serve(fast) as server:
        assert server.running and server.url.startswith("http://127.0.0.1:")
        body = json.dumps({"records": [{"sepal length (cm)": 5.1, "sepal width (cm)": 3.5,
                                     "petal length (cm)": 1.4, "petal width (cm)": 0.2}]}).encode()
        request = urllib.request.Request(server.url + "/predict", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert answer["predictions"][0]["prediction"] == "setosa", answer
        assert server.url in server._repr_html_()
    assert not server.running
    with pytest.raises(OSError):  # the port is free again: nothing answers
        urllib.request.urlopen(server.url + "/health", timeout=5)
    with pytest.raises(kampai.KampaiError, match="not loopback"):
        kampai.serve(fast, host="0.0.0.0")


@pytest.mark.slow
def test_registry_register_promote_best_and_load(two_runs, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    fast, tree = two_runs
    first = kampai.registry.register(fast, "iris")
    assert first["version"] == 1 and first["stage"] is None
    second = kampai.registry.register(best=True, metric="accuracy", name="iris", stage="staging")
    assert second["version"] == 2
    assert kampai.registry.promote("iris@1", "production") == {"name": "iris", "version": 1, "stage": "production"}
    best = kampai.registry.best("iris", "accuracy")
    assert best["version"] in (1, 2) and best["value"] == max(fast.metrics["accuracy"], tree.metrics["accuracy"])
    models = kampai.registry.list()
    assert list(models["name"]) == ["iris"] and models["aliases"][0] == {"production": 1, "staging": 2}
    assert list(kampai.registry.show("iris")["version"]) == [1, 2]
    model = kampai.registry.load("iris@production")
    assert model.run_id == fast.run_id
    assert list(model.predict("sklearn:iris")["prediction"]) == list(fast.predict("sklearn:iris")["prediction"])
    with pytest.raises(kampai.KampaiError, match="name="):
        kampai.registry.register(fast)


OUTSIDE = """
import json, sys
import kampai
run = kampai.train(task="classification", data="sklearn:iris", model="GaussianNB")
kampai.tune(task="classification", data="sklearn:iris", model="GaussianNB", trials=2,
            search={"var_smoothing": {"type": "float", "low": 1e-9, "high": 1e-6, "log": True}})
kampai.runs()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("IPython", "ipykernel", "ipywidgets", "nbformat")
                        or m in ("kampai.core.notebook", "kampai.lab.html"))))
"""


def test_nothing_of_jupyter_is_imported_outside_a_notebook() -> None:
    pytest.importorskip("optuna")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", OUTSIDE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    assert "✓ fit GaussianNB" in done.stderr  # the step log as in a terminal


CREATE_STORE = """
import sys
from kampai.plugins.mlflow import store
store.client(sys.argv[1]).search_experiments()
"""


@pytest.mark.slow
def test_processes_creating_one_new_mlflow_store_wait_for_each_other(tmp_path: Path) -> None:
    """A notebook trains, tunes and registers at once: several processes open the project's
    new MLflow store together; one creates it (MLflow's migrations), the others wait."""
    pytest.importorskip("mlflow")
    import os
    import subprocess
    import sys

    uri = "sqlite:///" + str(tmp_path / ".kampai" / "mlflow.db")
    env = {**os.environ, "KAMPAI_CACHE_DIR": str(tmp_path / "cache")}  # no empty-store template yet
    workers = [subprocess.Popen([sys.executable, "-c", CREATE_STORE, uri], env=env, stderr=subprocess.PIPE, text=True)
               for _ in range(3)]
    errors = [w.communicate(timeout=300)[1] for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], errors
