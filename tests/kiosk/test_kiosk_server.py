"""The API: every endpoint, and every kind of bad upload gets a 4xx JSON error that says what is
wrong (never a 5xx) while the server keeps serving."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import ValidationError

from facescreen.kiosk.quality import MEASURE_NAMES
from facescreen.kiosk.scenes import GOOD_SCENES
from facescreen.kiosk.server import Settings, create_app

MiB = 1024 * 1024
TOKEN = "s3cret-token-for-tests-0123"


def encode(rgb_or_img, fmt="JPEG", **kw) -> bytes:
    img = rgb_or_img if isinstance(rgb_or_img, Image.Image) else Image.fromarray(rgb_or_img)
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def settings(kiosk_bundle, tmp_path_factory):
    return Settings(
        bundle=kiosk_bundle,
        data_dir=tmp_path_factory.mktemp("kiosk-data"),
        kiosk_id="test-kiosk",
        max_upload_bytes=2 * MiB,
        max_pixels=20_000_000,
    )


@pytest.fixture(scope="module")
def client(settings, engine):
    with TestClient(create_app(settings, engine=engine)) as c:
        yield c


@pytest.fixture(scope="module")
def grace_jpeg(grace_hopper) -> bytes:
    return encode(grace_hopper, quality=95)


def post_photo(client, data: bytes, ctype="image/jpeg", name="photo.jpg", path="/v1/screen", **form):
    return client.post(path, files={"file": (name, data, ctype)}, data={k: str(v) for k, v in form.items()})


def assert_error(resp, status: int, code: str):
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    body = resp.json()
    assert body["error"]["code"] == code and body["error"]["message"], body
    return body["error"]


# --- endpoints --------------------------------------------------------------------------------
def test_health_and_model(client, engine):
    h = client.get("/v1/health").json()
    assert h["status"] == "ok" and h["model_loaded"] is True and h["kiosk_id"] == "test-kiosk"
    m = client.get("/v1/model").json()
    card = engine.screener.card
    assert m["model_id"] == card.model_id and m["threshold"] == card.threshold
    assert m["not_for_clinical_use"] is True and m["intended_use"] and "max_roll_deg" in m["quality_thresholds"]


def test_messages_in_both_languages(client):
    en = client.get("/v1/messages?lang=en").json()
    zh = client.get("/v1/messages?lang=zh-CN").json()
    assert zh["language"] == "zh-Hans" and set(en["messages"]) == set(zh["messages"])
    assert "zh-Hans" in assert_error(client.get("/v1/messages?lang=xx"), 422, "unknown_language")["message"]


def test_screen_a_good_photo(client, grace_jpeg, settings, engine):
    r = post_photo(client, grace_jpeg, operator_id="op-1")
    assert r.status_code == 200, r.text[:500]
    d = r.json()
    res = d["result"]
    # the answer is the edge Screener's on the same photo. The server screens the face its quality check
    # found (detected once, on the guidance working size), so its 5 landmarks, and the probability,
    # differ slightly from a fresh full-size detection's
    ref = engine.screener.screen(grace_jpeg)
    assert res["threshold"] == ref.threshold and res["not_for_clinical_use"] is True
    assert res["probability"] == pytest.approx(ref.probability, abs=0.01)
    if abs(ref.probability - ref.threshold) > 0.01:
        assert (res["flag"], res["label"]) == (ref.flag, ref.label)
    assert d["quality"]["passed"] is True
    assert [m["name"] for m in d["quality"]["measures"]] == list(MEASURE_NAMES)  # every measure, in its order
    assert d["text"]["note"].endswith("not a diagnosis.") and d["cam_png"]
    size = client.get("/v1/model").json()["input_size"]
    assert Image.open(io.BytesIO(base64.b64decode(d["cam_png"]))).size == (size, size)
    row = client.get(f"/v1/results/{d['id']}").json()
    assert row["operator_id"] == "op-1" and row["source"] == "api" and row["photo_file"] is None
    assert row["probability"] == pytest.approx(res["probability"], abs=1e-6)
    assert not (settings.data_dir / "photos").exists()  # no consent, no photo on disk


def test_screen_with_consent_keeps_the_photo(client, grace_jpeg, settings):
    d = post_photo(client, grace_jpeg, consent="true").json()
    row = client.get(f"/v1/results/{d['id']}").json()
    assert d["consent_recorded"] and row["consent"] and (settings.data_dir / row["photo_file"]).is_file()


def test_screen_with_a_child_ref_keeps_it_and_finds_it(client, grace_jpeg):
    d = post_photo(client, grace_jpeg, child_ref=" KE-NBO/2024.117 ").json()
    assert d["child_ref"] == "KE-NBO/2024.117"
    assert client.get(f"/v1/results/{d['id']}").json()["child_ref"] == "KE-NBO/2024.117"
    page = client.get("/v1/results", params={"child_ref": "KE-NBO/2024.117"}).json()
    assert page["total"] == 1 and [r["id"] for r in page["items"]] == [d["id"]]
    assert client.get("/v1/results", params={"child_ref": "KE-NBO/2024.118"}).json() == {"total": 0, "items": []}


@pytest.mark.parametrize("ref", ["Grace Hopper", "GraceHopper", "=1+1", "X" * 40 + "1"])
def test_screen_refuses_a_child_ref_that_is_not_a_reference(client, grace_jpeg, ref):
    before = client.get("/v1/results").json()["total"]
    assert (
        "register number"
        in assert_error(post_photo(client, grace_jpeg, child_ref=ref), 422, "bad_child_ref")["message"]
    )
    assert client.get("/v1/results").json()["total"] == before  # nothing screened, nothing stored


def test_quality_endpoint_gives_measures_and_one_instruction(client, scene_frames):
    r = post_photo(client, encode(scene_frames["tilted"]), path="/v1/quality")
    d = r.json()
    assert r.status_code == 200 and d["passed"] is False and d["instruction"] == "head_level"
    assert d["text"] == "Keep the head straight, not tilted to one side"
    roll = next(m for m in d["measures"] if m["name"] == "head_roll")
    assert roll["passed"] is False and abs(roll["raw"]) > 15 and roll["threshold"] == {"min": -8.0, "max": 8.0}
    zh = post_photo(client, encode(scene_frames["tilted"]), path="/v1/quality?lang=zh-Hans").json()
    assert zh["text"] == "请保持头部端正，不要歪向一侧"


def test_screen_refuses_a_photo_that_fails_quality_and_records_the_refusal(client, scene_frames, engine):
    store = client.app.state.store
    before = len(store.refusals())
    err = assert_error(post_photo(client, encode(scene_frames["too_dark"]), operator_id="op-2"), 422, "quality_failed")
    assert err["quality"]["instruction"] == "more_light" and "Too dark" in err["message"]
    # one row for the field report's quality-failure rate: who, which model, which measure; no photo
    refusals = store.refusals()
    assert len(refusals) == before + 1
    r, card = refusals[-1], engine.screener.card
    assert (r["kiosk_id"], r["source"], r["operator_id"], r["instruction"]) == (
        "test-kiosk",
        "api",
        "op-2",
        "more_light",
    )
    assert (r["model_id"], r["model_version"]) == (card.model_id, card.version)
    assert r["quality"]["brightness"]["passed"] is False


def test_results_listing_and_csv_export(client, grace_jpeg):
    ids = [post_photo(client, grace_jpeg).json()["id"] for _ in range(2)]
    page = client.get("/v1/results?limit=2").json()
    assert page["total"] >= 2 and [i["id"] for i in page["items"]] == ids[::-1]
    csv_resp = client.get("/v1/results.csv")
    assert csv_resp.status_code == 200 and csv_resp.headers["content-type"].startswith("text/csv")
    assert all(i in csv_resp.text for i in ids) and csv_resp.text.startswith("id,created_at,kiosk_id")
    assert_error(client.get("/v1/results/does-not-exist"), 404, "not_found")
    assert_error(client.get("/v1/results?limit=0"), 422, "invalid_request")
    for path in ("/v1/results?since=yesterday", "/v1/results.csv?since=2026-13-01"):  # were 200 and empty
        assert "is not an ISO 8601 date or time" in assert_error(client.get(path), 422, "invalid_request")["message"]
    too_early = assert_error(client.get("/v1/results?since=0001-01-01T00:00%2B05:00"), 422, "invalid_request")
    assert "outside the calendar in UTC" in too_early["message"]
    assert client.get("/v1/results?since=2000-01-01T05:30%2B05:30").json()["total"] == page["total"]


@pytest.mark.parametrize("kiosk_id", ["Клиника №1", "诊所", 'clinic "north"/2'])
def test_the_csv_is_named_after_any_kiosk_id(kiosk_bundle, engine, tmp_path, kiosk_id):
    """A header is Latin-1: a kiosk id in Cyrillic or Chinese was a 500 (UnicodeEncodeError), a '"'
    ended the quoted name early. RFC 6266: an ASCII name for old clients, the real one in filename*."""
    import urllib.parse

    app = create_app(Settings(bundle=kiosk_bundle, data_dir=tmp_path, kiosk_id=kiosk_id), engine=engine)
    with TestClient(app) as c:
        resp = c.get("/v1/results.csv")
    assert resp.status_code == 200
    kind, plain, named = resp.headers["content-disposition"].split("; ")
    assert kind == "attachment" and named.startswith("filename*=UTF-8''")
    assert urllib.parse.unquote(named.removeprefix("filename*=UTF-8''")) == f"facescreen-{kiosk_id}.csv"
    assert plain.startswith('filename="') and plain.count('"') == 2 and plain.isascii() and "/" not in plain


def full_store(client, monkeypatch) -> None:
    """The store refuses every new screening as SQLite does when the disk is full."""
    import sqlite3

    store = client.app.state.store

    def full(*a, **kw):
        raise store._full(sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(store, "add", full)


def test_a_full_kiosk_still_answers_the_screened_photo_saying_it_was_not_kept(client, grace_jpeg, monkeypatch):
    """The phone page's photo to a kiosk whose disk is full: the child was screened, but the answer was
    a bare 507 and the page showed no result. Now the 507 (nothing stored, Retry-After) carries the
    screening's answer in error.unsaved, as the kiosk window shows its result unsaved."""
    before = client.app.state.store.count()
    full_store(client, monkeypatch)
    r = post_photo(client, grace_jpeg, consent="true", child_ref="PH-9")
    assert r.status_code == 507 and int(r.headers["retry-after"]) > 0, r.text[:300]
    err = r.json()["error"]
    assert err["code"] == "store_full" and "full" in err["message"]
    unsaved = err["unsaved"]
    assert unsaved["result"]["label"] in ("refer for genetic evaluation", "no referral flag") and unsaved["cam_png"]
    assert unsaved["text"]["label"] and unsaved["child_ref"] == "PH-9" and unsaved["consent_recorded"] is False
    monkeypatch.undo()
    assert client.app.state.store.count() == before


