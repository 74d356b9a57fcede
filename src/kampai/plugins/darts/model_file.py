"""Saving a fitted Darts model (Darts' own ``save``, the series and scaling pickled, a
``forecaster.json`` with the sha256 of every file) and loading it from verified bytes.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from kampai.plugin import RunError
from kampai.plugin.io import import_object
from kampai.plugin.runs import file_sha256, open_checked
from kampai.plugins.darts.building import QUIET_TRAINER, _quiet_lightning
from kampai.plugins.darts.forecaster import Forecaster

MODEL_FILE = "model.darts"
SERIES_FILE = "series.pkl"
INFO_FILE = "forecaster.json"


class ModelFile:
    """The Darts adapter's ``save`` and ``load``."""

    def save(self, model: Forecaster, path: Path) -> None:
        import darts

        model.model.save(str(path / MODEL_FILE))
        with open(path / SERIES_FILE, "wb") as fh:
            pickle.dump({"series": model.series, "scaling": model.scaling}, fh)
        files = sorted(p.name for p in path.iterdir())
        info = {"format": "darts", "darts": darts.__version__, "estimator": model.estimator,
                "class": f"{type(model.model).__module__}:{type(model.model).__name__}",
                "horizon": model.horizon, "num_samples": model.num_samples, "quantiles": list(model.quantiles),
                "torch": model.is_torch, "settings": {k: v for k, v in model.settings.items()},
                "sha256": {name: file_sha256(path / name) for name in files}}
        (path / INFO_FILE).write_text(json.dumps(info, indent=2, default=str))

    def load(self, path: Path) -> Forecaster:
        try:
            info = json.loads((path / INFO_FILE).read_text())
        except (OSError, ValueError):
            raise RunError(f"Model metadata '{path / INFO_FILE}' is missing or corrupt.") from None
        digests = info.get("sha256") or {}
        for name, digest in digests.items():
            if name != SERIES_FILE:  # Darts reopens its own files: a run gives it a verified private copy
                open_checked(path / name, digest).close()
        with open_checked(path / SERIES_FILE, digests.get(SERIES_FILE)) as fh:
            try:
                stored = pickle.load(fh)  # the bytes just hashed, not the path opened again
            except Exception as exc:
                raise RunError(f"Cannot load the Darts model in '{path}': {exc}") from None
        cls = import_object(info["class"])
        try:
            if info.get("torch"):
                _quiet_lightning()
                import torch

                accelerator = "gpu" if torch.cuda.is_available() and info["settings"].get("device") != "cpu" \
                    else "cpu"
                darts_model = cls.load(str(path / MODEL_FILE), pl_trainer_kwargs={**QUIET_TRAINER,
                                       "accelerator": accelerator}, trusted=True,
                                       map_location=None if accelerator == "gpu" else "cpu")
            else:
                darts_model = cls.load(str(path / MODEL_FILE), trusted=True)
        except Exception as exc:
            raise RunError(f"Cannot load the Darts model in '{path}': {exc}") from None
        return Forecaster(model=darts_model, estimator=info["estimator"], horizon=int(info["horizon"]),
                          num_samples=int(info["num_samples"]), quantiles=tuple(info["quantiles"]),
                          series=stored["series"], scaling=stored["scaling"], scale=stored["scaling"] is not None,
                          settings=info.get("settings") or {})
