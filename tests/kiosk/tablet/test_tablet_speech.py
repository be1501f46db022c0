"""Spoken guidance in the browser, observed in real headless Chromium: ``speechSynthesis.speak`` is
wrapped in the page to record each utterance (then called for real), and speech.js's Speaker (the
capture pages' shared script, kiosk/server/static, copied into the tablet app by its export) must
say each new instruction once, in the page's language, not again while it stays, again after
forget(), never while muted (kiosk/speech.py's rule, tested on the kiosk's engine in
tests/kiosk/test_kiosk_speech.py). The phone page speaking its guidance: test_kiosk_capture_page.py."""

from __future__ import annotations

import functools

import pytest
from page_modules import page_module

from facescreen.kiosk.tools.browser import browser_skip_reason

pytestmark = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))


@pytest.fixture(scope="module")
def run(harness_page):
    from facescreen.kiosk.tablet.export import SHARED_SCRIPTS

    (speech,) = (p for p in SHARED_SCRIPTS if p.name == "speech.js")
    harness_page.script(speech.read_text(encoding="utf-8"))  # as the pages load it: a classic script
    return functools.partial(page_module(harness_page, "speech"), "run")


def test_each_new_instruction_is_spoken_once_in_the_page_language(run):
    said = run(
        "fr",
        [
            ["say", "move_closer", "Approchez-vous un peu"],
            ["say", "move_closer", "Approchez-vous un peu"],
            ["say", "move_closer", "Approchez-vous un peu"],
            ["say", "hold", "Ne bougez plus"],
            ["forget", None, None],
            ["say", "hold", "Ne bougez plus"],
        ],
    )
    assert said == [
        {"text": "Approchez-vous un peu", "lang": "fr"},
        {"text": "Ne bougez plus", "lang": "fr"},
        {"text": "Ne bougez plus", "lang": "fr"},
    ]


def test_muted_says_nothing(run):
    said = run(
        "en",
        [["mute", None, None], ["say", "move_closer", "Move closer"], ["unmute", None, None], ["say", "hold", "Hold"]],
    )
    assert said == [{"text": "Hold", "lang": "en"}]


def test_the_app_has_a_visible_mute_control():
    from facescreen.kiosk.tablet.export import WEB_DIR

    html = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    app = (WEB_DIR / "app.js").read_text(encoding="utf-8")
    assert 'id="mute"' in html and 'aria-pressed="false"' in html and '<script src="speech.js">' in html
    assert "state.speaker.say(key, t(key))" in app and "state.speaker.bindMute($('mute'))" in app


def test_the_export_ships_the_shared_scripts(tablet_app):
    """The tablet app loads speech.js and childref.js from its own folder: the export copies each."""
    from facescreen.kiosk.tablet.export import SHARED_SCRIPTS, WEB_DIR

    html = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    assert {p.name for p in SHARED_SCRIPTS} == {"speech.js", "childref.js"}
    for p in SHARED_SCRIPTS:
        assert f'<script src="{p.name}">' in html and (tablet_app / p.name).read_bytes() == p.read_bytes()
