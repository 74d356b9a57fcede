"""Connecting to a Ray cluster: one place for the address rules, the runtime environment
(this process's kampai travels to the nodes) and the one-line errors.

Addresses: ``host:port`` (the GCS address; from a machine that is a node of the cluster),
``ray://host:10001`` (Ray Client; from anywhere), ``auto`` (the cluster running on this
machine).  ``None`` reads ``$RAY_ADDRESS`` and falls back to ``auto``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from kampai.core.errors import KampaiError


class RayError(KampaiError):
    """Ray is missing, the cluster cannot be reached, or a remote step failed."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayError("Ray is not installed: pip install 'kampai[ray]'.") from None
    return ray


def kampai_source() -> str:
    """The folder of this process's ``kampai`` package (shipped to the nodes as a py_module,
    so every node runs exactly the driver's kampai; plugins still come from the node's
    installed distributions)."""
    import kampai

    return str(Path(kampai.__file__).parent)


def runtime_env(working_dir: str | None = None) -> dict[str, Any]:
    env_vars = {"KAMPAI_ON_RAY": "1", "PYTHONUNBUFFERED": "1"}
    for name in ("PYTHONPATH", "KAMPAI_BLOCK_PLUGINS", "KAMPAI_DISABLE_PLUGIN_AUTOLOAD", "KAMPAI_CACHE_DIR"):
        # this process's module path and plugin blocks (paths that do not exist on a node are skipped
        # by Python); the project's own modules travel with working_dir where one is given
        if os.environ.get(name):
            env_vars[name] = os.environ[name]
    env: dict[str, Any] = {"py_modules": [kampai_source()], "env_vars": env_vars,
                           "config": {"setup_timeout_seconds": 300}}
    if working_dir is not None:
        env["working_dir"] = working_dir
    return env


def address_of(address: str | None) -> str:
    return str(address or os.environ.get("RAY_ADDRESS") or "auto")


def connect(address: str | None, *, working_dir: str | None = None) -> Any:
    """``ray`` connected to the cluster at ``address`` (see the module docstring), with this
    kampai on every worker; a :class:`RayError` naming the address when it cannot be reached."""
    ray = import_ray()
    address = address_of(address)
    _check_reachable(address)
    if ray.is_initialized():
        ray.shutdown()
    try:
        ray.init(address=address, runtime_env=runtime_env(working_dir), logging_level="ERROR",
                 log_to_driver=False)
    except Exception as exc:  # ConnectionError, a GCS that does not answer in time, a bad address
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RayError(f"Cannot connect to the Ray cluster at '{address}': {first}. Start one with "
                       "`ray start --head` (docs/scale.md) or pass --ray HOST:PORT.") from None
    return ray


#: seconds to wait for the cluster's port before saying it cannot be reached (Ray itself waits minutes)
CONNECT_TIMEOUT = 10


def _check_reachable(address: str) -> None:
    """Fail at once, in one line, when ``host:port`` (or ``ray://host:port``) does not answer."""
    import socket

    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise RayError(f"Not a Ray cluster address: '{address}' (use host:port, ray://host:10001 or auto).")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise RayError(f"Cannot connect to the Ray cluster at '{address}': {exc.strerror or exc}. Start one with "
                       "`ray start --head` (docs/scale.md) or pass --ray HOST:PORT.") from None


def alive_nodes(ray: Any) -> list[dict[str, Any]]:
    return [n for n in ray.nodes() if n.get("Alive")]


def cluster_cpus(ray: Any) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def one_host(ray: Any) -> bool:
    """Whether every node of the cluster runs on this machine (a SQLite file is then shared)."""
    import socket

    here = {"127.0.0.1", "localhost", socket.gethostname()}
    with contextlib.suppress(OSError):
        here.add(socket.gethostbyname(socket.gethostname()))
    with contextlib.suppress(Exception):
        here.add(ray.util.get_node_ip_address())
    return all(n.get("NodeManagerAddress") in here or n.get("NodeManagerHostname") in here
               for n in alive_nodes(ray))


def node_label() -> str:
    """Which node runs this code: ``ip/node-id`` (the first 12 hex digits of Ray's node id)."""
    import ray

    ctx = ray.get_runtime_context()
    return f"{ray.util.get_node_ip_address()}/{ctx.get_node_id()[:12]}"
