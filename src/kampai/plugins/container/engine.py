"""Docker or Podman: find one, build an image (the failing step and its last lines on error), run."""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ENGINES = ("podman", "docker")
_STEP = re.compile(r"^((?:\[\d+/\d+\] )?STEP \d+/\d+:.*|#\d+ \[[^\]]+\] .*|Step \d+/\d+ : .*)$")


def find_engine(name: str | None = None) -> str:
    """The engine binary: ``name`` (docker/podman/a path), else $KAMPAI_CONTAINER_ENGINE, else
    podman (daemonless) or docker, whichever is on PATH."""
    from kampai.plugin import ConfigError, RunError

    name = name or os.environ.get("KAMPAI_CONTAINER_ENGINE") or None
    if name and name != "auto":
        if Path(name).name not in ENGINES:
            raise ConfigError(f"Unknown container engine '{name}': use docker or podman.")
        path = shutil.which(name)
        if path is None:
            raise RunError(f"Container engine '{name}' is not installed (not on PATH).")
        return path
    for candidate in ENGINES:
        path = shutil.which(candidate)
        if path:
            return path
    raise RunError("No container engine found: install Docker (https://docs.docker.com/engine/install/) "
                   "or Podman (apt-get install podman), or pass --engine PATH.")


def kind(engine: str) -> str:
    return Path(engine).name


def build(engine: str, context: Path, tag: str, build_args: dict[str, str], network: str | None,
          quiet: bool = False, no_cache: bool = False) -> None:
    """``ENGINE build``; on failure a RunError with the failing step and its last output lines."""
    from kampai.plugin import RunError

    cmd = [engine, "build", "-t", tag, "-f", str(context / "Dockerfile")]
    if kind(engine) == "podman":
        cmd += ["--format", "docker"]  # OCI images drop HEALTHCHECK
    if no_cache:
        cmd.append("--no-cache")
    for key, value in build_args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    if network:
        cmd += ["--network", network]
    cmd.append(str(context))
    tail: collections.deque[str] = collections.deque(maxlen=15)
    step = ""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip("\n")
        if _STEP.match(line):
            step = line if len(line) <= 160 else line[:157] + "..."
        tail.append(line)
        if not quiet:
            print(line, file=sys.stderr)
    if proc.wait() != 0:
        last = "\n  ".join(tail)
        raise RunError(f"Image build failed at {step or 'the first step'} (exit {proc.returncode}); "
                       f"last lines:\n  {last}\n(Dockerfile: {context / 'Dockerfile'})")


def image_size(engine: str, tag: str) -> int | None:
    out = subprocess.run([engine, "image", "inspect", "--format", "{{.Size}}", tag],
                         capture_output=True, text=True)
    try:
        return int(out.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):
        return None


def tag(engine: str, source: str, target: str) -> None:
    subprocess.run([engine, "tag", source, target], capture_output=True, check=False)


def image_exists(engine: str, tag: str) -> bool:
    return subprocess.run([engine, "image", "inspect", tag], capture_output=True).returncode == 0


def gpu_flags(engine: str) -> list[str]:
    """Docker: ``--gpus all`` (NVIDIA container toolkit); Podman: the CDI device."""
    return ["--device", "nvidia.com/gpu=all"] if kind(engine) == "podman" else ["--gpus", "all"]


PASS_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "KAMPAI_SERVE_TOKEN", "HF_HUB_OFFLINE",
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CUDA_VISIBLE_DEVICES")


def run_command(engine: str, image: str, args: list[str], project: Path, *, gpu: bool, network: str | None,
                env: list[str], publish: list[str]) -> list[str]:
    """The ``ENGINE run`` command line: the project folder at /work (runs/, studies/, the tracking
    store land on the host), as the caller's uid so the files are theirs."""
    cmd = [engine, "run", "--rm", "-v", f"{project.resolve()}:/work", "-w", "/work"]
    uid, gid = os.getuid(), os.getgid()
    if kind(engine) == "podman" and uid != 0:
        cmd += ["--userns=keep-id"]  # rootless podman: the caller's uid inside maps to the caller outside
    cmd += ["--user", f"{uid}:{gid}", "-e", "HOME=/tmp", "-e", "KAMPAI_CACHE_DIR=/work/.kampai/cache",
            "-e", "KAMPAI_IN_CONTAINER=1"]
    if sys.stdin.isatty() and sys.stdout.isatty():
        cmd += ["-it"]
    if gpu:
        cmd += gpu_flags(engine)
    if network:
        cmd += ["--network", network]
    for name in PASS_ENV:
        if name in os.environ:
            cmd += ["-e", name]
    for item in env:
        cmd += ["-e", item]
    for item in publish:
        cmd += ["-p", item]
    return [*cmd, image, *args]
