"""Cross-origin isolation (issue 23 §1): the kiosk serves the tablet app and the phone page with
COOP/COEP, and a statically hosted app gets them from its service worker, so onnxruntime-web can
run multi-threaded WebAssembly. Checked where it counts: ``crossOriginIsolated`` in real headless
Chromium (kiosk.tools.browser), besides the headers themselves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from facescreen.kiosk.isolation import ISOLATION_HEADERS
from facescreen.kiosk.tools.browser import browser_skip_reason

WEB = Path(__file__).resolve().parents[3] / "kiosk" / "tablet" / "web"
needs_browser = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))
PAGE = "<!doctype html><title>t</title><p>isolation probe</p>"


def _tablet(bundle: Path) -> Path:
    """``bundle`` (made by the ``bundle_with_app`` fixture) with the probe page and worker in its app."""
    app = bundle / "tablet"
    (app / "index.html").write_text(PAGE)
    (app / "w.js").write_text("postMessage(self.crossOriginIsolated);")
    return bundle


def test_the_kiosk_sends_isolation_on_the_tablet_app_and_the_phone_page(
    tmp_path, engine, kiosk_bundle, bundle_with_app
):
    from fastapi.testclient import TestClient

    from facescreen.kiosk.server import Settings, create_app

    bundle = _tablet(bundle_with_app(kiosk_bundle))
    c = TestClient(create_app(Settings(bundle=bundle, data_dir=tmp_path / "data"), engine=engine))
    for path in ("/", "/tablet/", "/tablet/w.js", "/tablet/app.json"):
        r = c.get(path)
        assert r.status_code == 200, path
        for k, v in ISOLATION_HEADERS.items():
            assert r.headers[k] == v, (path, k)
    # the values the service worker adds for a static copy are the same ones
    sw = (WEB / "sw.js").read_text()
    assert all(f"'{k}': '{v}'" in sw for k, v in ISOLATION_HEADERS.items())


@needs_browser
def test_chromium_is_cross_origin_isolated_on_the_kiosks_pages(
    tmp_path, engine, live_server, kiosk_bundle, bundle_with_app
):
    from facescreen.kiosk.server import Settings, create_app
    from facescreen.kiosk.tools.browser import Chrome

    bundle = _tablet(bundle_with_app(kiosk_bundle))
    app = create_app(Settings(bundle=bundle, data_dir=tmp_path / "data"), engine=engine)
    with live_server(app) as srv, Chrome() as chrome:
        for page in ("/tablet/", "/"):
            chrome.get(srv.url.rstrip("/") + page)
            assert chrome.script("return [self.crossOriginIsolated, typeof SharedArrayBuffer];") == [
                True,
                "function",
            ], page


@needs_browser
def test_a_static_copy_is_isolated_by_its_service_worker(tmp_path):
    """A plain static server sends no isolation headers: the first visit is not isolated; once the
    app's own sw.js controls the page, the next visit is."""
    import functools
    import http.server
    import threading

    from facescreen.kiosk.tools.browser import Chrome

    app = tmp_path / "tablet"
    app.mkdir()
    (app / "app.json").write_text(json.dumps({"kind": "facescreen-tablet-app", "files": {}}))
    shutil.copy(WEB / "sw.js", app / "sw.js")
    (app / "index.html").write_text(
        PAGE + "<script>navigator.serviceWorker.register('sw.js?v=test');"
        "window.ready = navigator.serviceWorker.ready.then(() => true);</script>"
    )

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(app)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/"
    try:
        with Chrome() as chrome:
            chrome.get(url)
            assert chrome.script("return self.crossOriginIsolated;") is False  # no headers from the server
            chrome.wait_for("window.ready && navigator.serviceWorker.controller !== undefined", timeout=60)
            chrome.script("return window.ready;")
            chrome.get(url)
            chrome.wait_for("navigator.serviceWorker.controller !== null", timeout=60)
            assert chrome.script("return self.crossOriginIsolated;") is True
    finally:
        srv.shutdown()
        srv.server_close()
