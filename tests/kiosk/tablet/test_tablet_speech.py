"""Spoken guidance in the browser, observed in real headless Chromium: ``speechSynthesis.speak`` is
wrapped in the page to record each utterance (then called for real), and core/speech.js's Speaker
must say each new instruction once, in the page's language, not again while it stays, again after
forget(), never while muted (kiosk/speech.py's rule, tested on the kiosk's engine in
tests/kiosk/test_kiosk_speech.py)."""

from __future__ import annotations

import pytest

from facescreen.kiosk.tools.browser import browser_skip_reason

pytestmark = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))

RUN = """
const [lang, steps] = arguments;
const { Speaker } = await import(new URL('core/speech.js', location.href).href);
const said = [];
const real = speechSynthesis.speak.bind(speechSynthesis);
speechSynthesis.speak = (u) => { said.push({ text: u.text, lang: u.lang }); real(u); };
document.documentElement.lang = lang;
const speaker = new Speaker();
for (const [op, key, text] of steps) {
  if (op === 'say') speaker.say(key, text);
  else if (op === 'forget') speaker.forget();
  else if (op === 'mute') speaker.setMuted(true);
  else if (op === 'unmute') speaker.setMuted(false);
}
return said;
"""


@pytest.fixture(scope="module")
def run():
    from facescreen.kiosk.tablet.export import WEB_DIR
    from facescreen.kiosk.tablet.parity import browser_call, static_server
    from facescreen.kiosk.tools.browser import Chrome

    with static_server(WEB_DIR) as url, Chrome() as chrome:
        chrome.get(url + "harness.html")
        yield lambda lang, steps: browser_call(chrome, RUN, lang, steps)


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
    assert 'id="mute"' in html and 'aria-pressed="false"' in html
    assert "state.speaker.say(key, t(key))" in app and "$('mute').onclick" in app
