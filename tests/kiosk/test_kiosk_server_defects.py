"""Issue 19's defects, each from the request shapes the re-probe used (loopback only, bounded in count
and time): the same sync id twice at once, a stored row that broke the listing, created_at at the
calendar's edge, slow bodies and headers, a full disk, and the lesser items."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import errno
import http.client
import io
import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from facescreen.kiosk.server import Settings, create_app

TOKEN = "s3cret-token-for-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def settings(kiosk_bundle, data_dir, **over) -> Settings:
    return Settings(
        **{"bundle": kiosk_bundle, "data_dir": data_dir, "host": "0.0.0.0", "token": TOKEN, "queue_depth": 8, **over}
    )


@pytest.fixture
def app(kiosk_bundle, engine, tmp_path):
    return create_app(settings(kiosk_bundle, tmp_path / "data"), engine=engine)


@pytest.fixture
def client(app):
    with TestClient(app, headers=AUTH) as c:
        yield c


def jpeg(rgb) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def solid(colour) -> np.ndarray:
    return np.full((48, 48, 3), colour, np.uint8)


def sync(c, *results):
    return c.post("/v1/sync/results", json={"results": list(results)})


def photo_files(app) -> list[str]:
    d = app.state.store.photo_dir
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


# --- 2. the same sync id twice at once ---------------------------------------------------------------
def test_thirty_concurrent_same_id_pairs_each_keep_their_own_photo(kiosk_bundle, engine, tmp_path, record, live_server):
    """A tablet retrying while its first attempt still runs: two syncs of one id with different
    consented photos, 30 pairs at once. Before: 16 of 30 rows carried the other request's photo and
    21 of 60 requests answered 500 (a shared `<id>.jpg.tmp`)."""
    app = create_app(settings(kiosk_bundle, tmp_path / "d", queue_depth=64), engine=engine)
    red, blue = (230, 20, 20), (20, 20, 230)
    pairs = [(record(photo=solid(red)), None) for _ in range(30)]
    pairs = [(a, {**record(photo=solid(blue)), "id": a["id"]}) for a, _ in pairs]
    with live_server(app) as srv, httpx.Client(base_url=srv.url, headers=AUTH, timeout=120) as c:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda r: (r, sync(c, r)), [r for pair in pairs for r in pair]))
        assert [a.status_code for _, a in answers] == [200] * 60, [
            a.text[:200] for _, a in answers if a.status_code != 200
        ]
        winners = {r["id"]: r for r, a in answers if a.json()["new"] == [r["id"]]}
        assert len(winners) == 30  # exactly one of each pair is new, the other a duplicate
        store = app.state.store
        for sid, r in winners.items():
            row = store.get(sid)
            kept = np.asarray(Image.open(store.data_dir / row["photo_file"])).reshape(-1, 3).mean(axis=0)
            sent = np.asarray(Image.open(io.BytesIO(base64.b64decode(r["photo_jpeg_b64"])))).reshape(-1, 3).mean(axis=0)
            assert np.abs(kept - sent).max() < 10, (sid, kept, sent)  # its own photo, not the other request's
        assert len(photo_files(app)) == 30  # the losers' files are gone, no temp file stays


# --- 4. one stored row must never break the operator's list -------------------------------------------
def nested(depth: int) -> dict:
    q: dict = {}
    for _ in range(depth - 1):
        q = {"q": q}
    return q


@pytest.mark.parametrize(
    "quality, what",
    [
        (nested(400), "nested"),
        ({"blob": "x" * (2 * 2**20)}, "bytes"),
        ({f"m{i}": [0.5] * 64 for i in range(200)}, "bytes"),
    ],
)
def test_a_quality_record_is_bounded_so_the_listing_survives(client, app, record, quality, what):
    r = sync(client, record(quality=quality))
    assert r.status_code == 422 and what in r.text, r.text[:300]
    assert sync(client, record(quality={"sharpness": {"raw": 0.4, "passed": True, "score": 80}})).status_code == 200
    for path in ("/v1/results", "/v1/results?limit=500", "/v1/results?offset=1&limit=1"):
        assert client.get(path).status_code == 200, path
    assert app.state.store.count() == 1


# --- 5. created_at at the calendar's edge --------------------------------------------------------------
@pytest.mark.parametrize(
    "created_at",
    ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "9999-12-31T00:00:00Z", "1970-01-01T00:00:00Z"],
)
def test_created_at_outside_the_calendar_or_far_ahead_is_a_422(client, app, record, created_at):
    """The edges gave 500 (OverflowError) and reset the connection; 9999-12-31 was stored, sorted first
    for ever and escaped `purge --older-than-days`."""
    r = sync(client, record(created_at=created_at))
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request", r.text[:300]
    assert app.state.store.count() == 0
    ahead = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)  # a tablet clock an hour fast is fine
    ahead = ahead.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sync(client, record(created_at=ahead)).status_code == 200


# --- 6. slow bodies and headers ---------------------------------------------------------------------------
def trickler(port: int, path: str = "/v1/quality", headers_done: bool = True) -> socket.socket:
    """A connection that has sent its request line (and, with ``headers_done``, its headers and 10
    bytes of a 100 kB multipart body) and then goes quiet: a phone on a dying link, or an attacker."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if headers_done:
        s.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\nConte"
            ).encode()
        )
    else:
        s.sendall(f"POST {path} HTTP/1.1\r\nHo".encode())
    return s


