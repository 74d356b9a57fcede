"""The model file of a run's ``model/`` folder and its ``model.json``: the file opened once,
its sha256 checked against the one recorded at save through that handle, and the same
handle given to the deserializer (joblib, skops and onnx alike)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from kampai.plugin import RunError
from kampai.plugin.runs import open_checked

INFO_FILE = "model.json"


def checked(path: Path, name: str) -> tuple[IO[bytes], dict[str, Any]]:
    """``(handle, info)``: ``path / name`` open for reading once its bytes (read through
    this handle) match the sha256 recorded in ``model.json``, and the parsed ``model.json``;
    a RunError naming what is missing, corrupt or changed.  Close the handle after use."""
    file = Path(path) / name
    if not file.is_file():
        raise RunError(f"No model in '{path}': {name} is missing.")
    try:
        info = json.loads((Path(path) / INFO_FILE).read_text())
        expected = info["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise RunError(f"Model metadata '{Path(path) / INFO_FILE}' is missing or corrupt.") from None
    return open_checked(file, expected), info
