"""Dockerfiles and build contexts for kampai images (pure text and files: no engine here)."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

CPU_BASE = "python:3.11-slim"
# the `base` flavour has only cudart and the driver compat libraries: torch's CUDA wheels bring
# cuBLAS/cuDNN/NCCL themselves, so a `runtime`/`cudnn` base would carry them twice
GPU_BASE = "nvidia/cuda:12.8.1-base-ubuntu24.04"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
SERVE_PORT = 8000
MODEL_DIR = "/opt/kampai/model"
UID = 10001

DOCKERIGNORE = """\
# written by runner container build: runs, studies, caches and envs never enter an image
runs/
studies/
mlruns/
.kampai/
.venv*/
**/__pycache__/
**/*.pyc
.git/
.pytest_cache/
.ruff_cache/
*.egg-info/
"""

# docker reference grammar (name[:tag]), lower-case path components, tag <= 128 chars
_TAG = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
                  r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$")


def valid_tag(tag: str) -> bool:
    return bool(_TAG.match(tag))


@dataclass
class ImageSpec:
    extras: list[str]
    base_image: str = CPU_BASE
    gpu: bool = False
    serve_model: Path | None = None  # run folder copied into the image
    pip_packages: list[str] = field(default_factory=list)
    ca_bundle: Path | None = None
    torch_index: str | None = TORCH_CPU_INDEX  # CPU images: torch's CPU wheels (no CUDA libs)
    kampai_source: Path | None = None  # a source tree with pyproject.toml; None = kampai from the index
    kampai_version: str = ""
    constraints: Path | None = None
    labels: dict[str, str] = field(default_factory=dict)


def _ensure_python(runtime: bool) -> str:
    """Bases without Python (nvidia/cuda, a debootstrap'd Debian) get the distribution's python3."""
    pkgs = "python3" if runtime else "python3 python3-venv"
    return ("RUN if ! command -v python3 >/dev/null 2>&1; then \\\n"
            "      export DEBIAN_FRONTEND=noninteractive && apt-get update -qq \\\n"
            f"      && apt-get install -y -qq --no-install-recommends {pkgs} ca-certificates \\\n"
            "      && rm -rf /var/lib/apt/lists/*; \\\n"
            "    fi")


def render(spec: ImageSpec) -> str:
    """The Dockerfile text (multi-stage: a builder with pip, a slim final stage with the venv)."""
    ca = []
    if spec.ca_bundle is not None:
        ca = ["COPY extra-ca.crt /etc/ssl/certs/kampai-extra-ca.crt",
              "ENV PIP_CERT=/etc/ssl/certs/kampai-extra-ca.crt SSL_CERT_FILE=/etc/ssl/certs/kampai-extra-ca.crt "
              "REQUESTS_CA_BUNDLE=/etc/ssl/certs/kampai-extra-ca.crt"]
    extras = ",".join(sorted(set(spec.extras)))
    if spec.kampai_source is not None:
        target = f"/build/kampai[{extras}]" if extras else "/build/kampai"
        copy_src = ["COPY kampai/ /build/kampai/"]
    else:
        version = f"=={spec.kampai_version}" if spec.kampai_version else ""
        target = f"kampai[{extras}]{version}" if extras else f"kampai{version}"
        copy_src = []
    pip_args = ["-c /build/constraints.txt"]
    if spec.torch_index and not spec.gpu:
        pip_args.append(f"--extra-index-url {spec.torch_index}")
    packages = " ".join(json.dumps(p) for p in [target, *spec.pip_packages])
    lines = [
        "# syntax=docker/dockerfile:1",
        "# Written by `runner container build` (kampai). Build it again with the same command,",
        "# or by hand: docker build -t TAG . (podman build works the same).",
        f"ARG BASE_IMAGE={spec.base_image}",
        "",
        "# ---- builder: pip, compilers' leftovers and caches stay here ----",
        "FROM ${BASE_IMAGE} AS builder",
        "ARG PIP_INDEX_URL",
        "ARG PIP_EXTRA_INDEX_URL",
        *ca,
        "ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1",
        _ensure_python(runtime=False),
        "RUN python3 -m venv /opt/venv",
        "COPY constraints.txt /build/constraints.txt",
        *copy_src,
        f"RUN /opt/venv/bin/pip install -q {' '.join(pip_args)} {packages} \\",
        "    && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} + \\",
        "    && rm -rf /opt/venv/lib/python3*/site-packages/pip /opt/venv/share",
        "",
        "# ---- final: the base, Python, the venv, a non-root user ----",
        "FROM ${BASE_IMAGE}",
        *ca,
        _ensure_python(runtime=True),
        f"RUN (getent group {UID} || groupadd -g {UID} kampai) \\",
        f"    && (getent passwd {UID} || useradd -u {UID} -g {UID} -m -d /home/kampai -s /bin/sh kampai) \\",
        "    && mkdir -p /work && chown -R " + f"{UID}:{UID} /work",
        "COPY --from=builder /opt/venv /opt/venv",
        "ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \\",
        "    HOME=/home/kampai KAMPAI_CACHE_DIR=/tmp/kampai-cache MPLCONFIGDIR=/tmp/matplotlib",
    ]
    for key, value in sorted(spec.labels.items()):
        lines.append(f"LABEL {key}={json.dumps(value)}")
    if spec.serve_model is not None:
        lines += [
            f"COPY --chown={UID}:{UID} model/ {MODEL_DIR}/",
            f"USER {UID}:{UID}",
            "WORKDIR /home/kampai",
            f"EXPOSE {SERVE_PORT}",
            "HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\",
            "  CMD python -c \"import os, urllib.request; urllib.request.urlopen("
            f"'http://127.0.0.1:%s/ready' % os.environ.get('PORT', '{SERVE_PORT}'), timeout=4)\"",
            "# auth is required: the container refuses to start without KAMPAI_SERVE_TOKEN",
            'ENTRYPOINT ["/bin/sh", "-c", "exec runner serve ' + MODEL_DIR + ' --host 0.0.0.0 '
            f'--port \\"${{PORT:-{SERVE_PORT}}}\\" --auth-token \\"${{KAMPAI_SERVE_TOKEN:?set KAMPAI_SERVE_TOKEN, '
            'the bearer token clients send}\\" \\"$@\\"", "runner-serve"]',
        ]
    else:
        lines += [f"USER {UID}:{UID}", "WORKDIR /work", 'ENTRYPOINT ["runner"]', 'CMD ["--help"]']
    return "\n".join(lines) + "\n"


def _copy_source(src: Path, dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (src / name).exists():
            shutil.copy2(src / name, dest / name)
    shutil.copytree(src / "src", dest / "src", ignore=ignore)


def write_context(spec: ImageSpec, out: Path) -> Path:
    """Write the Dockerfile, .dockerignore and everything COPY needs into ``out``; returns the Dockerfile."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / ".dockerignore").write_text(DOCKERIGNORE)
    constraints = spec.constraints.read_text() if spec.constraints and spec.constraints.exists() else ""
    (out / "constraints.txt").write_text(constraints)
    if spec.ca_bundle is not None:
        shutil.copy2(spec.ca_bundle, out / "extra-ca.crt")
    if spec.kampai_source is not None:
        _copy_source(spec.kampai_source, out / "kampai")
    if spec.serve_model is not None:
        shutil.copytree(spec.serve_model, out / "model", ignore=shutil.ignore_patterns("__pycache__"))
    dockerfile = out / "Dockerfile"
    dockerfile.write_text(render(spec))
    return dockerfile