def test_slow_bodies_hold_no_inference_slot(kiosk_bundle, engine, tmp_path, live_server, grace_hopper):
    """9 connections trickling their bodies into a queue of 9 (1 engine + 8): before, each was admitted
    before its body arrived and every real phone got 503. Now admission waits for the body."""
    app = create_app(settings(kiosk_bundle, tmp_path / "d", queue_depth=8), engine=engine)
    photo = jpeg(grace_hopper)
    with live_server(app) as srv:
        slow = [trickler(srv.port) for _ in range(9)]
        try:
            with httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as c:
                statuses = [
                    c.post("/v1/quality", files={"file": ("p.jpg", photo, "image/jpeg")}).status_code for _ in range(5)
                ]
                admitted = c.get("/v1/health").json()["inference"]["admitted"]
        finally:
            for s in slow:
                s.close()
    assert statuses == [200] * 5 and admitted == 0


def test_a_body_that_does_not_arrive_in_time_is_408(kiosk_bundle, engine, tmp_path, live_server):
    app = create_app(settings(kiosk_bundle, tmp_path / "d", body_timeout_s=1.0), engine=engine)
    with live_server(app) as srv:
        s = trickler(srv.port)
        try:
            answer = b""
            while part := s.recv(4096):  # to the server's close (Connection: close), within the 10 s timeout
                answer += part
            answer = answer.decode("latin-1")
        finally:
            s.close()
    assert answer.startswith("HTTP/1.1 408") and "request_timeout" in answer, answer[:300]


def test_headers_that_do_not_arrive_in_time_close_the_connection(kiosk_bundle, engine, tmp_path, live_server):
    """40 connections sending headers at one byte per 5 s were all open after 60 s (uvicorn waits for
    headers for ever); now each is closed once its headers are header_timeout_s late."""
    app = create_app(settings(kiosk_bundle, tmp_path / "d", header_timeout_s=1.0), engine=engine)
    with live_server(app) as srv:
        conns = [trickler(srv.port, headers_done=False) for _ in range(40)]
        try:
            closed = [s.recv(1) == b"" for s in conns]  # recv returns b"" once the server closed it
        finally:
            for s in conns:
                s.close()
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            assert c.get("/v1/health").status_code == 200  # a prompt client is served
    assert all(closed)


