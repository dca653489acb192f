"""The HTML report in headless Chromium, checked for what a person would see: the title, the drawn path
pictures, no broken images, and nothing fetched from anywhere.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``make`` set-up installs them); without
them these tests fail, on purpose, with the install line.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from explain import render_html
from tests.test_explain_report import sample_data

INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    # any name lookup fails, so a report that tried to fetch something could not
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; the browser test needs it: {INSTALL}")
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(sample_data(samples=3)), encoding="utf-8")
    return path


def test_dump_dom_shows_title_and_path_pictures(report: Path, tmp_path: Path) -> None:
    chromium = _binary("chromium")
    done = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<title>Coffee &lt;report&gt;</title>" in dom
    assert dom.count('class="path-svg"') == 3
    assert "<img" not in dom


class WebDriver:
    """The few W3C WebDriver calls the test needs, over chromedriver's HTTP port (no selenium needed)."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session = ""

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["value"]

    def run(self, script: str) -> Any:
        return self.call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": []})


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[WebDriver]:
    chromium, chromedriver = _binary("chromium"), _binary("chromedriver")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [chromedriver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wd = WebDriver(port)
    try:
        for _ in range(100):
            try:
                if wd.call("GET", "/status")["ready"]:
                    break
            except OSError:
                time.sleep(0.1)
        options = {
            "binary": chromium,
            "args": [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000"],
        }
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}
        wd.session = wd.call("POST", "/session", caps)["sessionId"]
        yield wd
    finally:
        if wd.session:
            wd.call("DELETE", f"/session/{wd.session}")
        process.terminate()
        process.wait(timeout=30)


def test_a_person_sees_the_report(driver: WebDriver, report: Path) -> None:
    driver.call("POST", f"/session/{driver.session}/url", {"url": report.as_uri()})
    assert driver.run("return document.title") == "Coffee <report>"
    assert driver.run("return document.querySelector('h1').innerText") == "Coffee <report>"
    # each path picture is laid out with a real size, its boxes and arrows drawn
    boxes = driver.run(
        "return [...document.querySelectorAll('svg.path-svg')].map(s => {const r = s.getBoundingClientRect();"
        " return [r.width, r.height, s.querySelectorAll('rect').length, s.querySelectorAll('line').length]})"
    )
    assert len(boxes) == 3
    for width, height, rects, lines in boxes:
        assert width > 300 and height > 50 and rects == 4 and lines == 3
    broken = driver.run(
        "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    assert broken == []
    assert driver.run("return performance.getEntriesByType('resource').map(e => e.name)") == []
    text = driver.run("return document.body.innerText")
    assert "is also made by Crema & Co" in text and "Why: sample recommendations" in text
    png = base64.b64decode(driver.call("GET", f"/session/{driver.session}/screenshot"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_a_missing_browser_fails_with_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium chromium-driver"):
        _binary("chromium")
