"""The phone capture page in real headless Chromium: live guidance over a fake camera (a clip made
from a sample photo), the result, and the photo-upload fallback. Skips only where Chromium is
absent and CI does not demand it (kiosk.tools.browser.browser_skip_reason)."""

from __future__ import annotations

import pytest
from PIL import Image

from facescreen.kiosk.tools.browser import browser_skip_reason

pytestmark = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))


def test_live_guidance_result_and_upload_fallback(kiosk_bundle, engine, tmp_path, grace_hopper, live_server):
    from facescreen.kiosk.server import Settings, create_app
    from facescreen.kiosk.tools.screenshot import capture_page_run

    photo = tmp_path / "photo.jpg"
    Image.fromarray(grace_hopper).save(photo, quality=95)
    settings = Settings(bundle=kiosk_bundle, data_dir=tmp_path / "data", kiosk_id="browser")
    app = create_app(settings, engine=engine)
    with live_server(app) as srv:
        run = capture_page_run(srv.url, tmp_path, tmp_path / "live.png", tmp_path / "result.png", upload_photo=photo)
        rows = app.state.store.list()
    assert run.guidance_text == "Move a little closer"  # the clip starts too far away
    assert run.result_label in ("Refer for genetic evaluation", "No referral flag")
    assert run.upload_label in ("Refer for genetic evaluation", "No referral flag")
    assert {r["source"] for r in rows} == {"session", "api"} and len(rows) == 2
    for png in (run.guidance_png, run.result_png):
        img = Image.open(png)
        assert img.size[0] >= 400 and len(set(img.convert("L").getdata())) > 50  # a rendered page


