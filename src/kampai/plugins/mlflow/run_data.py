"""What to log of a run: its params (the config flattened, the fitted model's own
parameters), metrics (scores, timings, per fold) and tags, as MLflow accepts them.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from kampai.plugin.runs import protocol_label

#: tags every logged run carries; the registry reads them back
TAG_RUN_ID = "kampai.run_id"
TAG_KIND = "kampai.kind"
TAG_MANIFEST = "kampai.manifest_sha256"
MAX_PARAM_VALUE = 6000


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"params": {"a__b": 1}}}`` -> ``{"model.params.a__b": 1}``.

    Lists become JSON text; ``__`` pipeline names stay as they are (they are one key).
    """
    out: dict[str, Any] = {}
    if isinstance(tree, dict):
        if not tree and prefix:
            out[prefix] = "{}"
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(tree, (list, tuple)):
        out[prefix] = json.dumps(list(tree), default=str)
    else:
        out[prefix] = tree
    return out


def _param_value(value: Any) -> str:
    text = "None" if value is None else str(value)
    return text if len(text) <= MAX_PARAM_VALUE else text[: MAX_PARAM_VALUE - 3] + "..."


def model_params(model: Any) -> dict[str, Any]:
    """The fitted model's own parameters (``get_params(deep=True)``: every ``a__b`` of a
    Pipeline), scalars only, under ``estimator.``."""
    get_params = getattr(model, "get_params", None)
    if get_params is None:
        return {}
    try:
        params = get_params(deep=True)
    except Exception:
        return {}
    return {f"estimator.{k}": v for k, v in params.items()
            if v is None or isinstance(v, (str, int, float, bool))}


def estimator_params(model: Any) -> dict[str, str]:
    """:func:`model_params` as logged (text): what the training process hands the pusher."""
    return {k: _param_value(v) for k, v in model_params(model).items()}


def run_params(config: dict[str, Any], model: Any = None) -> dict[str, str]:
    params = {k: _param_value(v) for k, v in flatten(config).items()}
    params.update(estimator_params(model))
    return params


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def run_metrics(run: Any) -> list[tuple[str, float, int]]:
    """``(key, value, step)``: the run's metrics, timings, size and per-fold metrics."""
    out = [(k, float(v), 0) for k, v in run.metrics.items() if _finite(v)]
    meta = run.meta
    for key in ("fit_seconds", "total_seconds", "model_size_bytes"):
        if _finite(meta.get(key)):
            out.append((key, float(meta[key]), 0))
    if _finite((meta.get("data") or {}).get("rows")):
        out.append(("data_rows", float(meta["data"]["rows"]), 0))
    for fold, scores in enumerate(meta.get("fold_metrics") or []):
        out.extend((f"fold.{k}", float(v), fold) for k, v in scores.items() if _finite(v))
    for fold, seconds in enumerate(meta.get("cv_fit_seconds") or []):
        if _finite(seconds):
            out.append(("fold.fit_seconds", float(seconds), fold))
    return out


def manifest_digest(run_dir: Path) -> str | None:
    from kampai.plugin.runs import MANIFEST, file_sha256

    file = Path(run_dir) / MANIFEST
    return file_sha256(file) if file.exists() else None


def run_tags(run: Any) -> dict[str, str]:
    meta, config = run.meta, run.config
    data = meta.get("data") or {}
    tags = {
        "mlflow.runName": run.run_id,
        "mlflow.source.name": "runner train",
        "mlflow.source.type": "LOCAL",
        TAG_KIND: "run",
        TAG_RUN_ID: run.run_id,
        "kampai.run_dir": str(Path(run.run_dir).resolve()),
        "kampai.task": meta.get("task"),
        "kampai.framework": meta.get("framework"),
        "kampai.estimator": meta.get("estimator"),
        "kampai.split": meta.get("split"),
        "kampai.protocol": protocol_label(meta),
        "kampai.created": meta.get("created"),
        "kampai.data.source": data.get("source"),
        "kampai.data.fingerprint": data.get("fingerprint"),
        "kampai.data.rows": data.get("rows"),
        "kampai.serializer": (config.get("output") or {}).get("serializer") or meta.get("framework"),
        TAG_MANIFEST: manifest_digest(run.run_dir),
    }
    for package, version in (meta.get("versions") or {}).items():
        tags[f"kampai.version.{package}"] = version
    git = meta.get("git") or {}
    if git.get("commit"):
        tags["mlflow.source.git.commit"] = git["commit"]
        tags["kampai.git.commit"] = git["commit"]
        tags["kampai.git.dirty"] = str(bool(git.get("dirty"))).lower()
    return {k: str(v) for k, v in tags.items() if v is not None}


def safe_key(key: str) -> str:
    """MLflow keys allow letters, digits, ``_ - . / space``, at most 250 characters."""
    return re.sub(r"[^\w\-. /]", "_", str(key))[:250]
