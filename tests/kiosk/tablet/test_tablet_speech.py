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
    """The tablet app loads speech.js, childref.js and format.js from its own folder: the export copies each."""
    from facescreen.kiosk.tablet.export import SHARED_SCRIPTS, WEB_DIR

    html = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    assert {p.name for p in SHARED_SCRIPTS} == {"speech.js", "childref.js", "format.js"}
    for p in SHARED_SCRIPTS:
        assert f'<script src="{p.name}">' in html and (tablet_app / p.name).read_bytes() == p.read_bytes()


def test_both_pages_fill_in_a_message_as_the_kiosk_does(harness_page):
    """format.js (the phone page's and the tablet app's one formatter) fills in every message of every
    language with fields as Python's str.format does for the kiosk's window: the phone page had a
    formatter of its own (every number to three decimals, whatever the table said)."""
    import re
    import string

    from facescreen.kiosk.messages import MESSAGES
    from facescreen.kiosk.tablet.export import SHARED_SCRIPTS

    (fmt,) = (p for p in SHARED_SCRIPTS if p.name == "format.js")
    harness_page.script(fmt.read_text(encoding="utf-8"))  # as the pages load it: a classic script
    values = iter([0.30000000000000004, 0.5, 7, 1, "REG-0042", "m-test", "3", 0.0625, 12.5, 2])
    cases = []
    for lang, table in sorted(MESSAGES.items()):
        for key, text in sorted(table.items()):
            names = [f for _, f, _, _ in string.Formatter().parse(text) if f]
            if names:
                fields = {}
                for name in names:
                    spec = re.search(r"\{" + name + r":([^}]*)\}", text)
                    fields[name] = 0.123456 if spec else next(values, name)
                cases.append((lang, key, text, fields))
    assert len(cases) >= 6 * 5, len(cases)  # every language's tables, each with its fielded messages
    got = harness_page.script(
        "return arguments[0].map(([, , text, fields]) => window.facescreenFormat(text, fields));", cases
    )
    assert got == [text.format(**fields) for _, _, text, fields in cases]
