"""Simulate an env without some extras: the top-level modules in $KAMPAI_TEST_BLOCK_IMPORTS
(comma-separated) are not found, exactly as if absent (find_spec -> None, import ->
ModuleNotFoundError), in this process and every subprocess that inherits the variable.

    KAMPAI_TEST_BLOCK_IMPORTS=mlflow,optuna PYTHONPATH=tests/without_extras pytest tests/test_battery.py

checks that tests skip cleanly without those extras (what one tox env per extra would
show, without installing one).  A library that detects optional packages through their
installed metadata (pytorch-lightning does) still sees the hidden ones: hide only what
kampai and the tests import themselves."""
import importlib.machinery
import os

_BLOCK = {m for m in os.environ.get("KAMPAI_TEST_BLOCK_IMPORTS", "").split(",") if m}

if _BLOCK:
    _find = importlib.machinery.PathFinder.find_spec.__func__

    def _find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] in _BLOCK:
            return None
        return _find(cls, name, path, target)

    importlib.machinery.PathFinder.find_spec = classmethod(_find_spec)