# --- 7. a full disk ----------------------------------------------------------------------------------------
def test_a_full_disk_answers_507_leaves_no_temp_file_and_health_says_so(client, app, record, monkeypatch):
    """ENOSPC while writing a photo (injected: half the bytes written, then the error) and SQLite's own
    "database or disk is full" (PRAGMA max_page_count reached): 507 with a clear code and Retry-After,
    no partial file, /v1/health reports the store; no committed row is lost, and writes resume."""
    from facescreen.kiosk import store as store_mod

    store = app.state.store
    assert sync(client, record()).status_code == 200
    real = store_mod.write_durably

    def full_disk(path, data):
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod, "write_durably", full_disk)
    r = sync(client, record(photo=solid((200, 0, 0))))
    assert r.status_code == 507 and r.json()["error"]["code"] == "store_full" and int(r.headers["retry-after"]) > 0
    assert "full" in r.json()["error"]["message"] and str(store.data_dir) in r.json()["error"]["message"]
    assert photo_files(app) == []  # no partial <id>.jpg.tmp stays
    health = client.get("/v1/health").json()["store"]
    assert health["writable"] is False and "full" in health["error"]
    monkeypatch.setattr(store_mod, "write_durably", real)

    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count={pages}")  # SQLite itself reports the database full
    r = sync(client, record(quality={"pad": "x" * 20000}))
    assert r.status_code == 507 and r.json()["error"]["code"] == "store_full", r.text[:300]
    store._conn.execute("PRAGMA max_page_count=1073741823")
    assert store.count() == 1  # the committed row is still there
    assert sync(client, record(photo=solid((0, 200, 0)))).status_code == 200  # space again: writes resume
    assert client.get("/v1/health").json()["store"]["writable"] is True and len(photo_files(app)) == 1


# --- 8. lesser ----------------------------------------------------------------------------------------------
def test_wrong_tokens_are_slowed_down_per_device(app):
    """Wrong tokens were guessed at ~1,100/s; now a device gets 10 tries a minute, then 429."""
    with (
        TestClient(app, client=("10.0.0.5", 1), headers={"Authorization": "Bearer wrong-guess-000000000"}) as guesser,
        TestClient(app, client=("10.0.0.6", 1), headers=AUTH) as other,
    ):
        statuses = [guesser.get("/v1/results").status_code for _ in range(12)]
        assert statuses == [401] * 10 + [429] * 2
        blocked = guesser.get("/v1/results", headers=AUTH)  # even the right token waits out the window
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        assert other.get("/v1/results").status_code == 200  # another device is not affected


@pytest.mark.parametrize(
    "field, value",
    [
        ("model_id", "someone-elses-model"),
        ("model_version", "0.0-never-served"),
        ("threshold", 0.0),
        ("threshold", 1.0),
    ],
)
def test_sync_checks_the_result_against_this_kiosks_model(client, app, record, field, value):
    r = record(**{field: value})
    r["flag"] = r["probability"] >= r["threshold"]
    r["label"] = "refer for genetic evaluation" if r["flag"] else "no referral flag"
    answer = sync(client, r)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "model_mismatch", answer.text[:300]
    assert app.state.store.count() == 0


def test_sync_checks_the_not_for_clinical_use_marking(client, app, record, engine):
    r = record(not_for_clinical_use=not engine.model_info()["not_for_clinical_use"])
    assert sync(client, r).json()["error"]["code"] == "model_mismatch"


class UpdatedEngine:
    """The kiosk's engine after a model update: the same screener under a card of a new version and
    threshold (what a re-trained bundle changes at sync)."""

    def __init__(self, engine, **card) -> None:
        self._engine, self._card = engine, card

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def model_info(self) -> dict:
        return {**self._engine.model_info(), **self._card}


