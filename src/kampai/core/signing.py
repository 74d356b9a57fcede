"""The secret key that authenticates what kampai later unpickles (run manifests, the tuning
fold cache): an HMAC-SHA256 that whoever can write a run folder or the cache folder cannot
forge without the key, which lives outside both.

The key is ``$KAMPAI_SECRET_KEY`` when set (a string: share it to trust runs across
machines, e.g. from a CI secret), else the file ``$KAMPAI_KEY_FILE``, else
``$XDG_CONFIG_HOME/kampai/secret.key`` (``~/.config/kampai/secret.key``), created on first use
with 32 random bytes and mode 0600.  docs/security.md has the threat model.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from kampai.core.errors import KampaiError

KEY_ENV = "KAMPAI_SECRET_KEY"
KEY_FILE_ENV = "KAMPAI_KEY_FILE"
#: the shortest key accepted (bytes): an HMAC-SHA256 key as strong as its hash
MIN_KEY_BYTES = 32
HOW_TO_MAKE = "make one with: python -c \"import secrets; print(secrets.token_hex(32))\""


def key_file() -> Path:
    """Where the key is kept when ``$KAMPAI_SECRET_KEY`` is not set."""
    if os.environ.get(KEY_FILE_ENV):
        return Path(os.environ[KEY_FILE_ENV])
    root = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(root) / "kampai" / "secret.key"


def secret() -> bytes:
    """The key (read or created once per process and location)."""
    if os.environ.get(KEY_ENV):
        key = os.environ[KEY_ENV].encode()
        if len(key) < MIN_KEY_BYTES:
            raise KampaiError(f"${KEY_ENV} holds {len(key)} bytes: a signing key needs at least "
                              f"{MIN_KEY_BYTES} (anyone could guess a short one); {HOW_TO_MAKE}")
        return key
    return _file_key(str(key_file()))


@functools.cache
def _file_key(path_text: str) -> bytes:
    path = Path(path_text)
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise KampaiError(f"Cannot read the signing key '{path}': {exc.strerror}. Set {KEY_ENV} instead.") from None
    else:
        return _checked(key, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)  # first writer wins: parallel workers agree on one key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        key = path.read_bytes()
    except OSError as exc:
        raise KampaiError(f"Cannot create the signing key '{path}': {exc.strerror}. Set {KEY_ENV} "
                          f"(or {KEY_FILE_ENV}) to a writable place or a shared secret.") from None
    return _checked(key, path)


def _checked(key: bytes, path: Path) -> bytes:
    """A key file's bytes, refused when too short to be secret (a 5-byte key is guessed)."""
    if len(key) < MIN_KEY_BYTES:
        raise KampaiError(f"The signing key '{path}' holds {len(key)} bytes: a key needs at least "
                          f"{MIN_KEY_BYTES}. Remove the file (kampai then creates a random one) or "
                          f"{HOW_TO_MAKE} > '{path}'")
    return key


def key_id() -> str:
    """A short public fingerprint of the key (says which key signed something)."""
    return hashlib.sha256(b"kampai-key-id:" + secret()).hexdigest()[:12]


def sign(data: bytes) -> str:
    return hmac.new(secret(), data, hashlib.sha256).hexdigest()


def valid(expected: str, actual: str) -> bool:
    return hmac.compare_digest(str(expected), str(actual))
