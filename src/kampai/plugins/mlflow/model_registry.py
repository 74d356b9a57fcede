"""The model registry on MLflow: register runs, list, promote (aliases), best by metric,
and resolve ``NAME@stage`` / ``NAME@version`` into a verified local run folder.

A registered version points at the ``run/`` artifacts of the MLflow run a kampai run was
pushed to (the whole run folder) and records the sha256 of the run's ``manifest.json``.
Resolving downloads the folder into ``.kampai/models/NAME/vN`` and checks the manifest
against that recorded hash and every file against the manifest before anything is loaded.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from kampai.plugin import KampaiError, RunError
from kampai.plugin.runs import RUNS_DIR
from kampai.plugins.mlflow import records, run_data, store, upload

CACHE_DIR = Path(store.STORE_DIR) / "models"
#: NAME@alias or NAME@3 (no slashes: runs/x@y is a path); models:/NAME@alias and models:/NAME/3
REF = re.compile(r"^(?:models:/)?(?P<name>[A-Za-z0-9][\w.\-]*)(?:@|(?<=.)/(?=\d+$))(?P<which>[\w.\-]+)$")


def parse_ref(ref: str) -> tuple[str, str] | None:
    """``churn@production`` -> ``("churn", "production")``; None when not a registry ref."""
    text = str(ref).strip()
    if "/" in text and not text.startswith("models:/"):
        return None
    match = REF.match(text)
    if not match:
        return None
    return match["name"], match["which"]


def _mlflow_error(exc: Exception) -> bool:
    return type(exc).__name__ in ("MlflowException", "RestException")


def registry_client(uri: str | None = None, *, create: bool = False) -> tuple[Any, str]:
    uri = store.tracking_uri(override=uri)
    if uri.startswith("sqlite:///") and not create and not Path(uri.removeprefix("sqlite:///")).exists():
        raise KampaiError(f"No model registry yet ({uri.removeprefix('sqlite:///')} does not exist). "
                          "Register a run first: runner registry register RUN --name NAME.")
    try:
        return store.client(uri), uri
    except store.TrackingUnavailable as exc:
        raise KampaiError(f"The model registry is unreachable: {exc}.") from None


# --------------------------------------------------------------------------------------
# Register
# --------------------------------------------------------------------------------------


def local_run(ref: str, runs_dir: str | Path = RUNS_DIR) -> Any:
    """A kampai run from a folder path or a run id under ``runs_dir``."""
    from kampai.plugin.runs import load_run

    path = Path(ref)
    if not path.is_dir() and (Path(runs_dir) / ref).is_dir():
        path = Path(runs_dir) / ref
    if not path.is_dir():
        raise RunError(f"Run '{ref}' does not exist (a run folder such as runs/<run_id>, or a run id "
                       f"under {runs_dir}/).")
    return load_run(path)


def ensure_tracked(run: Any, mlflow_client: Any, uri: str) -> dict[str, Any]:
    """The MLflow run a kampai run was pushed to at ``uri``; pushes it now if it never was."""
    record = records.record_for(run.run_dir, uri)
    if record:
        try:
            found = mlflow_client.get_run(record["run_id"])
            if found.info.lifecycle_stage != "deleted":
                record["artifact_uri"] = found.info.artifact_uri
                upload.log_pyfunc(mlflow_client, record["run_id"], run)  # flavour files sealed with this key
                return record
        except Exception as exc:
            if not _mlflow_error(exc):
                raise
    experiment = store.experiment_name(run.config)
    try:
        model = run.model
    except RunError:
        raise
    except Exception:
        model = None
    record = upload.log_run(run, uri, experiment, model=model)
    (Path(run.run_dir) / records.PENDING).unlink(missing_ok=True)
    return record


def register(ref: str, name: str, *, uri: str | None = None, runs_dir: str | Path = RUNS_DIR,
             description: str | None = None) -> Any:
    """Register a run as a new version of ``name``; returns the ``ModelVersion``."""
    from kampai.plugin import check_name
    from kampai.plugin.runs import verify_manifest

    check_name("registered model", name)  # before anything is pushed
    run = local_run(ref, runs_dir)
    verify_manifest(run.run_dir)
    digest = run_data.manifest_digest(run.run_dir)
    mlflow_client, uri = registry_client(uri, create=True)
    record = ensure_tracked(run, mlflow_client, uri)
    try:
        mlflow_client.get_registered_model(name)
    except Exception as exc:
        if not _mlflow_error(exc):
            raise
        mlflow_client.create_registered_model(name, tags={"kampai.task": str(run.meta.get("task"))})
    tags = {run_data.TAG_RUN_ID: run.run_id, run_data.TAG_MANIFEST: digest or "",
            "kampai.task": str(run.meta.get("task")), "kampai.framework": str(run.meta.get("framework")),
            "kampai.estimator": str(run.meta.get("estimator"))}
    return mlflow_client.create_model_version(
        name, source=f"{record['artifact_uri']}/{upload.ARTIFACT_DIR}", run_id=record["run_id"], tags=tags,
        description=description)


def best_local_run(runs_dir: str | Path, metric: str) -> Any:
    """The best complete run under ``runs_dir`` by ``metric``."""
    from kampai.plugin.runs import list_runs

    runs = [r for r in list_runs(runs_dir) if run_data._finite(r.metrics.get(metric))]
    if not runs:
        raise KampaiError(f"No run under {runs_dir}/ has the metric '{metric}'.")
    sign = 1 if greater_is_better(metric) else -1
    return max(runs, key=lambda r: sign * r.metrics[metric])


def study_run(study: str, metric: str | None = None, uri: str | None = None) -> str:
    """The run folder of a study's trained model (its ``--refit`` run, tagged with the study).

    Several (refit twice): the best by ``metric`` (default: the study's objective).
    """
    mlflow_client, _ = registry_client(uri)
    parents = mlflow_client.search_runs(
        [e.experiment_id for e in mlflow_client.search_experiments()],
        filter_string=f"tags.`{run_data.TAG_KIND}` = 'study' and tags.`kampai.study` = '{study}'")
    found = mlflow_client.search_runs(
        [e.experiment_id for e in mlflow_client.search_experiments()],
        filter_string=f"tags.`{run_data.TAG_KIND}` = 'run' and tags.`kampai.study` = '{study}'")
    if not found:
        hint = "" if parents else f" No study '{study}' was tracked either."
        raise KampaiError(f"Study '{study}' has no trained run to register: tune it with --refit "
                          f"(registry mode) first.{hint}")
    metric = metric or (parents[0].data.tags.get("kampai.metric") if parents else None)
    scored = [r for r in found if run_data._finite(r.data.metrics.get(metric))] if metric else []
    if scored:
        sign = 1 if greater_is_better(metric) else -1
        best = max(scored, key=lambda r: sign * r.data.metrics[metric])
    else:
        best = max(found, key=lambda r: r.info.start_time or 0)
    run_dir = best.data.tags.get("kampai.run_dir")
    if not run_dir or not Path(run_dir).is_dir():
        raise KampaiError(f"The run of study '{study}' ({best.data.tags.get(run_data.TAG_RUN_ID)}) is not on this "
                          f"machine (expected {run_dir}).")
    return run_dir


# --------------------------------------------------------------------------------------
# Read and promote
# --------------------------------------------------------------------------------------


def greater_is_better(metric: str) -> bool:
    from kampai.plugin.experiments import registry_of

    base = metric.removesuffix("_std")
    metrics = registry_of("metrics")
    if base in metrics:
        return bool(metrics.get(base).greater_is_better)
    return not any(word in base for word in ("loss", "error", "seconds", "size", "mae", "mse", "rmse"))


def versions(mlflow_client: Any, name: str) -> list[Any]:
    try:
        model = mlflow_client.get_registered_model(name)
    except Exception as exc:
        if _mlflow_error(exc):
            names = [m.name for m in mlflow_client.search_registered_models()]
            from kampai.plugin import unknown

            raise unknown("registered model", name, names, "List them with 'runner registry list'.") from None
        raise
    found = list(mlflow_client.search_model_versions(f"name='{name}'"))
    by_version: dict[str, list[str]] = {}
    for alias, version in (model.aliases or {}).items():
        by_version.setdefault(str(version), []).append(alias)
    for mv in found:
        mv._kampai_aliases = sorted(by_version.get(str(mv.version), []))
    return sorted(found, key=lambda mv: int(mv.version))


def version_row(mlflow_client: Any, mv: Any) -> dict[str, Any]:
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {}
    if mv.run_id:
        try:
            run = mlflow_client.get_run(mv.run_id)
            metrics, tags = dict(run.data.metrics), dict(run.data.tags)
        except Exception as exc:
            if not _mlflow_error(exc):
                raise
    return {"name": mv.name, "version": int(mv.version), "aliases": getattr(mv, "_kampai_aliases", []),
            "run_id": (mv.tags or {}).get(run_data.TAG_RUN_ID), "mlflow_run_id": mv.run_id,
            "estimator": (mv.tags or {}).get("kampai.estimator"), "created": mv.creation_timestamp,
            "source": mv.source, "metrics": metrics,
            # what the score means: a k-fold mean and a holdout score rank apart, as do other data
            "protocol": tags.get("kampai.protocol") or tags.get("kampai.split"),
            "data_fingerprint": tags.get("kampai.data.fingerprint")}


def list_models(mlflow_client: Any) -> list[dict[str, Any]]:
    out = []
    for model in mlflow_client.search_registered_models():
        latest = max((int(v.version) for v in model.latest_versions or []), default=None)
        out.append({"name": model.name, "latest_version": latest,
                    "aliases": {k: int(v) for k, v in (model.aliases or {}).items()},
                    "description": model.description or ""})
    return sorted(out, key=lambda m: m["name"])


def split_name_version(ref: str) -> tuple[str, str]:
    parsed = parse_ref(ref)
    if parsed is None:
        raise KampaiError(f"'{ref}' is not NAME@VERSION (e.g. churn@3) or NAME@ALIAS.")
    return parsed


def get_version(mlflow_client: Any, name: str, which: str) -> Any:
    try:
        if which.isdigit():
            return mlflow_client.get_model_version(name, which)
        return mlflow_client.get_model_version_by_alias(name, which)
    except Exception as exc:
        if not _mlflow_error(exc):
            raise
        known = versions(mlflow_client, name)  # raises 'unknown registered model' first
        aliases = sorted({a for mv in known for a in mv._kampai_aliases})
        listed = ", ".join([str(mv.version) for mv in known] + aliases) or "none"
        raise RunError(f"Registered model '{name}' has no version or alias '{which}' (it has: {listed}).") from None


def promote(mlflow_client: Any, ref: str, stage: str) -> Any:
    name, which = split_name_version(ref)
    mv = get_version(mlflow_client, name, which)
    mlflow_client.set_registered_model_alias(name, stage, mv.version)
    return mv


def best_version(mlflow_client: Any, name: str, metric: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = [version_row(mlflow_client, mv) for mv in versions(mlflow_client, name)]
    scored = [r for r in rows if run_data._finite(r["metrics"].get(metric))]
    if not scored:
        have = sorted({k for r in rows for k in r["metrics"]})
        from kampai.plugin import did_you_mean

        raise KampaiError(f"No version of '{name}' has the metric '{metric}'.{did_you_mean(metric, have)}"
                          + (f" Metrics: {', '.join(have)}." if have else ""))
    sign = 1 if greater_is_better(metric) else -1
    return max(scored, key=lambda r: (sign * r["metrics"][metric], r["version"])), scored


# --------------------------------------------------------------------------------------
# Resolve NAME@stage for predict/evaluate (kampai_resolve_run)
# --------------------------------------------------------------------------------------


def resolve(ref: str) -> Path | None:
    parsed = parse_ref(ref)
    if parsed is None:
        return None
    name, which = parsed
    mlflow_client, _ = registry_client()
    mv = get_version(mlflow_client, name, which)
    expected = (mv.tags or {}).get(run_data.TAG_MANIFEST)
    if not expected:
        raise RunError(f"Registered model {name} version {mv.version} records no manifest hash: "
                       "its files cannot be verified. Refusing to load it.")
    dest = CACHE_DIR.resolve() / name / f"v{mv.version}"
    if dest.is_dir():
        try:
            check(dest, expected, name, mv.version)
            return dest
        except RunError:
            shutil.rmtree(dest, ignore_errors=True)  # a damaged cache: fetch it again
    tmp = dest.parent / f".tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        mlflow_client.download_artifacts(mv.run_id, upload.ARTIFACT_DIR, str(tmp))
        fetched = tmp / upload.ARTIFACT_DIR
        check(fetched, expected, name, mv.version)
        try:
            os.replace(fetched, dest)
        except OSError:  # another process got there first
            check(dest, expected, name, mv.version)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def check(folder: Path, expected: str, name: str, version: Any) -> None:
    """The manifest must hash to what the registry recorded, every file to the manifest, and the
    flavour files (``MLmodel``) must be kampai's, sealed with the key."""
    from kampai.plugin.runs import verify_manifest

    label = f"Registered model {name} version {version}"
    actual = run_data.manifest_digest(folder)
    if actual != expected:
        raise RunError(f"{label}: its manifest.json "
                       f"{'is missing' if actual is None else 'does not match the hash recorded at registration'}"
                       " (corrupt or tampered artifact). Refusing to load it.")
    verify_manifest(folder, label=label)
    # the flavour files beside it make it an MLflow pyfunc: kampai's loader and sealed, or refused
    from kampai.plugins.mlflow.pyfunc import verify_flavour

    verify_flavour(folder, label)
