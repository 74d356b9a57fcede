"""Pushing pending run (or study) folders to MLflow: one folder (:func:`push_one`, what the
project's warm pusher, :mod:`.pusher`, does for each queued folder; ``python -m
kampai.plugins.mlflow.push RUN_DIR`` pushes one folder in a process of its own) and
``runner runs sync`` (every pending folder).  On failure a folder stays pending, its marker
naming the error."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from kampai.plugin import KampaiError
from kampai.plugins.mlflow.push_queue import push_lock
from kampai.plugins.mlflow.records import PENDING, _short, mark_pending, pending, read_pending, warn
from kampai.plugins.mlflow.store import DEFAULT_EXPERIMENT, experiment_name, tracking_uri
from kampai.plugins.mlflow.studies import log_study_folder
from kampai.plugins.mlflow.upload import log_run


def push_one(folder: Path, marker: dict[str, Any], override_uri: str | None = None,
             estimator_params: dict[str, str] | None = None) -> None:
    """Push one pending run or study folder and clear its marker (raises on failure).
    ``estimator_params``: the fitted model's own parameters as the training process read
    them (a signed queue entry); without them the model is loaded to read them."""
    from kampai.plugin.runs import load_run

    uri = override_uri or marker.get("uri") or tracking_uri()
    experiment = marker.get("experiment") or DEFAULT_EXPERIMENT
    if marker.get("kind") == "study":
        log_study_folder(folder, uri, experiment)
    else:
        run = load_run(folder)
        if not marker.get("experiment"):  # an untrusted record: the run's own (signed) config says
            experiment = experiment_name(run.config)
        model = None
        if estimator_params is None:
            try:
                model = run.model
            except Exception:
                model = None
        log_run(run, uri, experiment, model=model, estimator_params=estimator_params)
    (folder / PENDING).unlink(missing_ok=True)


def sync(runs_dir: Path, override_uri: str | None = None, wait: bool = True) -> list[str]:
    """Push every pending run folder; returns the ids pushed; raises when none could be.
    A folder a background push holds is waited for (``wait``) or skipped."""
    pushed, failures = [], []
    for folder, _ in pending(runs_dir):
        with push_lock(folder, wait=wait) as held:
            marker_file = folder / PENDING
            if not held or not marker_file.exists():  # being pushed, or the push just finished
                continue
            marker = read_pending(folder)
            if marker is None:
                if not override_uri:
                    continue  # never a URI (or anything else) from an unsigned record
                # the user named the URI: the kind is the folder's, the experiment the run's
                marker = {"kind": "run" if (folder / "meta.json").is_file() else "study"}
            try:
                push_one(folder, marker, override_uri)
            except Exception as exc:
                failures.append(f"{folder.name}: {_short(exc)}")
                continue
        pushed.append(folder.name)
    if failures and not pushed:
        raise KampaiError("Nothing could be pushed: " + "; ".join(failures))
    for failure in failures:
        warn(f"not pushed: {failure}")
    return pushed


def main(folder: Path) -> int:
    with push_lock(folder) as held:
        marker = folder / PENDING
        if not held or not marker.exists():
            return 0
        info = read_pending(folder)  # signed with this key, for this folder
        if info is None:
            return 1
        try:
            push_one(folder, info)
        except Exception as exc:  # stays pending, with the reason
            mark_pending(folder, info.get("uri") or tracking_uri(),
                         info.get("experiment") or DEFAULT_EXPERIMENT, exc)
            print(f"kampai: could not push {folder}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
