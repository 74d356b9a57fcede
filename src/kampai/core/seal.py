"""Files that travel beside a signed run folder but are written after it was signed (MLflow's
``MLmodel`` and ``requirements.txt``, which make a pushed run a pyfunc model): sealed with an
HMAC of kampai's key over their sha256 and the sha256 of the run's ``manifest.json``, in
``kampai-seal.json``.  Whoever can write the artifact store cannot change them, nor move
them next to another run, without the key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from kampai.core import signing
from kampai.core.errors import RunError
from kampai.core.outputs import write_text
from kampai.core.runs import MANIFEST, file_sha256

SEAL = "kampai-seal.json"
ALGORITHM = "hmac-sha256"


def _payload(manifest: str, files: dict[str, str]) -> bytes:
    return json.dumps({"manifest": manifest, "files": files}, sort_keys=True, separators=(",", ":")).encode()


def seal_files(folder: Path, names: Iterable[str], manifest_sha256: str) -> Path:
    """Write ``folder/kampai-seal.json`` for the files ``names`` of ``folder``, bound to the run
    whose ``manifest.json`` hashes to ``manifest_sha256``; returns its path."""
    folder = Path(folder)
    files = {name: file_sha256(folder / name) for name in sorted(names)}
    record = {"algorithm": "sha256", "manifest": manifest_sha256, "files": files,
              "signature": {"algorithm": ALGORITHM, "key_id": signing.key_id(),
                            "value": signing.sign(_payload(manifest_sha256, files))}}
    return write_text(folder / SEAL, json.dumps(record, indent=2) + "\n", "flavour seal")


def verify_sealed(folder: Path, names: Iterable[str], label: str) -> None:
    """Refuse (RunError) unless every file of ``names`` in ``folder`` is listed in its seal with
    this key's signature, matches its sha256, and the seal names ``folder``'s own manifest."""
    folder = Path(folder)
    again = "Register the run again with 'runner registry register' (docs/tracking.md)."
    try:
        record = json.loads((folder / SEAL).read_text())
        files, manifest, signature = record["files"], record["manifest"], record["signature"]
        if not (isinstance(files, dict) and isinstance(signature, dict) and isinstance(manifest, str)):
            raise TypeError
    except FileNotFoundError:
        raise RunError(f"{label}: its MLflow model files are not sealed ({SEAL} is missing; logged by an "
                       f"older kampai, or removed). Refusing to load it. {again}") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise RunError(f"{label}: {SEAL} is corrupt. Refusing to load it.") from None
    if signature.get("key_id") != signing.key_id():
        raise RunError(f"{label}: its MLflow model files were sealed with another key "
                       f"({str(signature.get('key_id'))[:40]}; this machine's is {signing.key_id()}). "
                       "Refusing to load it.")
    if not signing.valid(str(signature.get("value")), signing.sign(_payload(manifest, files))):
        raise RunError(f"{label}: {SEAL} does not match its signature (edited). Refusing to load it.")
    own = folder / MANIFEST
    if not own.is_file() or file_sha256(own) != manifest:
        raise RunError(f"{label}: its MLflow model files were sealed for another run. Refusing to load it.")
    for name in names:
        path = folder / name
        if name not in files or not path.is_file() or file_sha256(path) != files[name]:
            raise RunError(f"{label}: '{name}' is not the one kampai wrote (changed after it was logged). "
                           f"Refusing to load it. {again}")
