"""``--serializer skops``: scikit-learn models saved with skops, a format that runs no code.

``skops.io`` stores a model as a zip of JSON and NumPy arrays; loading it builds only
types on a trusted list, so a tampered file cannot execute anything (a pickle, joblib's
format, can; the run's authenticated manifest is what protects it).  At save time the
types skops does not trust by default (``sklearn.tree._tree.Tree``, ``numpy.dtype``, a
user's own estimator class ...) are recorded in ``model.json``, which the run's signed
manifest covers; at load time exactly those types are trusted, and a file that asks for
any other type is refused before it is built.

Cost (RandomForest, 300 trees, breast_cancer): about 7x the file size of joblib and
0.3 s to save, 0.5 s to load, against 0.05 s each for joblib (docs/security.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kampai.plugin import KampaiError, RunError, Serializer
from kampai.plugin.runs import file_sha256
from kampai.plugins.sklearn.model_file import INFO_FILE, checked

MODEL_FILE = "model.skops"


def check() -> None:
    try:
        import skops.io  # noqa: F401
    except ImportError:
        raise KampaiError("--serializer skops needs skops: pip install skops") from None


def save(model: Any, path: Path) -> None:
    import sklearn
    import skops.io as sio

    file = Path(path) / MODEL_FILE
    sio.dump(model, file)
    info = {"format": "skops", "sklearn": sklearn.__version__, "estimator": type(model[-1]).__name__
            if hasattr(model, "steps") else type(model).__name__,
            "trusted": sorted(sio.get_untrusted_types(file=file)), "sha256": file_sha256(file)}
    (Path(path) / INFO_FILE).write_text(json.dumps(info, indent=2))


def load(path: Path) -> Any:
    import skops.io as sio

    handle, info = checked(path, MODEL_FILE)
    with handle:
        data = handle.read()  # skops reads bytes: these, hashed, are what is loaded
    file = Path(path) / MODEL_FILE
    trusted = list(info.get("trusted") or [])
    try:
        asked = set(sio.get_untrusted_types(data=data))
    except Exception as exc:
        raise RunError(f"'{file}' is not a readable skops file: {exc}") from None
    unexpected = sorted(asked - set(trusted))
    if unexpected:
        raise RunError(f"'{file}' asks for types that were not recorded when the model was saved "
                       f"({', '.join(unexpected)}): refusing to load it.")
    return sio.loads(data, trusted=trusted)


SERIALIZER = Serializer("skops", save=save, load=load, frameworks=("sklearn",), check=check, extra="skops",
                        description="skops.io: no code runs at load (trusted types recorded at save); "
                                    "larger and slower than joblib")
