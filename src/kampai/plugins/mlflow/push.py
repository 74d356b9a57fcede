"""The background push of one finished run (``python -m kampai.plugins.mlflow.push RUN_DIR``),
started detached by ``runner train`` so the user does not wait for MLflow.  On failure the
run stays pending (its marker names the error) for ``runner runs sync``."""

from __future__ import annotations

import sys
from pathlib import Path


def main(folder: Path) -> int:
    from kampai.plugins.mlflow import tracking

    with tracking.push_lock(folder) as held:
        marker = folder / tracking.PENDING
        if not held or not marker.exists():
            return 0
        info = tracking.read_pending(folder)  # signed with this key, for this folder
        if info is None:
            return 1
        try:
            tracking.push_one(folder, info)
        except Exception as exc:  # stays pending, with the reason
            tracking.mark_pending(folder, info.get("uri") or tracking.tracking_uri(),
                                  info.get("experiment") or tracking.DEFAULT_EXPERIMENT, exc)
            print(f"kampai: could not push {folder}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