def test_sync_takes_a_tablets_results_made_before_the_kiosks_model_update(kiosk_bundle, engine, tmp_path, record):
    """A health worker screens offline for a week; meanwhile the clinic updates the kiosk's model. Before,
    every result the tablet made with the previous model was refused at sync (model_mismatch) for good,
    though the families had their answers; now the kiosk takes results of any model it has served, kept
    with the version and threshold that made them, and still refuses a model it never served."""
    data = tmp_path / "data"
    create_app(settings(kiosk_bundle, data), engine=engine)  # the kiosk as it was: serves the old model
    old = engine.model_info()
    made_before = record()
    updated = create_app(settings(kiosk_bundle, data), engine=UpdatedEngine(engine, version="2.0", threshold=0.42))
    with TestClient(updated, headers=AUTH) as client:
        answer = sync(client, made_before)
        assert answer.status_code == 200 and answer.json()["new"] == [made_before["id"]], answer.text[:300]
        row = updated.state.store.get(made_before["id"])
        assert (row["model_version"], row["threshold"]) == (old["version"], old["threshold"])
        served = [(m.model_version, m.threshold, m.card_sha256) for m in updated.state.store.served_models()]
        assert served == [(old["version"], old["threshold"], old["card_sha256"]), ("2.0", 0.42, old["card_sha256"])]
        made_after = record(model_version="2.0", threshold=0.42)
        made_after["flag"] = made_after["probability"] >= 0.42
        assert sync(client, made_after).status_code == 200
        never = record(model_version="1.9")
        refused = sync(client, never)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "model_mismatch"
        assert "never served" in refused.json()["error"]["message"] and "v2.0" in refused.json()["error"]["message"]


def test_a_store_from_before_served_models_learns_them_from_its_own_screenings(tmp_path, engine, record):
    """A kiosk updated to this version had no record of the models it served: the store learns them from
    the screenings it made itself when it first opens (a tablet's row proves nothing: it was taken
    because it matched a model this kiosk served, which its own rows name already)."""
    import sqlite3

    from facescreen.kiosk.server.routers.sync import SyncedResult
    from facescreen.kiosk.store import ResultsStore

    store = ResultsStore(tmp_path / "d")
    own = SyncedResult(**record()).row()
    tablets = SyncedResult(**record(model_version="9.9")).row()
    with store.batch() as b:
        b.add(dataclasses.replace(own, source="kiosk"))
        b.add(tablets)
    store.close()
    with sqlite3.connect(tmp_path / "d" / "results.sqlite3") as c:
        c.execute("DROP TABLE served_models")
    again = ResultsStore(tmp_path / "d")
    info = engine.model_info()
    assert [m.key for m in again.served_models()] == [
        (info["model_id"], info["version"], info["threshold"], int(info["not_for_clinical_use"]))
    ]
    assert again.served_models()[0].first_served_at == own.created_at


def test_a_sync_batch_is_all_or_nothing(client, app, record):
    """The second result's photo is not an image: nothing of the batch is stored (the first was)."""
    good = record(photo=solid((10, 200, 10)))
    bad = record(photo=solid((10, 10, 200)), photo_jpeg_b64=base64.b64encode(b"not an image at all").decode())
    r = sync(client, good, bad)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_image", r.text[:300]
    assert app.state.store.count() == 0 and photo_files(app) == []
    assert sync(client, good).json()["new"] == [good["id"]]


def test_x_forwarded_for_is_not_trusted(app, live_server):
    """A local process claiming another device's address (X-Forwarded-For from loopback) could use that
    device's capture session and pass the per-device cap; uvicorn trusted it by default."""
    with live_server(app) as srv, httpx.Client(base_url=srv.url, headers=AUTH, timeout=30) as c:
        sid = c.post("/v1/sessions", json={}, headers={"X-Forwarded-For": "10.9.9.9"}).json()["session_id"]
        assert c.post(f"/v1/sessions/{sid}/retake").status_code == 200  # it is this client's own session
        c.post("/v1/sessions", json={}, headers={"X-Forwarded-For": "10.9.9.10"})
        third = c.post("/v1/sessions", json={}, headers={"X-Forwarded-For": "10.9.9.11"})
        assert third.status_code == 429  # two per device, whatever address it claims


def test_retake_does_not_keep_a_session_alive(client, app):
    sessions = app.state.sessions
    now = [1000.0]
    sessions.clock = lambda: now[0]
    sid = client.post("/v1/sessions", json={}).json()["session_id"]
    for _ in range(3):
        now[0] += sessions.idle_s * 0.6
        client.post(f"/v1/sessions/{sid}/retake")
    assert client.post(f"/v1/sessions/{sid}/retake").status_code == 404  # idle since its creation


