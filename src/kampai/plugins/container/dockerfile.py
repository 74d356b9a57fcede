"""Dockerfiles and build contexts for kampai images (pure text and files: no engine here)."""

from __future__ import annotations

import json
import os
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
CONTEXT_MTIME = 315532800  # 1980-01-01, as in reproducible builds
MODEL_DIR = "/opt/kampai/model"
UID = 10001
# GET /ready with the bearer token from the environment (the serving image's HEALTHCHECK and the
# Kubernetes readiness probe: an httpGet probe cannot read a Secret into a header)
READY_PROBE = ("import os, urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:%s/ready' % "
               "os.environ.get('PORT', '8000'), headers={'Authorization': 'Bearer ' + "
               "os.environ.get('KAMPAI_SERVE_TOKEN', '')}), timeout=4)")
READY_PROBE_SHELL = 'python -c "' + READY_PROBE + '"'

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
    pins: dict[str, str] = field(default_factory=dict)  # name -> version, win over ``constraints``
    requirements: list[str] = field(default_factory=list)  # requirement strings beside kampai (an extra's subset)
    keep_bytecode: bool = False  # keep __pycache__: bigger image, ~3 s faster start of each process
    strip: bool = True  # strip shared libraries' symbols (binutils in the builder, from apt when missing)
    image_key: str | None = None  # serving images: the key the copied run is re-signed with
    serve_files: dict[str, str] = field(default_factory=dict)  # the run's verified files (runcopy.signed_files)
    labels: dict[str, str] = field(default_factory=dict)


_APT_PYTHON = ("export DEBIAN_FRONTEND=noninteractive && apt-get update -qq \\\n"
               "      && apt-get install -y -qq --no-install-recommends {pkgs} ca-certificates \\\n"
               "      && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log")


def _venv_step() -> str:
    """A venv in the builder; bases without Python or without ensurepip (nvidia/cuda, Debian's
    python3 without python3-venv) get the distribution's packages first."""
    return ("RUN if ! python3 -m venv /opt/venv >/dev/null 2>&1; then \\\n"
            "      rm -rf /opt/venv && " + _APT_PYTHON.format(pkgs="python3 python3-venv") + " \\\n"
            "      && python3 -m venv /opt/venv; \\\n"
            "    fi")


# binutils' strip for slim.py, in the builder only; a base without apt (or without a mirror) just
# builds unstripped
_STRIP_TOOL = ("RUN command -v strip >/dev/null 2>&1 || ( " + _APT_PYTHON.format(pkgs="binutils")
               + " ) >/dev/null 2>&1 || echo 'no strip: shared libraries keep their symbols'")


def _runtime_python_step() -> str:
    """The final stage needs only the interpreter the venv points at (no pip, no ensurepip)."""
    return ("RUN if ! command -v python3 >/dev/null 2>&1; then \\\n"
            "      " + _APT_PYTHON.format(pkgs="python3") + "; \\\n"
            "    fi \\\n"
            f"    && (getent group {UID} >/dev/null || groupadd -g {UID} kampai) \\\n"
            f"    && (getent passwd {UID} >/dev/null \\\n"
            f"        || useradd -u {UID} -g {UID} -m -d /home/kampai -s /bin/sh kampai) \\\n"
            f"    && mkdir -p /work /home/kampai && chown {UID}:{UID} /work /home/kampai")


