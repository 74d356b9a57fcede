"""``runner app`` looked at in a real headless browser (Chromium through chromedriver's
WebDriver protocol, spoken with httpx): the page draws, a prediction from the form shows.
Skipped where no Chromium/chromedriver is installed (Debian: ``apt-get install chromium
chromium-driver``).  ``python tests/test_serve_browser.py REF OUT.png`` takes the docs'
screenshot (docs/images/serve-app.png)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import free_port, stop_session

httpx = pytest.importorskip("httpx")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")


def wait_http(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[:3]} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


@contextmanager
def browser():
    """A WebDriver session on headless Chromium: ``(post, get)`` on the session's URL."""
    port = free_port()
    driver = subprocess.Popen([DRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/status", driver, 30)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                "--window-size=1100,1500"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome",
                                                 "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}}}
        started = httpx.post(base + "/session", json=caps, timeout=120).json()["value"]
        session = f"{base}/session/{started['sessionId']}"

        def post(path: str, body: dict | None = None) -> object:
            return httpx.post(session + path, json=body or {}, timeout=60).json()["value"]

        try:
            yield post, lambda path: httpx.get(session + path, timeout=60).json()["value"]
        finally:
            httpx.delete(session, timeout=30)
    finally:
        driver.terminate()
        try:
            driver.wait(20)
        except subprocess.TimeoutExpired:  # a loaded machine: chromedriver slow to leave
            driver.kill()
            driver.wait(10)


def find(post, xpath: str, seconds: float = 120) -> list[str]:
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = post("/elements", {"using": "xpath", "value": xpath})
        if found:
            return [e[ELEMENT] for e in found]
        time.sleep(0.5)
    raise AssertionError(f"nothing matches {xpath}")


def page_text(post) -> str:
    return post("/execute/sync", {"script": "return document.body.textContent", "args": []})


def predict_in_browser(url: str, values: list[str], out: Path) -> str:
    """Open the page, type ``values`` into the number fields, press Predict, screenshot."""
    with browser() as (post, get):
        post("/url", {"url": url})
        find(post, "//button[.//p[text()='Predict']]")
        for element, value in zip(find(post, "//input[@type='number']"), values, strict=False):
            # select all, type, Tab (commits the value in Streamlit's React input)
            post(f"/element/{element}/value", {"text": "\ue009a\ue009" + value + "\ue004"})
        time.sleep(1)
        (button,) = find(post, "//button[.//p[text()='Predict']]")
        post(f"/element/{button}/click")
        deadline = time.time() + 60
        while "proba_" not in page_text(post) and time.time() < deadline:
            time.sleep(0.5)
        time.sleep(1.5)  # let the table paint
        out.write_bytes(base64.b64decode(get("/screenshot")))
        return page_text(post)


@contextmanager
def streamlit_app(ref: str, env: dict | None = None):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kampai", "app", ref, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, **(env or {})})
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_session(proc)


@pytest.mark.slow
@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="no Chromium/chromedriver installed")
def test_streamlit_page_in_a_real_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("streamlit")
    from kampai import api

    monkeypatch.chdir(tmp_path)
    run = api.train(task="classification", data="sklearn:iris", model="RandomForestClassifier",
                    params={"n_estimators": 10}, verbose=False)
    with streamlit_app(str(run.run_dir)) as url:
        text = predict_in_browser(url, ["6.7", "3.0", "5.2", "2.3"], tmp_path / "app.png")
    assert "classification · RandomForestClassifier" in text and "accuracy" in text
    assert "proba_virginica" in text and "virginica" in text.split("proba_virginica", 1)[1]
    assert (tmp_path / "app.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


if __name__ == "__main__":
    with streamlit_app(sys.argv[1]) as url:
        print(predict_in_browser(url, sys.argv[3].split(",") if len(sys.argv) > 3 else ["6.7", "3.0", "5.2", "2.3"],
                                 Path(sys.argv[2])))
