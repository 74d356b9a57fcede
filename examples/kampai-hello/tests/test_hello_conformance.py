"""kampai-hello's own tests, the template for a plugin's: the conformance kit on the
framework (every check, the engine round trip included), and an inline plugin registered for
one test with ``register_plugin``.  Only ``kampai`` and ``kampai.testing`` are imported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kampai_hello import HelloFramework

import kampai
from kampai.plugin import hookimpl
from kampai.testing import parametrize_with_checks, register_plugin


@pytest.fixture(autouse=True)
def _kampai_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test in its own folder, with its own kampai cache and signing key (never the user's)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAMPAI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KAMPAI_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.setenv("KAMPAI_TRACKING__ENABLED", "false")  # no MLflow runs from the tests


@parametrize_with_checks(HelloFramework())
def test_conformance(check: Any) -> None:
    check()


def test_an_inline_plugin_watches_hellos_fits() -> None:
    seen: list[str] = []

    class FitWatcher:
        @hookimpl
        def kampai_after_fit(self, ctx: Any, seconds: float) -> None:
            seen.append(ctx.config["framework"])

    with register_plugin(FitWatcher(), "fit-watcher"):
        run = kampai.train(task="classification", framework="hello", data="sklearn:iris", verbose=False)
    assert seen and set(seen) == {"hello"}
    assert run.metrics["accuracy"] > 0.8
    fits = len(seen)
    kampai.train(task="classification", framework="hello", data="sklearn:iris", verbose=False)
    assert len(seen) == fits  # the watcher left with its block
