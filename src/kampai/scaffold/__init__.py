"""``runner init FOLDER``: a ready kampai project.

It writes ``conf/experiment.yaml`` (commented), ``data/sample.csv``, a notebook, tests, a
``.gitignore``, a README and a CI workflow, then ``dvc.yaml``/``params.yaml`` through the
dvc plugin's own ``runner dvc init`` code (when DVC and git are there).  What it wrote is
recorded with its sha256 in ``.kampai-init.json``: run again (``--force``), it rewrites only
files still exactly as it wrote them; a file you changed, or one it did not write, is kept.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from kampai.core.errors import ConfigError, KampaiError
from kampai.scaffold import templates

MARKER = ".kampai-init.json"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _notebook(name: str) -> str:
    """A notebook (nbformat 4) that loads the project: config, a run, the runs table."""
    def cell(kind: str, text: str) -> dict[str, Any]:
        base = {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True)}
        return {**base, "outputs": [], "execution_count": None} if kind == "code" else base

    cells = [
        cell("markdown", f"# {name}\n\nThe project's experiment, from a notebook: the same config and code path "
                         "as `runner train -c conf/experiment.yaml`."),
        cell("code", "import os\nfrom pathlib import Path\n\nif Path.cwd().name == \"notebooks\":  # run from the "
                     "project root, as the CLI does\n    os.chdir(Path.cwd().parent)\n\nimport kampai"),
        cell("code", "config = kampai.config(\"conf/experiment.yaml\")\nconfig[\"model\"]"),
        cell("code", "run = kampai.train(\"conf/experiment.yaml\", quiet=True)\nrun"),
        cell("code", "kampai.runs()"),
        cell("code", "run.predict(\"data/sample.csv\").head()"),
    ]
    nb = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                      "name": "python3"},
                                       "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    for i, c in enumerate(nb["cells"]):
        c["id"] = f"cell-{i}"
    return json.dumps(nb, indent=1) + "\n"


def _sample(task: str, dataset: str, target: str) -> str:
    """A small real sample (scikit-learn's iris or diabetes) as CSV text."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{dataset}")(as_frame=True)
    frame = bunch.frame.rename(columns={"target": target})
    if task == "classification":
        frame[target] = [bunch.target_names[i] for i in bunch.target]
    return frame.head(200).to_csv(index=False, float_format="%.4g")


def files_for(name: str, task: str, framework: str) -> dict[str, str]:
    """Relative path -> text of every file ``runner init`` writes itself."""
    from importlib import metadata

    spec = templates.EXPERIMENTS.get((task, framework))
    if spec is None:
        known = ", ".join(f"--task {t} --framework {f}" for t, f in templates.EXPERIMENTS)
        raise ConfigError(f"runner init has no template for --task {task} --framework {framework} (it has: {known}).")
    try:
        version = metadata.version("kampai")
    except metadata.PackageNotFoundError:
        import kampai

        version = kampai.__version__
    threshold = "0.5" if spec["floor"] != "r2" else "0.0"
    return {
        "conf/experiment.yaml": templates.EXPERIMENT.format(name=name, task=task, framework=framework, **spec),
        "data/sample.csv": _sample(task, spec["dataset"], spec["target"]),
        "notebooks/explore.ipynb": _notebook(name),
        "tests/test_experiment.py": templates.TEST.format(floor=spec["floor"], threshold=threshold),
        ".gitignore": templates.GITIGNORE,
        "README.md": templates.README.format(name=name, version=version),
        ".github/workflows/train.yml": templates.WORKFLOW.format(version=version),
    }


def _recorded(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _ours(folder: Path, rel: str, recorded: dict[str, str]) -> bool:
    """Whether ``rel`` may be (re)written: absent, or exactly as ``runner init`` wrote it."""
    path = folder / rel
    if path.is_symlink():
        return False
    if not path.exists():
        return True
    return path.is_file() and recorded.get(rel) == _digest(path.read_bytes())


def create(folder: str | Path, *, task: str = "classification", framework: str = "sklearn",
           force: bool = False, pipeline: bool = True) -> dict[str, Any]:
    """Write the project into ``folder``; returns ``{written, kept, dvc}`` (relative paths;
    ``dvc``: None when dvc.yaml was written, else why not)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"'{folder}' is a file: give a folder for the project.")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise ConfigError(f"'{folder}' is not empty: runner init writes only into a new or empty folder "
                          "(--force writes beside what is there, never over a file you changed).")
    name = folder.resolve().name
    files = files_for(name, task, framework)
    recorded = _recorded(folder)
    written, kept = [], []
    folder.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        if not _ours(folder, rel, recorded):
            kept.append(rel)
            continue
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        recorded[rel] = _digest(path.read_bytes())
        written.append(rel)
    dvc_note = None
    if pipeline:
        dvc_note = _pipeline(folder, recorded, written, kept)
    (folder / MARKER).write_text(json.dumps({"version": 1, "written_by": "runner init",
                                             "files": dict(sorted(recorded.items()))}, indent=2) + "\n")
    return {"written": written, "kept": kept, "dvc": dvc_note}


def _pipeline(folder: Path, recorded: dict[str, str], written: list[str], kept: list[str]) -> str | None:
    """dvc.yaml and params.yaml through ``runner dvc init``'s code (a git repository first)."""
    from importlib.util import find_spec

    from kampai.core.host import blocked_names

    if "dvc" in blocked_names() or find_spec("dvc") is None:
        return "DVC is not installed (pip install 'kampai[insight]'): no dvc.yaml"
    git = shutil.which("git")
    if git is None:
        return "git is not installed: no dvc.yaml (DVC pipelines live in a git repository)"
    mine = ("dvc.yaml", "params.yaml", ".gitignore")
    changed = [rel for rel in mine[:2] if not _ours(folder, rel, recorded)]
    if changed:
        kept.extend(changed)
        return None
    inside = subprocess.run([git, "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, text=True)
    if inside.returncode != 0:
        subprocess.run([git, "init", "-q"], cwd=folder, check=True, capture_output=True)
    from kampai.plugins.dvc.pipeline import init

    try:
        init(str(folder / "conf" / "experiment.yaml"), cwd=folder, sizes=None, force=True)
    except KampaiError as exc:
        return f"no dvc.yaml: {exc}"
    for rel in mine:
        path = folder / rel
        if path.is_file() and (rel != ".gitignore" or rel in written):
            recorded[rel] = _digest(path.read_bytes())
            if rel not in written:
                written.append(rel)
    return None
