"""The model file of a run's ``model/`` folder and its ``model.json``, read with the file's
sha256 checked against the one recorded at save (joblib, skops and onnx alike)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kampai.plugin import RunError, file_sha256

INFO_FILE = "model.json"


def checked(path: Path, name: str) -> tuple[Path, dict[str, Any]]:
    """``(file, info)``: ``path / name`` and the parsed ``model.json``, once the file's sha256
    matches the recorded one; a RunError naming what is missing, corrupt or changed."""
    file = Path(path) / name
    if not file.is_file():
        raise RunError(f"No model in '{path}': {name} is missing.")
    try:
        info = json.loads((Path(path) / INFO_FILE).read_text())
        expected = info["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise RunError(f"Model metadata '{Path(path) / INFO_FILE}' is missing or corrupt.") from None
    if file_sha256(file) != expected:
        raise RunError(f"Model file '{file}' does not match its recorded hash: it is corrupt or was "
                       "changed after training. Refusing to load it.")
    return file, info
