"""Issue 24, rough edges: a typo'd task key is matched against that task's keys only, and
``runs compare`` plot labels do not overlap (real CLI, real runs, matplotlib's renderer)."""

from __future__ import annotations

import importlib.util

import pytest

from helpers import invoke

#: keys other tasks declare in data/split: none may appear in another task's error
GRAPH_KEYS = ("edges", "directed", "node_id", "pe_steps")
RECOMMENDATION_KEYS = ("user", "item", "rating", "holdout")
FORECASTING_KEYS = ("horizon", "series_id", "past_covariates")


def one_error(*args: str) -> str:
    code, out, err = invoke("train", "--data", "nothere.csv", *args)
    assert code == 2, (code, out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def valid_keys(message: str) -> set[str]:
    return {k.strip(" .") for k in message.split("Valid keys here:")[1].split(",")}


def test_typo_in_classification_data_lists_only_its_own_keys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_error("--task", "classification", "--data", "sklearn:iris", "data.targt=species")
    assert "Did you mean 'target'?" in line
    listed = valid_keys(line)
    assert {"path", "target", "features", "drop", "group", "time"} <= listed
    assert not listed & {*GRAPH_KEYS, *RECOMMENDATION_KEYS, *FORECASTING_KEYS}, line


@pytest.mark.skipif(importlib.util.find_spec("implicit") is None, reason="implicit not installed")
def test_typo_in_recommendation_keys_suggests_its_own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_error("--task", "recommendation", "--framework", "implicit", "split.holdot=0.2")
    assert "Did you mean 'holdout'?" in line
    assert not valid_keys(line) & {*FORECASTING_KEYS}
    # 'edges' is a graph task's key: no suggestion of it, and not listed as valid here
    line = one_error("--task", "recommendation", "--framework", "implicit", "data.edgs=e.csv")
    assert "edges" not in line.replace("data.edgs", "")
    listed = valid_keys(line)
    assert {"user", "item", "rating"} <= listed
    assert not listed & {*GRAPH_KEYS, *FORECASTING_KEYS}, line


@pytest.mark.skipif(importlib.util.find_spec("darts") is None, reason="darts not installed")
def test_typo_in_forecasting_key_names_the_section_it_belongs_to(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_error("--task", "forecasting", "--framework", "darts", "data.horizn=3")
    assert "Did you mean 'split.horizon'?" in line
    listed = valid_keys(line)
    assert {"series_id", "freq"} <= listed
    assert not listed & {*GRAPH_KEYS, *RECOMMENDATION_KEYS}, line


def test_another_tasks_key_set_for_this_task_is_unknown(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_error("--task", "classification", "--data", "sklearn:iris", "data.edges=e.csv")
    assert line.startswith("Error: Unknown config key 'data.edges' for task 'classification'."), line


# ---------------------------------------------------------------------- runs compare plot labels

def test_compare_plot_labels_do_not_overlap(tmp_path, monkeypatch):
    """Six real iris runs of close scores (two seeds of three models: the same model size,
    near accuracies): no two labels of a written plot share area, measured by matplotlib's
    renderer on the figure as it is saved."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation, Text

    from kampai import api
    from kampai.core.compare import compare

    monkeypatch.chdir(tmp_path)
    for model in ("GaussianNB", "LogisticRegression", "KNeighborsClassifier"):
        for seed in (0, 1):
            api.train(task="classification", data="sklearn:iris", model=model, verbose=False,
                      tracking={"enabled": False}, overrides=[f"seed={seed}"])
    saved: list[tuple[str, list]] = []
    original = Figure.savefig

    def measure(fig, fname, *args, **kwargs):  # the real savefig, boxes measured as it draws
        original(fig, fname, *args, **kwargs)
        renderer = fig.canvas.get_renderer()
        boxes = [(t.get_text(), Text.get_window_extent(t, renderer)) for ax in fig.axes  # text, no leader
                 for t in ax.texts if isinstance(t, Annotation)]
        saved.append((str(fname), boxes))

    monkeypatch.setattr(Figure, "savefig", measure)
    result = compare("runs", metric="accuracy", out_dir=tmp_path / "plots")
    assert len(result["table"]) == 6 and len(result["plots"]) == 2
    assert len(saved) == 2
    for fname, boxes in saved:
        assert len(boxes) == 6, fname
        for i, (text_a, a) in enumerate(boxes):
            for text_b, b in boxes[i + 1:]:
                shared = (min(a.x1, b.x1) - max(a.x0, b.x0), min(a.y1, b.y1) - max(a.y0, b.y0))
                assert not (shared[0] > 0 and shared[1] > 0), f"{fname}: '{text_a}' overlaps '{text_b}'"
