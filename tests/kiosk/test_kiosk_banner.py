"""The capture pages' banner (NOT FOR CLINICAL USE and the demo notice) has one home,
kiosk/banner.html, and is in the HTML of both pages as they leave Python: the phone page as the
kiosk serves it, the tablet app's page as the export stages it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from facescreen.kiosk.banner import BANNER_HTML, MARKER, with_banner
from facescreen.kiosk.server.routers.pages import PAGE
from facescreen.kiosk.tablet.export import APP_PAGE, DEFAULT_RUNTIME, WEB_DIR, stage_web
from facescreen.kiosk.tablet.runtimes import browser_runtime

BANNER = BANNER_HTML.read_text(encoding="utf-8").strip()
SOURCES = (PAGE, WEB_DIR / APP_PAGE)


@pytest.mark.parametrize("page", SOURCES, ids=lambda p: p.name)
def test_each_page_names_the_banner_once_and_writes_none_of_it(page):
    text = page.read_text(encoding="utf-8")
    assert text.count(MARKER) == 1
    assert "NOT FOR CLINICAL USE" in BANNER and "NOT FOR CLINICAL USE" not in text


@pytest.mark.parametrize(("page", "times"), [("<body></body>", 0), (f"{MARKER}\n{MARKER}", 2)], ids=["none", "twice"])
def test_a_page_that_does_not_name_the_banner_once_is_refused(page, times):
    with pytest.raises(ValueError, match=f"names it {times} times"):
        with_banner(page)


def test_the_served_phone_page_carries_the_banner(kiosk_bundle, engine, tmp_path):
    from facescreen.kiosk.server import Settings, create_app

    client = TestClient(create_app(Settings(bundle=kiosk_bundle, data_dir=tmp_path), engine=engine))
    page = client.get("/").text
    assert BANNER in page and MARKER not in page
    assert page.index('<header id="banner">') < page.index(BANNER) < page.index("</header>")


def test_the_staged_tablet_page_carries_the_banner(tmp_path):
    """Staged without a runtime's files: the page is the app's own, whichever runtime it ships with."""
    stage_web(tmp_path, replace(browser_runtime(DEFAULT_RUNTIME), files=(), rewrite=()), modules=tmp_path / "none")
    page = (tmp_path / APP_PAGE).read_text(encoding="utf-8")
    assert BANNER in page and MARKER not in page
    assert page.index('<header id="banner">') < page.index(BANNER) < page.index("</header>")
    assert (tmp_path / "app.js").read_bytes() == (WEB_DIR / "app.js").read_bytes()  # the rest as it is