def test_a_guided_capture_on_a_full_kiosk_shows_its_result_not_saved(client, scene_frames, monkeypatch):
    """The phone's live capture on a full kiosk: the frame that completed the capture answered 507, and
    the child's result was never shown. Now the result comes, its record saying it was not saved (as
    the kiosk window's card); no photo can be kept for it (409), and a retake goes on to the next."""
    s = client.post("/v1/sessions", json={"language": "en"}).json()
    sid, needed = s["session_id"], s["needed"]
    full_store(client, monkeypatch)
    events = [
        post_photo(client, encode(scene_frames[g.name]), path=f"/v1/sessions/{sid}/frames")
        for g in GOOD_SCENES[:needed]
    ]
    assert [e.status_code for e in events] == [200] * needed, events[-1].text[:300]
    result = events[-1].json()
    assert result["event"] == "result" and result["result_text"]["label"] and "id" not in result["record"]
    assert "full" in result["record"]["not_saved"]
    assert_error(client.post(f"/v1/sessions/{sid}/consent"), 409, "no_result")
    assert client.post(f"/v1/sessions/{sid}/retake").json()["event"] == "retake"
    assert client.delete(f"/v1/sessions/{sid}").status_code == 204


def test_capture_session_for_phones(client, scene_frames, settings):
    s = client.post("/v1/sessions", json={"operator_id": "nurse-2", "language": "en"})
    assert s.status_code == 201
    sid, needed = s.json()["session_id"], s.json()["needed"]
    ev = post_photo(client, encode(scene_frames["too_far"]), path=f"/v1/sessions/{sid}/frames").json()
    assert ev["event"] == "guidance" and ev["message_key"] == "move_closer" and ev["text"] == "Move a little closer"
    events = [
        post_photo(client, encode(scene_frames[g.name]), path=f"/v1/sessions/{sid}/frames").json()
        for g in GOOD_SCENES[:needed]
    ]
    assert [e["event"] for e in events] == ["hold"] * (needed - 1) + ["result"]
    result = events[-1]
    rid = result["record"]["id"]
    assert result["result"]["not_for_clinical_use"] and result["cam_png"] and result["result_text"]["label"]
    assert client.get(f"/v1/results/{rid}").json()["operator_id"] == "nurse-2"
    c = client.post(f"/v1/sessions/{sid}/consent").json()
    assert c["consent_recorded"] and (settings.data_dir / c["photo_file"]).is_file()
    rt = client.post(f"/v1/sessions/{sid}/retake").json()
    assert rt["event"] == "retake" and client.get(f"/v1/results/{rid}").json()["status"] == "retaken"
    assert_error(client.post(f"/v1/sessions/{sid}/consent"), 409, "no_result")
    assert client.delete(f"/v1/sessions/{sid}").status_code == 204
    assert_error(
        post_photo(client, encode(scene_frames["good_b"]), path=f"/v1/sessions/{sid}/frames"), 404, "no_session"
    )
    assert_error(client.post("/v1/sessions", json={"operator": "typo"}), 422, "invalid_request")