def test_the_page_speaks_every_catalogue_language_and_lays_arabic_out_right_to_left(
    kiosk_bundle, engine, tmp_path, live_server
):
    """The menu names each language in its own words (it labelled every non-Chinese one "English"),
    and ?lang=ar gives the catalogue's Arabic, right to left."""
    from facescreen.kiosk.messages import MESSAGES, language_names
    from facescreen.kiosk.server import Settings, create_app
    from facescreen.kiosk.tools.browser import Chrome

    app = create_app(Settings(bundle=kiosk_bundle, data_dir=tmp_path / "data", kiosk_id="browser"), engine=engine)
    with live_server(app) as srv, Chrome(window=(420, 800)) as c:
        c.get(f"{srv.url}/?lang=ar&mode=upload")
        c.wait_for("document.body.dataset.state === 'upload'")
        menu = c.script("return [...document.getElementById('lang').options].map((o) => [o.value, o.text])")
        assert dict(menu) == language_names() and len(set(dict(menu).values())) == len(MESSAGES)
        assert c.script("return [document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
        assert c.script("return getComputedStyle(document.body).direction") == "rtl"
        assert c.script("return document.getElementById('take-photo').textContent") == MESSAGES["ar"]["take_photo"]
        img = Image.open(c.screenshot(tmp_path / "capture-ar.png"))
        assert img.size[0] >= 400 and len(set(img.convert("L").getdata())) > 50  # a rendered page
        c.get(f"{srv.url}/?lang=es-MX&mode=upload")  # a regional tag finds its language
        c.wait_for("document.body.dataset.state === 'upload'")
        assert c.script("return [document.documentElement.lang, document.documentElement.dir]") == ["es", "ltr"]


def test_a_child_ref_typed_on_the_phone_page_is_stored_with_the_result(
    kiosk_bundle, engine, tmp_path, grace_hopper, live_server
):
    """Issue 25: the child's register number typed on the phone page goes with the photo and is on
    the result shown and the stored row; a name is refused on the page before anything is sent; once
    the result is saved, the field and the consent box are empty for the next child."""
    from facescreen.kiosk.messages import MESSAGES
    from facescreen.kiosk.server import Settings, create_app
    from facescreen.kiosk.tools.browser import Chrome

    photo = tmp_path / "photo.jpg"
    Image.fromarray(grace_hopper).save(photo, quality=95)
    app = create_app(Settings(bundle=kiosk_bundle, data_dir=tmp_path / "data", kiosk_id="phone"), engine=engine)
    type_ref = """const i = document.getElementById('child-ref'); i.value = arguments[0];
                  i.dispatchEvent(new Event('input'));
                  return document.getElementById('child-ref-msg').innerText;"""
    with live_server(app) as srv, Chrome() as c:  # no camera: the page offers a photo
        c.get(srv.url + "/")
        c.wait_for("document.body.dataset.state === 'upload' && !document.getElementById('child').hidden", 60)
        assert c.script("return document.getElementById('upload-why').innerText") == MESSAGES["en"]["no_camera"]
        assert c.script(type_ref, "Grace Hopper") == MESSAGES["en"]["child_ref_invalid"]
        c.upload("#file", photo)
        assert app.state.store.count() == 0  # refused on the page
        assert c.script(type_ref, "PH-7/2024") == ""
        c.script("document.getElementById('consent-upload').checked = true;")
        c.upload("#file", photo)
        c.wait_for("document.body.dataset.state === 'result'", 120)
        assert c.script("return document.getElementById('result-child').innerText") == "Child: PH-7/2024"
        # saved: the reference and the consent were this child's; the next photo sent would have been
        # filed under them, kept on this family's consent
        fields = (
            "return [document.getElementById('child-ref').value, document.getElementById('consent-upload').checked]"
        )
        assert c.script(fields) == ["", False]
        rows = app.state.store.list(child_ref="PH-7/2024")
    assert len(rows) == 1 and rows[0]["source"] == "api" and rows[0]["consent"]


def test_a_photo_sent_to_a_full_kiosk_shows_its_result_saying_it_was_not_kept(
    kiosk_bundle, engine, tmp_path, grace_hopper, live_server, monkeypatch
):
    """The phone page's photo to a kiosk whose disk is full answered 507 and the page showed an error,
    no result, though the child was screened. Now the result is shown with the kiosk window's sentence
    that it was not kept; the child's reference and consent stay in place for when there is space."""
    import sqlite3

    from facescreen.kiosk.messages import MESSAGES
    from facescreen.kiosk.server import Settings, create_app
    from facescreen.kiosk.tools.browser import Chrome

    en = MESSAGES["en"]
    photo = tmp_path / "photo.jpg"
    Image.fromarray(grace_hopper).save(photo, quality=95)
    app = create_app(Settings(bundle=kiosk_bundle, data_dir=tmp_path / "data", kiosk_id="phone"), engine=engine)
    store = app.state.store

    def full(*a, **kw):
        raise store._full(sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(store, "add", full)
    shown = """const $ = (id) => document.getElementById(id);
               return [$('result-label').innerText, $('result-saved').innerText,
                       $('result-saved').offsetParent !== null,
                       $('child-ref').value, $('consent-upload').checked, $('error').hidden];"""
    with live_server(app) as srv, Chrome() as c:  # no camera: the page offers a photo
        c.get(srv.url + "/")
        c.wait_for("document.body.dataset.state === 'upload' && !document.getElementById('child').hidden", 60)
        c.script(
            "const i = document.getElementById('child-ref'); i.value = 'PH-8'; i.dispatchEvent(new Event('input'));"
        )
        c.script("document.getElementById('consent-upload').checked = true;")
        c.upload("#file", photo)
        c.wait_for("document.body.dataset.state === 'result'", 120)
        label, saved, visible, ref, consent, no_error = c.script(shown)
        assert store.count() == 0
    assert label in (en["refer for genetic evaluation"], en["no referral flag"])
    assert (saved, visible) == (en["kiosk_store_failed"], True) and no_error
    assert (ref, consent) == ("PH-8", True)  # not saved: still this child's, for when there is space


def test_the_phone_page_speaks_each_new_instruction_once_and_its_button_mutes_it(
    kiosk_bundle, engine, tmp_path, live_server
):
    """Issue 20, section 5: the phone page says its guidance with the browser's speech synthesis, in
    the page's language, each new instruction once; the button over the camera view mutes it, and the
    choice is kept on the device. ``speechSynthesis.speak`` is wrapped before the page's own scripts
    run, to record each utterance (then called for real)."""
    from facescreen.kiosk.messages import MESSAGES
    from facescreen.kiosk.server import Settings, create_app
    from facescreen.kiosk.tools.browser import Chrome
    from facescreen.kiosk.tools.screenshot import fake_camera_clip

    record = (
        "window.__said = []; const real = speechSynthesis.speak.bind(speechSynthesis);"
        "speechSynthesis.speak = (u) => { window.__said.push([u.text, u.lang]); real(u); };"
    )
    app = create_app(Settings(bundle=kiosk_bundle, data_dir=tmp_path / "data", kiosk_id="speech"), engine=engine)
    clip = fake_camera_clip(tmp_path / "camera.y4m")  # too far first, then good frames: a result
    with live_server(app) as srv, Chrome(fake_video=clip) as c:
        c.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": record})
        c.get(f"{srv.url}/?lang=fr")
        c.wait_for("document.body.dataset.state === 'result'", timeout=90)
        said = c.script("return window.__said")
        assert said and said[0] == [MESSAGES["fr"]["move_closer"], "fr"]  # the clip starts too far away
        assert all(lang == "fr" for _, lang in said)
        assert set(text for text, _ in said) <= set(MESSAGES["fr"].values())
        assert all(a != b for a, b in zip(said, said[1:]))  # not repeated while it stays on screen
        assert c.script("return document.getElementById('mute').getAttribute('aria-pressed')") == "false"
        # its name for a screen reader (and its tooltip) is the catalogue's, in the page's language
        name = c.script("const b = document.getElementById('mute'); return [b.getAttribute('aria-label'), b.title]")
        assert (
            name == [MESSAGES["fr"]["mute_speech"]] * 2
            and MESSAGES["fr"]["mute_speech"] != MESSAGES["en"]["mute_speech"]
        )

        c.script("document.getElementById('mute').click()")
        assert c.script("return document.getElementById('mute').getAttribute('aria-pressed')") == "true"
        c.get(f"{srv.url}/?lang=fr")  # a new visit on this phone: still muted
        c.wait_for("document.body.dataset.state === 'result'", timeout=90)
        assert c.script("return [window.__said, document.getElementById('mute').getAttribute('aria-pressed')]") == [
            [],
            "true",
        ]