def render(spec: ImageSpec) -> str:
    """The Dockerfile text: a builder stage makes /opt/venv with pip and slims it in the same
    layer (slim.py); the final stage is the base, its python3, a non-root user and the venv."""
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
    pip_args = ["--no-cache-dir", "-c /build/constraints.txt"]
    if not spec.keep_bytecode:
        pip_args.insert(1, "--no-compile")
    if spec.torch_index and not spec.gpu:
        pip_args.append(f"--extra-index-url {spec.torch_index}")
    packages = " ".join(json.dumps(p) for p in [target, *spec.requirements, *spec.pip_packages])
    slim_args = (" --keep-bytecode" if spec.keep_bytecode else "") + ("" if spec.strip else " --no-strip")
    lines = [
        "# syntax=docker/dockerfile:1",
        "# Written by `runner container build` (kampai). Build it again with the same command,",
        "# or by hand: docker build -t TAG . (podman build works the same).",
        f"ARG BASE_IMAGE={spec.base_image}",
        "",
        "# ---- builder: pip, its caches and everything slim.py removes stay in this stage ----",
        "FROM ${BASE_IMAGE} AS builder",
        "ARG PIP_INDEX_URL",
        "ARG PIP_EXTRA_INDEX_URL",
        *ca,
        "ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1",
        _venv_step(),
        *([_STRIP_TOOL] if spec.strip else []),
        "COPY constraints.txt slim.py /build/",
        *copy_src,
        f"RUN /opt/venv/bin/pip install -q {' '.join(pip_args)} {packages} \\",
        f"    && /opt/venv/bin/python /build/slim.py /opt/venv{slim_args}",
        "",
        "# ---- final: the base, its python3, a non-root user, the venv ----",
        "FROM ${BASE_IMAGE}",
        *ca,
        _runtime_python_step(),
        "COPY --from=builder /opt/venv /opt/venv",
        "ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 KAMPAI_IN_CONTAINER=1 \\",
        "    HOME=/home/kampai KAMPAI_CACHE_DIR=/tmp/kampai-cache MPLCONFIGDIR=/tmp/matplotlib",
    ]
    for key, value in sorted(spec.labels.items()):
        lines.append(f"LABEL {key}={json.dumps(value)}")
    if spec.serve_model is not None:
        # root-owned and read-only for the server's user; the run was re-signed at build time
        # with a key of this image only (the host's key never enters an image)
        lines += [
            "COPY image.key /opt/kampai/image.key",
            f"COPY model/ {MODEL_DIR}/",
            f"ENV KAMPAI_KEY_FILE=/opt/kampai/image.key PORT={SERVE_PORT}",
            f"USER {UID}:{UID}",
            "WORKDIR /home/kampai",
            f"EXPOSE {SERVE_PORT}",
            # /ready needs the bearer token like every path but /health and /ping
            "HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\",
            f"  CMD {READY_PROBE_SHELL}",
            "# auth is required: the container refuses to start without KAMPAI_SERVE_TOKEN, which"
            " runner serve reads from the environment (a flag would show the token in ps)",
            'ENTRYPOINT ["/bin/sh", "-c", ": \\"${KAMPAI_SERVE_TOKEN:?set KAMPAI_SERVE_TOKEN, the bearer token '
            'clients send}\\" && exec runner serve ' + MODEL_DIR + ' --host 0.0.0.0 '
            f'--port \\"${{PORT:-{SERVE_PORT}}}\\" \\"$@\\"", "runner-serve"]',
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


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[;@ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def pin_constraints(text: str, pins: dict[str, str]) -> str:
    """The project's constraints with ``pins`` (a served run's recorded versions) replacing any
    line about the same package: the model is unpickled by the versions that pickled it."""
    if not pins:
        return text
    names = {_name(n) for n in pins}
    kept = [line for line in text.splitlines() if not line.strip() or line.lstrip().startswith("#")
            or _name(line) not in names]
    added = [f"{name}=={version}" for name, version in sorted(pins.items())]
    return "\n".join([*kept, "# the served run's package versions (signature.json)", *added]) + "\n"


#: the marker of a build context folder kampai wrote (it replaces only such a folder)
CONTEXT_MARKER = ".kampai-context"
#: what a context folder holds (one written before the marker existed is recognised by it)
CONTEXT_NAMES = {CONTEXT_MARKER, "Dockerfile", ".dockerignore", "constraints.txt", "slim.py", "extra-ca.crt",
                 "kampai", "model", "image.key"}


def _check_replaceable(out: Path) -> None:
    from kampai.plugin import KampaiError

    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise KampaiError(f"--output '{out}' is not a folder kampai wrote: pick another path.")
    if not out.exists() or (out / CONTEXT_MARKER).is_file():
        return
    foreign = sorted(p.name for p in out.iterdir() if p.name not in CONTEXT_NAMES)
    if foreign:
        raise KampaiError(f"--output '{out}' is not a build context kampai wrote (it holds {foreign[0]}): it is "
                          "left untouched. Pick a new or empty folder.")


def write_context(spec: ImageSpec, out: Path) -> Path:
    """Write the Dockerfile, .dockerignore and everything COPY needs into ``out`` (replacing
    only a context kampai wrote there before); returns the Dockerfile."""
    _check_replaceable(out)
    if spec.serve_model is not None and not spec.serve_files:
        from kampai.plugins.container.runcopy import signed_files

        spec.serve_files = signed_files(spec.serve_model, f"Run '{spec.serve_model}'")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / CONTEXT_MARKER).write_text("a container build context written by kampai (runner container build)\n")
    (out / ".dockerignore").write_text(DOCKERIGNORE)
    constraints = spec.constraints.read_text() if spec.constraints and spec.constraints.exists() else ""
    (out / "constraints.txt").write_text(pin_constraints(constraints, spec.pins))
    shutil.copy2(Path(__file__).with_name("slim.py"), out / "slim.py")
    if spec.ca_bundle is not None:
        shutil.copy2(spec.ca_bundle, out / "extra-ca.crt")
    if spec.kampai_source is not None:
        _copy_source(spec.kampai_source, out / "kampai")
    if spec.serve_model is not None:
        from kampai.plugins.container.runcopy import copy_signed_run

        # what the signed manifest lists, nothing else (a file planted beside model/ stays out)
        copy_signed_run(spec.serve_model, out / "model", spec.serve_files, f"Run '{spec.serve_model}'")
        (out / "image.key").write_text(spec.image_key or "")
    dockerfile = out / "Dockerfile"
    dockerfile.write_text(render(spec))
    # the context is written anew on every build: fixed timestamps keep the engine's layer cache
    # valid (buildah's COPY cache key includes them; a rebuild would redo pip install)
    for path in [out, *out.rglob("*")]:
        os.utime(path, (CONTEXT_MTIME, CONTEXT_MTIME), follow_symlinks=False)
    return dockerfile
