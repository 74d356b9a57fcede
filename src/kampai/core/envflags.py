"""One reading of an on/off environment variable (``KAMPAI_STRICT_PLUGINS=1``)."""

from __future__ import annotations

import os

#: the values that mean "off" (any case, surrounding blanks ignored); anything else is "on"
OFF = ("", "0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """True when ``$name`` is set to anything but an "off" value (unset, '', 0, false, no, off)."""
    return os.environ.get(name, "").strip().lower() not in OFF
