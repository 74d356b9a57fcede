"""Run folders, for plugins that open, list, copy or check them (part of the plugin SDK).

Two names for two things: a :class:`~kampai.plugin.RunRecord` is a run folder as read
(config, metrics, meta; its model loads on demand, verified), what :func:`read_run` and
:func:`list_runs` give and what ``kampai_after_train`` receives; a :class:`Run` is the trained
run a user holds (``kampai.Run``: a record that can also ``predict``, ``evaluate`` and
``inspect``), what :func:`load_run` gives (as ``kampai.load_run`` does).

* open: :func:`load_run`, :func:`read_run`, :func:`list_runs`, :data:`RUNS_DIR`,
  :func:`protocol_label`, :func:`check_replaceable_run`;
* predict: :func:`row_predictor` (a server's row path: typed columns in, output columns out);
* trust (docs/security.md): :data:`MANIFEST`, :func:`verify_manifest` (a check only),
  :func:`file_sha256`, :func:`open_checked` (a file opened once and hashed through its
  handle), :func:`load_weights`, :func:`seal_files` / :func:`verify_sealed`,
  :func:`sign_bytes` / :func:`valid_signature`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kampai.plugin._lazy import lazy_names

_LAZY = {
    "Run": "kampai.core.trained_run:Run",
    "load_run": "kampai.core.engine",
    "row_predictor": "kampai.core.trained_run",
    "read_run": "kampai.core.hosted:open_run",
    "list_runs": "kampai.core.hosted",
    "RUNS_DIR": "kampai.core.schema",
    "protocol_label": "kampai.core.runs",
    "check_replaceable_run": "kampai.core.outputs",
    "MANIFEST": "kampai.core.runs",
    "verify_manifest": "kampai.core.runs",
    "file_sha256": "kampai.core.runs",
    "open_checked": "kampai.core.verified",
    "load_weights": "kampai.core.weights",
    "seal_files": "kampai.core.seal",
    "verify_sealed": "kampai.core.seal",
    "sign_bytes": "kampai.core.signing:sign",
    "valid_signature": "kampai.core.signing:valid",
}

__all__ = [
    "MANIFEST",
    "RUNS_DIR",
    "Run",
    "check_replaceable_run",
    "file_sha256",
    "list_runs",
    "load_run",
    "load_weights",
    "open_checked",
    "protocol_label",
    "read_run",
    "row_predictor",
    "seal_files",
    "sign_bytes",
    "valid_signature",
    "verify_manifest",
    "verify_sealed",
]

if TYPE_CHECKING:
    from kampai.core.engine import load_run
    from kampai.core.hosted import list_runs
    from kampai.core.hosted import open_run as read_run
    from kampai.core.outputs import check_replaceable_run
    from kampai.core.runs import MANIFEST, file_sha256, protocol_label, verify_manifest
    from kampai.core.schema import RUNS_DIR
    from kampai.core.seal import seal_files, verify_sealed
    from kampai.core.signing import sign as sign_bytes
    from kampai.core.signing import valid as valid_signature
    from kampai.core.trained_run import Run, row_predictor
    from kampai.core.verified import open_checked
    from kampai.core.weights import load_weights

__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY, __all__)