def test_openapi_documents_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in (
        "/v1/screen",
        "/v1/quality",
        "/v1/health",
        "/v1/model",
        "/v1/results",
        "/v1/results.csv",
        "/v1/results/{screening_id}",
        "/v1/sessions",
        "/v1/sessions/{session_id}/frames",
    ):
        assert p in paths, p
    assert "multipart/form-data" in paths["/v1/screen"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_capture_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and 'capture="user"' in page.text and 'accept="image/*"' in page.text
    assert "getUserMedia" in client.get("/static/capture.js").text


# --- bad input ----------------------------------------------------------------------------------
def _exif_rotated(rgb) -> bytes:
    """Stored lying on its side, with EXIF orientation 6 (display rotated 90 degrees clockwise)."""
    img = Image.fromarray(np.ascontiguousarray(np.rot90(rgb, k=1)))
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(img, quality=95, exif=exif)


def _cmyk(rgb) -> bytes:
    return encode(Image.fromarray(rgb).convert("CMYK"), quality=95)


def _gray16(rgb) -> bytes:
    g = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.uint16) * 257
    img = Image.fromarray(g)
    assert img.mode.startswith("I;16"), img.mode
    return encode(img, "PNG")


def _rgba(rgb) -> bytes:
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:40] = 0  # a transparent strip at the top
    return encode(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "PNG")


