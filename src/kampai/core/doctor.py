"""``runner doctor``: is this environment the one you think it is?

Each check is one :class:`Check` (section, name, status, detail).  ``missing`` on a check
that a config of the project needs (``needed``) makes the command exit 1.  Fast and light:
nothing heavy is imported (torch's build is read from ``torch/version.py``, packages from
their metadata, the MLflow store is probed with a 1-second socket or a file check), unless
``gpu=True`` asks torch itself whether it sees a GPU.  The secret key's value is never read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

OK, WARN, MISSING, INFO = "ok", "warn", "missing", "info"


@dataclass
class Check:
    section: str
    name: str
    status: str
    detail: str
    needed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def project_venv(start: Path) -> Path | None:
    """The nearest ``.venv`` folder at ``start`` or above (a project's own environment)."""
    for folder in (start, *start.parents):
        candidate = folder / ".venv"
        if (candidate / "pyvenv.cfg").is_file():
            return candidate
    return None


def python_checks(root: Path) -> list[Check]:
    active = Path(sys.prefix).resolve()
    in_venv = sys.prefix != sys.base_prefix
    checks = [Check("python", "python", OK, f"{sys.version.split()[0]} at {sys.executable}"),
              Check("python", "environment", OK if in_venv else INFO,
                    f"virtual environment {active}" if in_venv else "no virtual environment (system Python)")]
    project = project_venv(root)
    if project is not None and project.resolve() != active:
        checks.append(Check("python", "project venv", WARN,
                            f"this project has {project} but runner runs from {active}: activate it "
                            f"(source {project}/bin/activate) or run {project}/bin/runner"))
    elif project is not None:
        checks.append(Check("python", "project venv", OK, f"running from the project's {project}"))
    return checks


def kampai_checks() -> list[Check]:
    import kampai

    try:
        version = metadata.version("kampai")
    except metadata.PackageNotFoundError:
        version = kampai.__version__
    return [Check("kampai", "kampai", OK, f"{version} at {Path(kampai.__file__).parent}")]


def plugin_checks() -> list[Check]:
    from kampai.core.host import get_host

    host = get_host()
    checks = []
    for name, info in sorted(host.infos.items()):
        status = {"ok": OK, "blocked": INFO}.get(info.status, WARN)
        where = f"{info.distribution} {info.version}" if info.distribution else info.module
        error = f": {info.error}" if info.error else ""
        checks.append(Check("plugins", name, status, f"{info.status} ({where}){error}"))
    return checks


def extras() -> dict[str, list[str]]:
    """kampai's extras and the distributions each installs, from kampai's own metadata."""
    out: dict[str, list[str]] = {}
    try:
        requires = metadata.metadata("kampai").get_all("Requires-Dist") or []
    except metadata.PackageNotFoundError:
        return out
    for line in requires:
        if "extra ==" not in line:
            continue
        requirement, _, marker = line.partition(";")
        extra = marker.split("extra ==")[1].strip().strip("'\"")
        name = requirement.strip()
        for sep in "<>=!~[ (":
            name = name.split(sep)[0]
        out.setdefault(extra, []).append(name)
    return out


def installed(dist: str) -> bool:
    try:
        metadata.distribution(dist)
        return True
    except metadata.PackageNotFoundError:
        return False


def config_needs(path: Path) -> tuple[str | None, set[str], str | None]:
    """(framework, the extras the config needs, a problem reading it)."""
    from kampai.core.host import get_host
    from kampai.core.hosted import load_config

    try:
        cfg = load_config(path)
    except Exception as exc:
        return None, set(), str(exc).splitlines()[0]
    needs: set[str] = set()
    name = cfg.get("framework")
    if name:
        try:
            extra = get_host().framework(name).extra
        except Exception as exc:
            return name, needs, str(exc).splitlines()[0]
        if extra:
            needs.add(extra)
    serializer = (cfg.get("output") or {}).get("serializer")
    if serializer and serializer not in ("pickle", "joblib"):
        needs.add(str(serializer))
    return name, needs, None


def extras_checks(root: Path) -> list[Check]:
    known = extras()
    checks = []
    for extra, dists in sorted(known.items()):
        missing = [d for d in dists if not installed(d)]
        checks.append(Check("extras", extra, OK if not missing else INFO,
                            "installed" if not missing else f"not installed (missing {', '.join(missing)})"))
    configs = sorted((root / "conf").rglob("*.y*ml")) if (root / "conf").is_dir() else []
    for path in configs:
        framework, needs, problem = config_needs(path)
        label = str(path.relative_to(root))
        if problem:
            checks.append(Check("configs", label, MISSING, problem, needed=True))
            continue
        lacking = {e: [d for d in known.get(e, []) if not installed(d)] for e in sorted(needs)}
        lacking = {e: d for e, d in lacking.items() if d}
        if lacking:
            checks.append(Check("configs", label, MISSING, f"framework {framework}: needs "
                                + "; ".join(f"kampai[{e}] (missing {', '.join(d)})" for e, d in lacking.items())
                                + f": pip install 'kampai[{','.join(lacking)}]'", needed=True))
        else:
            checks.append(Check("configs", label, OK, f"framework {framework}"
                                + (f", extras {', '.join(sorted(needs))} installed" if needs else "")))
    return checks


def torch_build() -> dict[str, Any] | None:
    """torch's version and CUDA build from ``torch/version.py``, without importing torch."""
    spec = find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    file = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    values: dict[str, Any] = {}
    try:
        for line in file.read_text().splitlines():
            key, sep, value = line.partition("=")
            key = key.split(":")[0].strip()
            if sep and key in ("__version__", "cuda", "hip"):
                value = value.strip().strip("'\"")
                values[key] = None if value == "None" else value
    except OSError:
        return {"__version__": "?"}
    return values


def gpu_checks(ask_torch: bool) -> list[Check]:
    build = torch_build()
    checks = []
    if build is None:
        checks.append(Check("gpu", "torch", INFO, "not installed"))
    else:
        kind = f"CUDA {build['cuda']}" if build.get("cuda") else (f"ROCm {build['hip']}" if build.get("hip") else "CPU")
        checks.append(Check("gpu", "torch", OK, f"{build.get('__version__')} ({kind} build)"))
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            listed = ""
        checks.append(Check("gpu", "nvidia-smi", OK if listed else WARN, listed.replace("\n", "; ") or "no GPU listed"))
    else:
        devices = sorted(str(p) for p in Path("/dev").glob("nvidia[0-9]*"))
        checks.append(Check("gpu", "GPU", INFO, ", ".join(devices) if devices else "no NVIDIA GPU visible"))
    if build is not None and build.get("cuda") is None and smi:
        checks.append(Check("gpu", "torch build", WARN, "a GPU is here but torch is a CPU build"))
    if ask_torch and build is not None:
        import torch

        if torch.cuda.is_available():
            names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            checks.append(Check("gpu", "torch.cuda", OK, f"{len(names)} device(s): {', '.join(names)}"))
        else:
            checks.append(Check("gpu", "torch.cuda", INFO, "torch sees no GPU"))
    return checks


def config_tracking_uris(root: Path) -> list[str]:
    """The ``tracking.uri`` values the configs under ``conf/`` set (read as YAML, not loaded)."""
    from kampai.core.yamlsafe import load_yaml

    uris = []
    for path in sorted((root / "conf").rglob("*.y*ml")) if (root / "conf").is_dir() else []:
        try:
            data = load_yaml(path.read_text())
        except Exception:
            continue
        tracking = data.get("tracking") if isinstance(data, dict) else None
        uri = tracking.get("uri") if isinstance(tracking, dict) else None
        if isinstance(uri, str) and uri not in uris:
            uris.append(uri)
    return uris


def mlflow_checks(root: Path) -> list[Check]:
    if not installed("mlflow"):
        return [Check("tracking", "mlflow", INFO, "not installed (tracking and the registry are off)")]
    default = os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///" + str((root / ".kampai" / "mlflow.db").resolve())
    return [store_check(uri) for uri in dict.fromkeys([default, *config_tracking_uris(root)])]


def store_check(uri: str) -> Check:
    """An MLflow store: a SQLite file that exists or can be created, a server that answers."""
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if path.is_file():
            return Check("tracking", "mlflow store", OK, f"{uri} (exists)")
        parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
        writable = parent is not None and os.access(parent, os.W_OK)
        return Check("tracking", "mlflow store", OK if writable else WARN,
                     f"{uri} (created on first use)" if writable else f"{uri}: {parent} is not writable")
    if uri.startswith(("http://", "https://")):
        import socket
        from urllib.parse import urlparse

        parsed = urlparse(uri)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            with socket.create_connection((parsed.hostname or "localhost", port), timeout=1.0):
                pass
        except OSError as exc:
            return Check("tracking", "mlflow store", WARN, f"{uri} unreachable ({exc.strerror or exc}): "
                         "runs are kept locally and pushed by runner runs sync")
        return Check("tracking", "mlflow store", OK, f"{uri} (reachable)")
    return Check("tracking", "mlflow store", INFO, uri)


def key_checks() -> list[Check]:
    from kampai.core.signing import KEY_ENV, key_file

    if os.environ.get(KEY_ENV):
        return [Check("security", "secret key", OK, f"from ${KEY_ENV} (value not shown)")]
    path = key_file()
    if not path.exists():
        return [Check("security", "secret key", INFO, f"{path} (created on first use, mode 600)")]
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return [Check("security", "secret key", WARN, f"{path} has mode {mode:o}: others can read it "
                      f"(chmod 600 {path})")]
    return [Check("security", "secret key", OK, f"{path} (mode {mode:o})")]


def tool_checks(root: Path) -> list[Check]:
    checks = []
    engine = next((name for name in ("podman", "docker") if shutil.which(name)), None)
    checks.append(Check("tools", "container engine", OK if engine else INFO,
                        f"{engine} at {shutil.which(engine)}" if engine else "none (podman or docker) on PATH"))
    dvc = shutil.which("dvc") or (shutil.which("dvc", path=str(Path(sys.executable).parent)))
    version = None
    if installed("dvc"):
        version = metadata.version("dvc")
    checks.append(Check("tools", "dvc", OK if (dvc or version) else INFO,
                        (f"{version} " if version else "") + (f"at {dvc}" if dvc else "") if (dvc or version)
                        else "not installed (pip install 'kampai[insight]')"))
    if (root / "dvc.yaml").is_file() and not (dvc or version):
        checks[-1] = Check("tools", "dvc", MISSING, "dvc.yaml is here but DVC is not installed", needed=True)
    git = shutil.which("git")
    if git is None:
        checks.append(Check("tools", "git", INFO, "not on PATH (runs record no code version)"))
    else:
        inside = subprocess.run([git, "rev-parse", "--show-toplevel"], cwd=root, capture_output=True,
                                text=True, timeout=5)
        checks.append(Check("tools", "git", OK, f"{git}; " + (f"repository {inside.stdout.strip()}" if
                                                               inside.returncode == 0 else "not a git repository")))
    return checks


def run_checks(root: Path | None = None, *, gpu: bool = False) -> list[Check]:
    """Every check, in the order ``runner doctor`` prints them."""
    root = (root or Path.cwd()).resolve()
    return [*python_checks(root), *kampai_checks(), *plugin_checks(), *extras_checks(root), *gpu_checks(gpu),
            *mlflow_checks(root), *key_checks(), *tool_checks(root)]


def failed(checks: list[Check]) -> bool:
    """Whether something a config of the project needs is missing (exit 1)."""
    return any(c.needed and c.status == MISSING for c in checks)
