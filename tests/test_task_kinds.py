"""The core knows no task by name: a task declares what it predicts (``target_kind``), its
predict options (``predict_keys`` + ``predict_input``) and its plots (``plots`` /
``plot_files``), and the core, insight and dvc go by those declarations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kampai
from helpers import no_tracker  # noqa: F401  (autouse)
from kampai.core.contract import PLOTS, TARGET_KINDS, Task, TaskData
from kampai.core.contract_checks import task_problems
from kampai.core.errors import KampaiError
from kampai.core.host import get_host

SRC = Path(kampai.__file__).parent
BUILT_IN = {"classification": "labels", "text-classification": "labels", "image-classification": "labels",
            "regression": "values", "clustering": "clusters", "forecasting": "series", "recommendation": "items"}


def test_built_in_tasks_declare_what_they_predict_and_their_plots() -> None:
    tasks = dict(get_host().tasks().items())
    for name, kind in BUILT_IN.items():
        if name in tasks:
            assert tasks[name].target_kind == kind, name
            assert set(tasks[name].plots) <= set(PLOTS), name
    assert tasks["classification"].plots == ("confusion", "roc")
    assert tasks["forecasting"].plot_files == ("forecast.png",)
    assert "predict_options" in tasks["forecasting"].capabilities and tasks["forecasting"].predict_keys == ("horizon",)


class _Odd(Task):
    name = "odd"

    def prepare(self, frame, data_cfg, *, training):
        return TaskData(X=frame)

    def format_predictions(self, data, prediction):
        return data.X


def test_a_task_with_an_unknown_target_kind_or_plot_is_refused() -> None:
    assert task_problems(_Odd()) == []
    odd_kind = type("OddKind", (_Odd,), {"target_kind": "colours"})()
    assert any("target_kind 'colours'" in p for p in task_problems(odd_kind))
    odd_plot = type("OddPlot", (_Odd,), {"plots": ("pie",)})()
    assert any("unknown plot(s) 'pie'" in p for p in task_problems(odd_plot))
    assert set(TARGET_KINDS) >= set(BUILT_IN.values())


def test_insight_draws_every_standard_plot() -> None:
    pytest.importorskip("matplotlib")
    from kampai.plugins.insight.plots import DRAW

    assert set(DRAW) == set(PLOTS)


def test_an_option_for_another_task_names_that_task() -> None:
    run = kampai.train(task="classification", data="sklearn:iris", params={"n_estimators": 5}, verbose=False)
    with pytest.raises(KampaiError, match=r"takes no predict options \(got horizon: horizon is an option of "
                                          r"forecasting\)"):
        run.predict("sklearn:iris", horizon=3)
    assert len(run.predict("sklearn:iris", horizon=None)) == 150  # an option given as None is not given


#: what the core and the plot/pipeline plugins must not do: find a task by its name
BY_NAME = re.compile(r"""(name|task)\s*(==|!=)\s*["'](classification|regression|clustering|forecasting|"""
                     r"""recommendation|text-classification|image-classification)["']|endswith\(["']classification""")


@pytest.mark.parametrize("folder", ["core", "plugins/insight", "plugins/dvc", "plugins/serve"])
def test_the_core_insight_dvc_and_serve_know_no_task_by_name(folder: str) -> None:
    found = [f"{path.relative_to(SRC)}:{n}" for path in sorted((SRC / folder).rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if BY_NAME.search(line)]
    assert not found, found
