"""What a study records for ``train --from-study``, and how it is trusted again.

The study storage (``.kampai/optuna.journal``, or any Optuna storage) can be written by anyone
who can write the project folder, and its user attributes are plain JSON.  The recorded
config names classes to build, so it is authenticated like a run: an HMAC with kampai's
key (:mod:`kampai.core.signing`) over its canonical JSON bytes, stored beside it.  The best
params come from the trials themselves (Optuna's own tables): they are data, checked to be
plain values of the types the signed search space declares.
"""

from __future__ import annotations

import json
import math
from typing import Any

from kampai.core import signing
from kampai.core.errors import TuneError

ALGORITHM = "hmac-sha256"
#: a categorical value longer than this is not a value a search space lists
MAX_TEXT = 1000


def canonical(meta: Any) -> bytes:
    """The bytes that are signed: sorted keys, no whitespace, ASCII (what the storage's JSON
    round trip gives back is signed the same)."""
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode()


def seal(meta: Any) -> dict[str, str]:
    """The signature record stored beside ``meta``."""
    return {"algorithm": ALGORITHM, "key_id": signing.key_id(), "value": signing.sign(canonical(meta))}


def problem(meta: Any, sig: Any) -> str | None:
    """Why ``meta`` cannot be trusted (a phrase), or None when ``sig`` is this key's HMAC of it."""
    if not isinstance(sig, dict) or not sig.get("value"):
        return "is not signed (recorded by an older kampai, or edited)"
    if sig.get("algorithm") != ALGORITHM:
        return f"has an unknown signature algorithm {str(sig.get('algorithm'))[:40]!r}"
    if sig.get("key_id") != signing.key_id():
        return (f"was signed with another key ({str(sig.get('key_id'))[:40]}; this machine's is "
                f"{signing.key_id()})")
    try:
        body = canonical(meta)
    except (TypeError, ValueError):
        return "is not plain JSON"
    if not signing.valid(str(sig["value"]), signing.sign(body)):
        return "does not match its signature (changed after tuning)"
    return None


def _scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (bool, int)) or (isinstance(value, str) and len(value) <= MAX_TEXT)


def checked_params(params: dict[str, Any], space: dict[str, Any] | None, study: str) -> dict[str, Any]:
    """The best trial's params, refused (TuneError) unless each is a plain value of the type
    ``space`` (``model.search`` as recorded, or the user's) gives its name; with no space,
    plain values only.  Ranges are not compared: a resumed study may have narrowed them."""
    space = space or {}
    out = {}
    for name, value in params.items():
        where = f"Study '{study}': the best trial's param {str(name)[:80]!r}"
        if not isinstance(name, str) or not _scalar(value):
            raise TuneError(f"{where} is not a plain value. Refusing it; pass -c CONFIG and set model.params.")
        if space and name not in space:
            raise TuneError(f"{where} is not in the study's search space ({', '.join(sorted(space))}). "
                            "Refusing it; pass -c CONFIG and set model.params.")
        kind = (space.get(name) or {}).get("type") if isinstance(space.get(name), dict) else None
        ok = (kind == "int" and isinstance(value, int) and not isinstance(value, bool)) or \
             (kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool)) or \
             kind not in ("int", "float")
        if not ok:
            raise TuneError(f"{where} is {value!r}, not the {kind} its search space declares. Refusing it.")
        out[name] = value
    return out
