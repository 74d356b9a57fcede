"""The files a run (or study) folder keeps about its tracking: ``tracking.json`` (where it
went) and the signed ``tracking-pending.json`` (where ``runner runs sync`` pushes it), and the
warning lines a tracking failure prints.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PENDING = "tracking-pending.json"
RECORD = "tracking.json"
STUDIES_DIR = "studies"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_record(run_dir: Path) -> dict[str, Any]:
    """``tracking.json``: ``{"mlflow": {uri: {...}}}``; empty when the run was never pushed."""
    file = Path(run_dir) / RECORD
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError):
        return {}


def write_record(run_dir: Path, record: dict[str, Any]) -> None:
    data = read_record(run_dir)
    data.setdefault("mlflow", {})[record["uri"]] = record
    (Path(run_dir) / RECORD).write_text(json.dumps(data, indent=2) + "\n")


def record_for(run_dir: Path, uri: str) -> dict[str, Any] | None:
    return (read_record(run_dir).get("mlflow") or {}).get(uri)


#: the fields of a pending record its signature covers (the error and time are only shown)
SIGNED_FIELDS = ("tracker", "kind", "uri", "experiment", "folder")


def _pending_payload(record: dict[str, Any]) -> bytes:
    signed = {key: record.get(key) for key in SIGNED_FIELDS}
    return b"kampai-tracking-pending:" + json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


def mark_pending(folder: Path, uri: str, experiment: str, error: BaseException, kind: str = "run") -> None:
    """Write the folder's ``tracking-pending.json``: where ``runner runs sync`` pushes it,
    signed with this machine's key (a record planted by whoever can write the folder, but
    not read the key, is ignored: it cannot send a run to a server of its choosing)."""
    from kampai.plugin.io import write_text
    from kampai.plugin.runs import sign_bytes

    payload = {"tracker": "mlflow", "kind": kind, "uri": uri, "experiment": experiment,
               "folder": Path(folder).resolve().name, "error": f"{type(error).__name__}: {error}",
               "when": _now()}
    payload["signature"] = sign_bytes(_pending_payload(payload))
    write_text(Path(folder) / PENDING, json.dumps(payload, indent=2) + "\n", "pending record")


def trusted_pending(folder: Path, record: Any) -> bool:
    """Whether ``record`` (a folder's pending record) was written by kampai with this key for
    this very folder (a record copied from another folder does not count)."""
    from kampai.plugin.runs import sign_bytes, valid_signature

    if not isinstance(record, dict) or not isinstance(record.get("signature"), str):
        return False
    if record.get("folder") != Path(folder).resolve().name:
        return False
    return valid_signature(record["signature"], sign_bytes(_pending_payload(record)))


def read_pending(folder: Path) -> dict[str, Any] | None:
    """The folder's pending record when kampai wrote it with this key, else None (with a
    warning line when a record is there but cannot be trusted)."""
    try:
        record = json.loads((Path(folder) / PENDING).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        record = None
    if trusted_pending(folder, record):
        return record
    warn(f"{Path(folder) / PENDING} is not signed with this machine's key (planted, copied from another "
         "folder, or written by an older kampai): ignored. To push that run anyway: "
         "runner runs sync --tracking-uri URI (the URI you choose).")
    return None


def pending(runs_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Run folders under ``runs_dir`` (and study folders under ``studies/``, the tuner's
    default output folder) holding a pending-push marker (trusted or not: see
    :func:`read_pending`)."""
    markers = []
    for root in (Path(runs_dir), Path(STUDIES_DIR)):
        if root.is_dir():
            markers += sorted(root.glob(f"*/{PENDING}"))
    out = []
    for marker in markers:
        if marker.parent.name.startswith("."):
            continue
        try:
            out.append((marker.parent, json.loads(marker.read_text())))
        except (OSError, ValueError):
            continue
    return out


def warn(message: str) -> None:
    from kampai.plugin.cli import warn as print_warning

    print_warning(message)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
