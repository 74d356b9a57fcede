"""kampai runs as MLflow ``pyfunc`` models.

Every logged run's ``run/`` artifact folder gets an ``MLmodel`` file whose
``python_function`` flavour names this module as its loader, so ``mlflow.pyfunc.load_model``
and ``mlflow models serve -m models:/NAME/1 --env-manager local`` load the run folder
through kampai (no pickle: the model is read by its framework's own ``load``).
:class:`KampaiModel` is the same thing as a ``PythonModel`` for
``mlflow.pyfunc.log_model(python_model=KampaiModel(), artifacts={"run": RUN_DIR})``.

The flavour files (``MLmodel``, ``requirements.txt``) are written after the run was signed,
so they are sealed with the key beside it (``kampai-seal.json``, bound to the run's
manifest).  kampai's loader verifies the manifest and the seal before it loads anything, and
kampai's commands (``NAME@stage``) refuse a model whose ``MLmodel`` names another loader.
What ``mlflow.pyfunc.load_model`` does with an ``MLmodel`` rewritten to another loader is
MLflow's: it never calls kampai (docs/tracking.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd  # loaded by mlflow.pyfunc already; the type hint of predict() below

LOADER = "kampai.plugins.mlflow.pyfunc"
#: what write_mlmodel writes beside a run's files, sealed with the key
FLAVOUR_FILES = ("MLmodel", "requirements.txt")


class KampaiModel(mlflow.pyfunc.PythonModel):
    """A kampai run folder as a pyfunc: ``predict(frame, params={"horizon": 12, "k": 5})``."""

    def __init__(self, run_dir: str | Path | None = None) -> None:
        self.run_dir = run_dir
        self.run: Any = None

    def load_context(self, context: Any) -> None:
        self._open(context.artifacts.get("run") if context and context.artifacts else self.run_dir)

    def _open(self, run_dir: Any) -> KampaiModel:
        from kampai.plugin.runs import load_run, verify_manifest

        verify_manifest(Path(run_dir))  # with the key, before anything of the run is read
        self.run = load_run(Path(run_dir))
        return self

    # the pd.DataFrame hint: MLflow otherwise warns, in every process that defines this class
    # (a notebook shows it), that predict() has no type hints; with a DataFrame hint it neither
    # validates nor infers a schema (kampai checks the input against the run's signature)
    def predict(self, context, model_input: pd.DataFrame = None, params=None):
        params = dict(params or {})
        horizon = params.pop("horizon", None)
        frame = model_input if isinstance(model_input, pd.DataFrame) and len(model_input.columns) else None
        if frame is not None and len(frame) == 0:
            frame = None
        table = self.run.predict(frame, horizon=None if horizon is None else int(horizon), **params)
        return table.drop(columns=[c for c in ("fold", "target") if c in table.columns])


class _Loaded:
    """What ``_load_pyfunc`` gives MLflow: ``predict(model_input, params=None)``."""

    def __init__(self, model: KampaiModel) -> None:
        self.model = model

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return self.model.predict(None, model_input, params)


def _load_pyfunc(path: str) -> _Loaded:
    """MLflow's loader hook: ``path`` is the ``data`` folder of the flavour (the run folder,
    with the flavour files): the manifest and the flavour files' seal are verified first."""
    from kampai.plugin.runs import verify_manifest

    verify_manifest(Path(path), label=f"MLflow model '{path}'")
    verify_flavour(Path(path), f"MLflow model '{path}'")
    return _Loaded(KampaiModel(path)._open(path))


def loader_problem(folder: Path) -> str | None:
    """Why ``folder/MLmodel`` is not kampai's pyfunc (another flavour or loader), else None."""
    import yaml

    try:
        text = (folder / "MLmodel").read_text()
        if len(text) > 1_000_000:
            return "its MLmodel is too large to be kampai's"
        flavors = (yaml.safe_load(text) or {}).get("flavors")
    except FileNotFoundError:
        return "it has no MLmodel"
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return "its MLmodel is not readable YAML"
    if not isinstance(flavors, dict):
        return "its MLmodel declares no flavours"
    pyfunc = flavors.get("python_function")
    loader = pyfunc.get("loader_module") if isinstance(pyfunc, dict) else None
    if loader != LOADER:
        return f"its MLmodel loads with {str(loader)[:80]!r}, not kampai's loader ({LOADER})"
    if set(flavors) != {"python_function"}:
        return f"its MLmodel declares other flavours ({', '.join(sorted(map(str, flavors)))}) than kampai's"
    return None


def verify_flavour(folder: Path, label: str) -> None:
    """Refuse (RunError) a run folder from the artifact store whose ``MLmodel`` names anything
    but kampai's loader, or whose flavour files are not the ones kampai sealed."""
    from kampai.plugin import RunError
    from kampai.plugin.runs import verify_sealed

    problem = loader_problem(folder)
    if problem:
        raise RunError(f"{label}: {problem} (rewritten in the artifact store?). Refusing to load it.")
    verify_sealed(folder, FLAVOUR_FILES, label)


def requirements(versions: dict[str, Any], kampai_version: str) -> str:
    """``requirements.txt`` pip (and MLflow's environment managers) can install: one pin per
    distribution (``kampai`` once, names compared as pip does), and the run's Python version
    as a comment, since ``python`` is not a package (MLflow's ``python_env.yaml`` holds it)."""
    import re

    def key(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    pins = {"kampai": f"kampai=={kampai_version}"}
    for name, pinned in sorted(versions.items()):
        if pinned and key(name) not in ("python", *pins):
            pins[key(name)] = f"{name}=={pinned}"
    head = f"# python {versions['python']}\n" if versions.get("python") else ""
    return head + "\n".join(pins.values()) + "\n"


def write_mlmodel(run: Any, dest: Path) -> list[Path]:
    """``MLmodel`` (+ requirements) for a run folder, written into ``dest`` with their seal; the
    files to upload next to the run's files (they are not part of the run folder or its
    manifest: the seal binds them to it)."""
    from importlib.metadata import version

    from mlflow.models import Model
    from mlflow.pyfunc import add_to_model

    from kampai.plugin.runs import MANIFEST, file_sha256, seal_files

    model = Model(run_id=None, model_uuid=None)
    (dest / "requirements.txt").write_text(requirements(run.meta.get("versions") or {}, version("kampai")))
    add_to_model(model, loader_module=LOADER, data=".")
    model.metadata = {"kampai_run_id": run.run_id, "task": run.meta.get("task"),
                      "framework": run.meta.get("framework")}
    model.save(str(dest / "MLmodel"))
    seal = seal_files(dest, FLAVOUR_FILES, file_sha256(Path(run.run_dir) / MANIFEST))
    return [dest / "MLmodel", dest / "requirements.txt", seal]
