"""kampai runs as MLflow ``pyfunc`` models.

Every logged run's ``run/`` artifact folder gets an ``MLmodel`` file whose
``python_function`` flavour names this module as its loader, so ``mlflow.pyfunc.load_model``
and ``mlflow models serve -m models:/NAME/1 --env-manager local`` load the run folder
through kampai (no pickle: the model is read by its framework's own ``load``).
:class:`KampaiModel` is the same thing as a ``PythonModel`` for
``mlflow.pyfunc.log_model(python_model=KampaiModel(), artifacts={"run": RUN_DIR})``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc

LOADER = "kampai.plugins.mlflow.pyfunc"


class KampaiModel(mlflow.pyfunc.PythonModel):
    """A kampai run folder as a pyfunc: ``predict(frame, params={"horizon": 12, "k": 5})``."""

    def __init__(self, run_dir: str | Path | None = None) -> None:
        self.run_dir = run_dir
        self.run: Any = None

    def load_context(self, context: Any) -> None:
        self._open(context.artifacts.get("run") if context and context.artifacts else self.run_dir)

    def _open(self, run_dir: Any) -> KampaiModel:
        from kampai.plugin import open_run

        self.run = open_run(Path(run_dir))
        return self

    def predict(self, context, model_input=None, params=None):
        import pandas as pd

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
    """MLflow's loader hook: ``path`` is the ``data`` folder of the flavour (the run folder)."""
    return _Loaded(KampaiModel(path)._open(path))


def write_mlmodel(run: Any, dest: Path) -> list[Path]:
    """``MLmodel`` (+ requirements) for a run folder, written into ``dest``; the files to upload
    next to the run's files (they are not part of the run folder or its manifest)."""
    from importlib.metadata import version

    from mlflow.models import Model
    from mlflow.pyfunc import add_to_model

    model = Model(run_id=None, model_uuid=None)
    env_packages = [f"kampai=={version('kampai')}",
                    *(f"{k}=={v}" for k, v in sorted((run.meta.get("versions") or {}).items()) if v)]
    (dest / "requirements.txt").write_text("\n".join(env_packages) + "\n")
    add_to_model(model, loader_module=LOADER, data=".")
    model.metadata = {"kampai_run_id": run.run_id, "task": run.meta.get("task"),
                      "framework": run.meta.get("framework")}
    model.save(str(dest / "MLmodel"))
    return [dest / "MLmodel", dest / "requirements.txt"]