GOOD_VARIANTS = {
    "exif_rotated": _exif_rotated,
    "grayscale": lambda rgb: encode(Image.fromarray(rgb).convert("L"), quality=95),
    "cmyk": _cmyk,
    "png_16bit": _gray16,
    "rgba_alpha": _rgba,
}


@pytest.mark.parametrize("variant", sorted(GOOD_VARIANTS))
def test_unusual_but_valid_photos_are_screened(client, grace_hopper, grace_jpeg, variant):
    data = GOOD_VARIANTS[variant](grace_hopper)
    ctype = "image/png" if variant in ("png_16bit", "rgba_alpha") else "image/jpeg"
    r = post_photo(client, data, ctype=ctype)
    assert r.status_code == 200, (variant, r.text[:600])
    got = r.json()["result"]
    if variant == "exif_rotated":  # upright again: same face, same place, same answer
        ref = post_photo(client, grace_jpeg).json()["result"]
        assert got["detection"]["box"] == pytest.approx(ref["detection"]["box"], abs=6)
        assert got["probability"] == pytest.approx(ref["probability"], abs=0.05)


def _truncated(jpeg: bytes) -> bytes:
    return jpeg[: len(jpeg) // 2]


def _huge_pixels() -> bytes:
    return encode(Image.new("L", (6000, 4000)), "PNG")  # 24 MP in a few kB; the test limit is 20 MP


BAD_INPUTS = {  # name -> (make bytes, content type, status, code)
    "empty": (lambda g: b"", "image/jpeg", 400, "empty_upload"),
    "truncated": (_truncated, "image/jpeg", 400, "bad_image"),
    "not_an_image": (lambda g: b"%PDF-1.4 this is a document, not a photo" * 20, "image/jpeg", 400, "bad_image"),
    "wrong_content_type": (lambda g: g, "text/plain", 415, "unsupported_media_type"),
    "gif": (lambda g: encode(Image.new("P", (64, 64)), "GIF"), "image/gif", 400, "bad_image"),
    "too_many_bytes": (lambda g: np.random.default_rng(0).bytes(3 * MiB), "image/jpeg", 413, "image_too_large"),
    "too_many_pixels": (lambda g: _huge_pixels(), "image/png", 413, "image_too_large"),
    "no_face": (lambda g: encode(np.full((480, 640, 3), 200, np.uint8)), "image/jpeg", 422, "quality_failed"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
@pytest.mark.parametrize("path", ["/v1/screen", "/v1/quality"])
def test_bad_uploads_get_a_4xx_that_says_what_is_wrong(client, grace_jpeg, name, path):
    make, ctype, status, code = BAD_INPUTS[name]
    if path == "/v1/quality" and code == "quality_failed":
        r = post_photo(client, make(grace_jpeg), ctype=ctype, path=path)
        assert r.status_code == 200 and r.json()["instruction"] == "no_face"
    else:
        assert_error(post_photo(client, make(grace_jpeg), ctype=ctype, path=path), status, code)
    assert client.get("/v1/health").status_code == 200  # still serving


def test_missing_file_field_and_chunked_oversize_upload(client):
    assert_error(client.post("/v1/screen", data={"consent": "false"}), 422, "invalid_request")

    def chunks():
        for _ in range(3):
            yield b"\xff" * MiB

    r = client.post("/v1/screen", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert_error(r, 413, "image_too_large")


def test_no_face_without_the_quality_gate_is_a_422_no_face(settings, engine):
    s = settings.model_copy(update={"require_quality": False})
    with TestClient(create_app(s, engine=engine)) as c:
        assert_error(post_photo(c, encode(np.full((480, 640, 3), 200, np.uint8))), 422, "no_face")


def test_no_bad_upload_was_stored(client):
    rows = client.get("/v1/results?limit=500").json()["items"]
    assert all(r["quality"]["single_face"]["passed"] for r in rows)


# --- exposure and tokens ------------------------------------------------------------------------
def test_binding_beyond_loopback_requires_a_token(kiosk_bundle, tmp_path):
    with pytest.raises(ValidationError, match="bearer token is required"):
        Settings(bundle=kiosk_bundle, data_dir=tmp_path, host="0.0.0.0")
    with pytest.raises(ValidationError, match="token"):
        Settings(bundle=kiosk_bundle, data_dir=tmp_path, host="192.168.1.20", token="short")
    assert Settings(bundle=kiosk_bundle, data_dir=tmp_path, host="::1").token is None
    with pytest.raises(ValidationError, match="extra"):
        Settings(bundle=kiosk_bundle, data_dir=tmp_path, prot=8000)


def test_with_a_token_every_api_call_needs_it(kiosk_bundle, engine, tmp_path, grace_jpeg):
    s = Settings(bundle=kiosk_bundle, data_dir=tmp_path, host="0.0.0.0", token=TOKEN)
    with TestClient(create_app(s, engine=engine)) as c:
        assert c.get("/v1/health").status_code == 200  # liveness stays open
        err = assert_error(c.get("/v1/model"), 401, "unauthorized")
        assert "Bearer" in err["message"]
        assert_error(
            c.get("/v1/results", headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}), 401, "unauthorized"
        )
        assert_error(post_photo(c, grace_jpeg), 401, "unauthorized")
        ok = c.get("/v1/model", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