def test_a_loose_self_signed_key_is_one_line_not_a_traceback(kiosk_bundle, tmp_path, monkeypatch, capsys):
    from facescreen.kiosk import cli
    from facescreen.kiosk.server import main as server_main

    monkeypatch.setattr(server_main, "load_engines", lambda settings: None)
    tls = tmp_path / "d" / "tls"
    tls.mkdir(parents=True)
    for name in ("kiosk-cert.pem", "kiosk-key.pem"):
        (tls / name).write_text("x")
    (tls / "kiosk-key.pem").chmod(0o644)
    argv = ["serve", "--bundle", str(kiosk_bundle), "--data-dir", str(tmp_path / "d"), "--tls-self-signed"]
    assert cli.main(argv) != 0
    err = capsys.readouterr().err
    assert "readable by other users" in err and "chmod 600" in err and "Traceback" not in err


@pytest.mark.parametrize("days", ["inf", "-1", "nan", "1e9"])
def test_purge_refuses_an_age_that_is_not_a_finite_number_of_days(tmp_path, days, capsys):
    from facescreen.kiosk import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["purge", "--data-dir", str(tmp_path / "d"), "--older-than-days", days])
    assert exit_.value.code == 2 and "number of days" in capsys.readouterr().err


def test_export_writes_the_csv_readable_by_its_owner_only(client, record, app, tmp_path):
    from facescreen.kiosk import cli

    assert sync(client, record()).status_code == 200
    out = tmp_path / "out.csv"
    old = os.umask(0o022)
    try:
        assert cli.main(["export", "--data-dir", str(app.state.store.data_dir), "--out", str(out)]) == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o600 and out.read_text().count("\n") == 2


def test_the_sync_routes_openapi_entry_lists_its_answers_and_security(client):
    op = client.get("/openapi.json").json()["paths"]["/v1/sync/results"]["post"]
    assert op["security"] == [{"bearer": []}]
    assert {"400", "401", "403", "413", "422", "507"} <= set(op["responses"])


def test_a_server_error_keeps_the_keep_alive_connection(app, live_server, engine, monkeypatch, grace_hopper):
    """After any 500 the connection used to be reset (Starlette re-raises to the server)."""

    def broken(*_a, **_k):
        raise RuntimeError("simulated engine bug")

    monkeypatch.setattr(engine, "analyse", broken)
    body, ctype = httpx_multipart(jpeg(grace_hopper))
    with live_server(app) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        try:
            conn.request("POST", "/v1/quality", body, {**AUTH, "Content-Type": ctype})
            first = conn.getresponse()
            assert first.status == 500 and json.loads(first.read())["error"]["code"] == "internal_error"
            conn.request("GET", "/v1/health")  # the same connection
            assert conn.getresponse().status == 200
        finally:
            conn.close()


def httpx_multipart(data: bytes) -> tuple[bytes, str]:
    req = httpx.Request("POST", "http://x/", files={"file": ("p.jpg", data, "image/jpeg")})
    return req.read(), req.headers["content-type"]


def test_the_store_row_schema_has_one_home():
    """Columns, DDL and inserts come from ScreeningRow (issue 22 §3): a field added there is a column."""
    import dataclasses
    import sqlite3

    from facescreen.kiosk.store import COLUMNS, REFUSAL_COLUMNS, QualityRefusalRow, ScreeningRow, _ddl, _refusal_ddl

    assert COLUMNS == tuple(f.name for f in dataclasses.fields(ScreeningRow))
    assert REFUSAL_COLUMNS == tuple(f.name for f in dataclasses.fields(QualityRefusalRow))
    con = sqlite3.connect(":memory:")
    for statement in _ddl() + _refusal_ddl():
        con.execute(statement)
    assert tuple(r[1] for r in con.execute("PRAGMA table_info(screenings)")) == COLUMNS
    assert tuple(r[1] for r in con.execute("PRAGMA table_info(quality_refusals)")) == REFUSAL_COLUMNS
