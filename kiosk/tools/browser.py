"""A real headless Chromium driven through chromedriver's W3C WebDriver HTTP API (with httpx; no
Selenium needed), with a fake camera fed from a Y4M video: how the capture page is exercised.

Debian: ``apt-get install -y chromium chromium-driver``.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

from .ports import free_port

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
DRIVERS = ("chromedriver",)


def find_browser() -> tuple[str, str] | None:
    """``(browser, chromedriver)`` paths, or None when either is missing."""
    browser = os.environ.get("CHROMIUM") or next((p for p in map(shutil.which, BROWSERS) if p), None)
    driver = os.environ.get("CHROMEDRIVER") or next((p for p in map(shutil.which, DRIVERS) if p), None)
    return (browser, driver) if browser and driver else None


REQUIRE_ENV = "FACESCREEN_REQUIRE_BROWSER"
SCRIPT_TIMEOUT_S = 300  # scripts may await slow work (a model loading on a busy 2-core machine)


def browser_skip_reason() -> str | None:
    """Why a browser test may skip here, or None when it must run: Chromium is installed, or CI
    demands the browser tests ($FACESCREEN_REQUIRE_BROWSER=1, set by .ci/run), in which case a
    missing browser fails them with the install hint instead of skipping them."""
    if find_browser() is not None or os.environ.get(REQUIRE_ENV):
        return None
    return "chromium and chromedriver are not installed (make browser, or apt-get install -y chromium chromium-driver)"


def write_y4m(path: str | Path, frames: Sequence[np.ndarray], fps: int = 2) -> Path:
    """Write RGB frames as a YUV4MPEG2 (4:2:0) file, which Chromium's fake camera plays in a loop."""
    path = Path(path)
    h, w = frames[0].shape[:2]
    if w % 2 or h % 2:
        raise ValueError(f"Y4M 4:2:0 needs even frame sizes, got {w}x{h}")
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


class PageError(RuntimeError):
    """A script in the page threw: ``str()`` is its own message, ``value`` WebDriver's whole answer."""

    def __init__(self, message: str, value: dict) -> None:
        super().__init__(message)
        self.value = value


def page_error_message(webdriver_message: str) -> str:
    """The page's own words from WebDriver's message: without its "javascript error: " prefix and the
    "(Session info: chrome=...)" lines it appends."""
    text = webdriver_message.removeprefix("javascript error: ")
    return text.split("\n  (Session info:")[0].strip()


class Chrome:
    """``with Chrome(fake_video=...) as c: c.get(url); c.wait_for("..."); c.screenshot(path)``"""

    def __init__(
        self,
        fake_video: str | Path | None = None,
        window: tuple[int, int] = (420, 860),
        browser: str | None = None,
        driver: str | None = None,
        gpu: bool = False,
        flags: Sequence[str] = (),
    ) -> None:
        """``gpu``: let the browser use a GPU (and offer WebGPU; ``--enable-unsafe-webgpu``, as Linux
        Chromium offers it only so); off by default, so every test sees the same CPU-only browser.
        ``flags``: more Chromium switches, e.g. ``--use-webgpu-adapter=swiftshader``."""
        found = find_browser()
        if (browser is None or driver is None) and found is None:
            raise FileNotFoundError(
                "needs chromium and chromedriver (Debian: apt-get install -y chromium chromium-driver)"
            )
        self.browser = browser or found[0]
        self.driver = driver or found[1]
        self.fake_video = fake_video
        self.window = window
        self.gpu = gpu
        self.flags = tuple(flags)
        self._proc: subprocess.Popen | None = None
        self._profile = tempfile.TemporaryDirectory(prefix="facescreen-chrome-")
        self.session: str | None = None

    def __enter__(self) -> Chrome:
        port = free_port()
        self._proc = subprocess.Popen(
            [self.driver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # a call waits as long as the page's script may run (SCRIPT_TIMEOUT_S), not 60 s: a busy machine's
        # browser timing run outlived the HTTP read while its script was still within its limit
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=SCRIPT_TIMEOUT_S + 30)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.http.get("/status").json()["value"]["ready"]:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)
        args = [
            "--headless=new",
            "--no-sandbox",
            *(("--enable-unsafe-webgpu",) if self.gpu else ("--disable-gpu",)),
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={self._profile.name}",
            f"--window-size={self.window[0]},{self.window[1]}",
            *self.flags,
        ]
        if self.fake_video is not None:
            args += [
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={self.fake_video}",
            ]
        caps = {
            "capabilities": {
                "alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": self.browser, "args": args}}
            }
        }
        self.session = self._call("POST", "/session", caps)["sessionId"]
        # scripts may await slow work (a model loading on a busy 2-core machine): 5 minutes, not 30 s
        self._call("POST", self._s("/timeouts"), {"script": SCRIPT_TIMEOUT_S * 1000})
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.session:
                self.http.delete(f"/session/{self.session}")
        except httpx.HTTPError:
            pass
        finally:
            if self._proc is not None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
            self.http.close()
            self._profile.cleanup()

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        r = self.http.request(method, path, json=body)
        value = r.json().get("value")
        if r.status_code >= 400:
            if isinstance(value, dict) and value.get("error") == "javascript error":
                raise PageError(page_error_message(str(value.get("message", ""))), value)
            raise RuntimeError(f"WebDriver {method} {path}: {value}")
        return value

    def _s(self, path: str) -> str:
        return f"/session/{self.session}{path}"

    def get(self, url: str) -> None:
        self._call("POST", self._s("/url"), {"url": url})

    def script(self, js: str, *args: Any) -> Any:
        return self._call("POST", self._s("/execute/sync"), {"script": js, "args": list(args)})

    def wait_for(self, js_condition: str, timeout: float = 60.0, poll: float = 0.2) -> Any:
        """Poll ``return (<js_condition>)`` until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.script(f"return ({js_condition});")
            if value:
                return value
            if time.monotonic() > deadline:
                state = self.script(
                    "return document.body.dataset.state + ' | ' + document.body.innerText.slice(0, 400);"
                )
                raise TimeoutError(f"timed out waiting for {js_condition!r}; page: {state}")
            time.sleep(poll)

    def cdp(self, cmd: str, params: dict | None = None) -> Any:
        """A Chrome DevTools Protocol command through chromedriver (e.g. Network.emulateNetworkConditions)."""
        return self._call("POST", self._s("/goog/cdp/execute"), {"cmd": cmd, "params": params or {}})

    def offline(self, on: bool) -> None:
        """Chromium's network emulation: with ``on`` the page's requests fail as in airplane mode."""
        self.cdp("Network.enable")
        self.cdp(
            "Network.emulateNetworkConditions",
            {"offline": on, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )

    def screenshot(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._call("GET", self._s("/screenshot"))))
        return path

    def upload(self, css: str, file: str | Path) -> None:
        el = self._call("POST", self._s("/element"), {"using": "css selector", "value": css})
        eid = next(iter(el.values()))
        self._call("POST", self._s(f"/element/{eid}/value"), {"text": str(Path(file).resolve())})
