"""examples/notebooks/quickstart.ipynb runs top to bottom on a real Jupyter kernel (nbclient +
ipykernel), with no error and no warning in any output; the repository holds it without
outputs.  Its tuning cell shows the progress displays a kernel gets (a bar and a step log, each
one display updated in place)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).parents[1] / "examples" / "notebooks" / "quickstart.ipynb"


def test_the_notebook_is_stored_without_outputs() -> None:
    nb = json.loads(NOTEBOOK.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, "".join(cell["source"])[:80]
        assert not cell.get("attachments")


def _texts(output: dict) -> list[str]:
    if output["output_type"] == "stream":
        return [output["text"]]
    data = output.get("data") or {}
    return [str(v) if not isinstance(v, list) else "".join(v) for k, v in data.items() if k.startswith("text/")]


def _execute(path: Path, cwd: Path, timeout: int = 240):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute(env=env)
    return nb


def problems_in(nb) -> list[str]:
    """Every error output, stderr stream and output mentioning a warning."""
    found = []
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                found.append(f"cell {i}: {output['ename']}: {output['evalue']}")
            elif output["output_type"] == "stream" and output["name"] == "stderr":
                found.append(f"cell {i} wrote to stderr: {output['text'][:300]}")
            elif any("warning" in text.lower() for text in _texts(output)):
                found.append(f"cell {i} shows a warning: {' '.join(_texts(output))[:300]}")
    return found


@pytest.mark.slow
def test_the_quickstart_notebook_runs_top_to_bottom(tmp_path: Path) -> None:
    for extra in ("optuna", "mlflow", "uvicorn", "matplotlib"):  # tune, registry, serve, compare
        pytest.importorskip(extra)
    nb = _execute(NOTEBOOK, tmp_path)
    assert problems_in(nb) == []
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    html = " ".join(o.get("data", {}).get("text/html", "") for o in outputs if o.get("data"))
    assert "kampai run" in html and "kampai study" in html  # runs and studies rendered as HTML
    assert "\x1b[" not in " ".join(t for o in outputs for t in _texts(o))  # no terminal escape codes
    last = "".join(nb.cells[-1].outputs[-1]["data"]["text/plain"])
    assert last == "['setosa', 'virginica']"
    # training with quiet=True: the run's display only; tuning: one progress display updated in
    # place to the end (an HTML <progress>, not a bar redrawn in escape codes)
    (train,) = [c for c in nb.cells if "kampai.train(" in c.source]
    assert [sorted(o.get("data", {})) for o in train.outputs] == [["text/html", "text/plain"]]
    (tune,) = [c for c in nb.cells if "kampai.tune(" in c.source]
    bars = [o for o in tune.outputs if "<progress" in o.get("data", {}).get("text/html", "")]
    assert len(bars) == 1 and "6/6" in bars[0]["data"]["text/html"]
    # the refit run's step log: one display grown line by line, not one output per line
    logs = [o["data"]["text/html"] for o in tune.outputs if "✓ fit" in o.get("data", {}).get("text/html", "")]
    assert len(logs) == 1 and "✓ saved" in logs[0] and "Run " in logs[0]


def test_problems_are_found(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    nb = new_notebook(cells=[new_code_cell("x", outputs=[new_output("stream", name="stderr", text="UserWarning: x")]),
                             new_code_cell("y", outputs=[new_output("error", ename="ValueError", evalue="bad",
                                                                    traceback=[])])])
    assert len(problems_in(nb)) == 2
    assert nbformat  # used
