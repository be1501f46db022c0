"""The server as an attacker on the clinic network and a busy clinic would meet it: the token before
the body, a bounded inference queue (503 + Retry-After), capture sessions capped and owned per
device, clear 4xx for impossible images and parameters, no caching, local docs, private files,
secrets off the command line. Loopback and bounded."""

from __future__ import annotations

import asyncio
import gc
import io
import os
import ssl
import subprocess
import time
import weakref

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import ValidationError

from facescreen.kiosk.server import Settings, create_app
from facescreen.kiosk.server.tls import self_signed

TOKEN = "s3cret-token-for-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PHOTO_PATHS = ("/v1/screen", "/v1/quality", "/v1/sessions/{sid}/frames")


def png(size, mode="1") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, "PNG")
    return buf.getvalue()


def jpeg(rgb) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def app(kiosk_bundle, engine, tmp_path):
    settings = Settings(
        bundle=kiosk_bundle, data_dir=tmp_path / "data", kiosk_id="hard", host="0.0.0.0", token=TOKEN, queue_depth=1
    )
    return create_app(settings, engine=engine)


@pytest.fixture
def client(app):
    with TestClient(app, headers=AUTH) as c:
        yield c


def post(client, path, data, ctype="image/png"):
    return client.post(path, files={"file": ("p", data, ctype)})


def session_path(client, path) -> str:
    if "{sid}" not in path:
        return path
    return path.format(sid=client.post("/v1/sessions", json={}).json()["session_id"])


# --- 1. memory: a refused photo's pixels die with its answer -----------------------------------------
@pytest.fixture
def decoded(monkeypatch):
    """Weak references to every photo the server decodes."""
    from facescreen.edge.photo import OpenedPhoto

    refs, decode = [], OpenedPhoto.decode

    def recording(self, *args):
        rgb = decode(self, *args)
        refs.append(weakref.ref(rgb))
        return rgb

    monkeypatch.setattr(OpenedPhoto, "decode", recording)
    return refs


def all_freed(refs, within_s: float = 5.0) -> bool:
    """Whether every referenced photo is freed. The answer can reach the client a moment before the
    server's worker thread drops its last reference to the result it computed, so this waits (bounded);
    a photo kept by a reference cycle is never freed while the cyclic collector is off."""
    deadline = time.monotonic() + within_s
    while any(ref() is not None for ref in refs):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return bool(refs)


@pytest.fixture
def no_cyclic_gc():
    """Only reference counting frees memory while the test runs, as in a server between its rare full
    collections: whatever a reference cycle holds stays held."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture(scope="module")
def edge_client(kiosk_edge_bundle, tmp_path_factory):
    """The server as a kiosk runs it: its own engine loaded from the slim edge bundle (converted
    MTCNN, ONNX screener), in both test environments (the TensorFlow `mtcnn` package is not a kiosk's
    detector; its own no-face cycle is tested in tests/edge/test_detectors.py)."""
    settings = Settings(bundle=kiosk_edge_bundle, data_dir=tmp_path_factory.mktemp("edge") / "data", token=TOKEN)
    with TestClient(create_app(settings), headers=AUTH) as c:
        yield c


@pytest.mark.parametrize("path, status", zip(PHOTO_PATHS, (422, 200, 200)))
def test_a_photo_is_freed_with_its_answer(edge_client, decoded, no_cyclic_gc, path, status):
    """A blank frame: refused 422 by /v1/screen (no face), measured by /v1/quality, answered with
    guidance in a capture session. Its decoded pixels are gone once the answer is sent. On Python 3.10
    a refused one used to stay in a cycle (traceback -> frame -> asyncio Future -> exception), 147 MB
    per 49 MP bomb, beyond the decode budget's release."""
    r = post(edge_client, session_path(edge_client, path), png((320, 320), "L"))
    assert r.status_code == status, r.text
    assert all_freed(decoded), "the decoded photo outlived its answer"


def test_a_server_failure_frees_the_photo_too(kiosk_edge_bundle, tmp_path, decoded, no_cyclic_gc, monkeypatch):
    """The 500 path (a bug in the engine) is answered by the same releasing handlers."""
    from facescreen.kiosk.engine import KioskEngine

    def broken(*_a, **_k):
        raise RuntimeError("simulated engine bug")

    monkeypatch.setattr(KioskEngine, "analyse", broken)
    settings = Settings(bundle=kiosk_edge_bundle, data_dir=tmp_path / "data", token=TOKEN)
    with TestClient(create_app(settings), headers=AUTH, raise_server_exceptions=False) as c:
        r = post(c, "/v1/screen", png((320, 320), "L"))
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"
    assert all_freed(decoded), "the decoded photo outlived the 500 answer"


# --- 2. the token before the body: tests/kiosk/test_kiosk_server_routes.py, for every route ---------


# --- 3. backpressure ------------------------------------------------------------------------------------
def test_a_full_inference_queue_answers_503_with_retry_after(app, client, grace_hopper):
    queue = app.state.queue
    assert queue.capacity == 2  # one engine + queue_depth 1
    assert queue.try_enter() and queue.try_enter()  # two requests in progress
    try:
        health = client.get("/v1/health").json()
        assert health["inference"]["admitted"] == 2 and health["inference"]["queue_depth"] == 1
        assert health["inference"]["queue_limit"] == 1
        for path in PHOTO_PATHS:
            r = post(client, session_path(client, path), jpeg(grace_hopper), "image/jpeg")
            assert r.status_code == 503 and r.json()["error"]["code"] == "busy", r.text
            assert int(r.headers["retry-after"]) >= 1
        assert client.get("/v1/results").status_code == 200  # reading results is not queued
    finally:
        queue.leave(0.1)
        queue.leave(0.1)
    assert client.get("/v1/health").json()["inference"]["refused_total"] == 3
    assert post(client, "/v1/quality", jpeg(grace_hopper), "image/jpeg").status_code == 200


def test_a_queue_slot_is_free_once_the_answer_has_gone_out():
    """The app goes on after its response (FastAPI runs `yield` dependencies' exit code after sending:
    the decode budget's release); the client's slot must not wait for that, or 8 clients that each
    send their next photo on the answer find a queue of 9 full (seen: 503 "9 photos in progress")."""
    from facescreen.kiosk.server.admission import InferenceQueue
    from facescreen.kiosk.server.gate import RequestGate
    from facescreen.kiosk.server.main import ROUTERS

    queue, seen = InferenceQueue(engines=1, depth=0), {}

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        seen["while_streaming"] = queue.admitted
        await send({"type": "http.response.body", "body": b"}"})
        seen["after_the_answer"] = queue.admitted

    async def failing(scope, receive, send):
        raise RuntimeError("no answer at all")

    sent = []

    async def record(message):
        sent.append(message)

    async def body():
        return {"type": "http.request", "body": b"", "more_body": False}

    routes = [r for router in ROUTERS for r in router.routes]
    scope = {"type": "http", "method": "POST", "path": "/v1/screen", "headers": [], "query_string": b""}
    gate = RequestGate(app, None, queue, routes)
    asyncio.run(gate(scope, body, record))
    assert seen == {"while_streaming": 1, "after_the_answer": 0} and queue.admitted == 0
    seen.clear()
    asyncio.run(gate({**scope, "path": "/v1/sessions/x/frames"}, body, record))  # every photo route
    assert seen == {"while_streaming": 1, "after_the_answer": 0} and queue.admitted == 0
    sent.clear()  # no answer at all (a bug): the gate answers 500 and the slot is given back, once
    asyncio.run(RequestGate(failing, None, queue, routes)(scope, body, record))
    assert sent[0]["status"] == 500 and queue.admitted == 0


def test_capture_sessions_are_capped_and_owned_per_device(app):
    with (
        TestClient(app, headers=AUTH, client=("10.0.0.2", 1)) as a,
        TestClient(app, headers=AUTH, client=("10.0.0.3", 1)) as b,
    ):
        sids = [a.post("/v1/sessions", json={}).json()["session_id"] for _ in range(2)]
        third = a.post("/v1/sessions", json={})
        assert third.status_code == 429 and int(third.headers["retry-after"]) > 0
        assert "this device already has 2" in third.json()["error"]["message"]
        assert b.post("/v1/sessions", json={}).status_code == 201  # another device still can
        for call in (
            lambda: b.post(f"/v1/sessions/{sids[0]}/retake"),
            lambda: b.post(f"/v1/sessions/{sids[0]}/consent"),
            lambda: b.delete(f"/v1/sessions/{sids[0]}"),
            lambda: post(b, f"/v1/sessions/{sids[0]}/frames", png((64, 64), "RGB")),
        ):
            assert call().status_code == 404  # another device's session does not exist for it
        assert a.delete(f"/v1/sessions/{sids[0]}").status_code == 204
        assert a.post("/v1/sessions", json={}).status_code == 201


# --- 4. impossible images and parameters are 4xx -----------------------------------------------------
@pytest.mark.parametrize(
    "size, code",
    [
        ((40000, 1), "image_too_small"),
        ((1, 200000), "image_too_small"),
        ((45000, 1000), "bad_aspect_ratio"),
        ((12, 12), "image_too_small"),
    ],
)
def test_extreme_shapes_are_a_clear_422_and_the_connection_survives(app, live_server, size, code):
    data = png(size)
    with live_server(app) as srv, httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as c:
        for path in PHOTO_PATHS:
            r = post(c, session_path(c, path), data)
            assert r.status_code == 422 and r.json()["error"]["code"] == code, (path, r.status_code, r.text[:300])
            assert c.get("/v1/health").status_code == 200  # same keep-alive connection


@pytest.mark.parametrize("query", ["offset=9223372036854775808", "offset=-1", "limit=100000", "offset=1e3"])
def test_results_paging_out_of_range_is_422(client, query):
    r = client.get(f"/v1/results?{query}")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


# --- 9-11. OpenAPI, docs offline, no caching ----------------------------------------------------------
def test_openapi_declares_the_bearer_scheme_and_every_status(client):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    screen = spec["paths"]["/v1/screen"]["post"]
    assert screen["security"] == [{"bearer": []}]
    assert {"400", "401", "413", "415", "422", "503"} <= set(screen["responses"])
    assert {"401", "404"} <= set(spec["paths"]["/v1/results/{screening_id}"]["get"]["responses"])
    assert {"429", "503"} <= set(spec["paths"]["/v1/sessions"]["post"]["responses"])
    assert "security" not in spec["paths"]["/v1/health"]["get"]


def test_docs_are_served_without_a_cdn(client):
    html = client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert "//" not in html.replace("http://www.w3.org", "").split("<body>")[0].replace("://", "")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        r = client.get(f"/docs-assets/{asset}")
        assert r.status_code == 200 and len(r.content) > 10_000


def test_results_are_never_cached(client, grace_hopper):
    post(client, "/v1/screen", jpeg(grace_hopper), "image/jpeg")
    for path in ("/v1/results", "/v1/results.csv", "/v1/health", "/v1/results/nope"):
        assert client.get(path).headers["cache-control"] == "no-store", path
    assert post(client, "/v1/screen", b"").headers["cache-control"] == "no-store"


def test_no_answer_lets_a_browser_send_the_kiosks_addresses_on(client):
    """Referrer-Policy: no-referrer on every answer (the request gate's EVERY_ANSWER): the capture page,
    its scripts (the static mount has no such header of its own), the API, a refusal and an unknown
    path. The page itself does not restate it: the gate is its one home (the offline tablet app, hosted
    anywhere, keeps its meta tag)."""
    answers = {
        "/": client.get("/"),
        "/static/speech.js": client.get("/static/speech.js"),
        "/v1/health": client.get("/v1/health"),
        "/v1/results without a token": client.get("/v1/results", headers={"Authorization": ""}),
        "/nope": client.get("/nope"),
    }
    assert [r.status_code for r in answers.values()] == [200, 200, 200, 401, 404]
    for what, r in answers.items():
        assert r.headers.get("referrer-policy") == "no-referrer", (what, dict(r.headers))
    assert answers["/"].headers["cache-control"] == "no-store" and 'name="referrer"' not in answers["/"].text


def test_the_capture_page_has_one_address(client):
    """The page is answered at / only, with its headers (no-store; cross-origin isolation for the
    browser's WebAssembly threads): the static mount serves its scripts and stylesheet, never a copy of
    the page without them (it once did, at /static/capture.html)."""
    from facescreen.kiosk.isolation import ISOLATION_HEADERS

    page = client.get("/")
    assert page.status_code == 200 and "<title>facescreen capture</title>" in page.text
    for name, value in ISOLATION_HEADERS.items():
        assert page.headers.get(name) == value, name
    assert client.get("/static/capture.html").status_code == 404
    from facescreen.kiosk.tablet.export import SHARED_SCRIPTS

    for src in ("/static/capture.css", "/static/capture.js", *(f"/static/{p.name}" for p in SHARED_SCRIPTS)):
        assert src.rsplit("/", 1)[1] in page.text, src
        assert client.get(src).status_code == 200, src


# --- 6-7. secrets ----------------------------------------------------------------------------------------
def test_a_loose_tls_key_is_refused_with_a_message(kiosk_bundle, tmp_path):
    cert, key = self_signed(tmp_path / "tls")
    key.chmod(0o644)
    with pytest.raises(ValidationError, match="readable by other users.*chmod 600"):
        Settings(bundle=kiosk_bundle, data_dir=tmp_path, tls_cert=cert, tls_key=key)
    key.chmod(0o600)
    assert Settings(bundle=kiosk_bundle, data_dir=tmp_path, tls_cert=cert, tls_key=key).tls


def test_a_certificate_and_key_the_server_could_not_load_are_refused_naming_the_file(kiosk_bundle, tmp_path):
    """uvicorn ended each of these in OpenSSL's "[SSL] PEM lib" traceback, naming neither file, or (a
    key with a passphrase) stopped to ask for it on the terminal of a server started unattended."""
    cert, key = self_signed(tmp_path / "a")
    _, other_key = self_signed(tmp_path / "b")
    der = tmp_path / "cert.der"
    der.write_bytes(ssl.PEM_cert_to_DER_cert(cert.read_text()))
    locked = tmp_path / "locked.pem"
    subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-aes256", "-passout", "pass:clinic", "-out", str(locked)], check=True
    )
    notes = tmp_path / "notes.pem"
    notes.write_text("the clinic's certificate is on the USB stick\n")
    for path in (locked, notes, other_key):
        path.chmod(0o600)
    cases = {
        (key, cert): "the TLS certificate .*key.pem is not PEM .*given the other way round",
        (der, key): "cert.der is not PEM .*openssl x509 -inform DER -in .*cert.der",
        (notes, key): "notes.pem is not PEM \\(no '-----BEGIN CERTIFICATE-----' line\\) \\[",
        (cert, notes): "private key .*notes.pem is not PEM",
        (cert, locked): "locked.pem is protected by a passphrase.*openssl pkey -in",
        (cert, other_key): "private key .*b/kiosk-key.pem is not the key of the certificate .*a/kiosk-cert.pem",
        (tmp_path / "gone.pem", key): "cannot read the TLS certificate .*gone.pem: No such file",
    }
    for (c, k), told in cases.items():
        with pytest.raises(ValidationError, match=told):
            Settings(bundle=kiosk_bundle, data_dir=tmp_path, tls_cert=c, tls_key=k)
    assert Settings(bundle=kiosk_bundle, data_dir=tmp_path, tls_cert=cert, tls_key=key).tls


def test_token_file_keeps_the_token_out_of_the_process_list(tmp_path):
    from facescreen.kiosk.server.settings import read_token_file

    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    f.chmod(0o600)
    assert read_token_file(f) == TOKEN
    f.chmod(0o640)
    with pytest.raises(ValueError, match="chmod 600"):
        read_token_file(f)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    empty.chmod(0o600)
    with pytest.raises(ValueError, match="empty"):
        read_token_file(empty)
    notepad = tmp_path / "notepad"  # Windows Notepad's UTF-8: a byte-order mark first, CRLF: every request was 401
    notepad.write_bytes(b"\xef\xbb\xbf" + TOKEN.encode() + b"\r\n")
    notepad.chmod(0o600)
    assert read_token_file(notepad) == TOKEN


@pytest.mark.parametrize(
    "token, told",
    [
        ("short-token", "this one has 11 characters; make one with"),
        ("pass phrase of the clinic", "25 characters, among them ' '"),
        ("clé-de-la-clinique-2026", "among them 'é'"),
    ],
)
def test_a_token_no_client_could_send_is_refused_at_start(kiosk_bundle, tmp_path, token, told):
    """Started, such a server refused some clients and not others (an accented letter reaches it as
    Latin-1 from a browser, as UTF-8 from curl), and a space did not survive the QR code's link."""
    from pydantic import ValidationError

    from facescreen.kiosk.server.settings import Settings

    with pytest.raises(ValidationError, match="at least 16 characters of A-Z a-z 0-9") as err:
        Settings(bundle=kiosk_bundle, data_dir=tmp_path, host="0.0.0.0", token=token)
    assert told in str(err.value) and "secrets.token_urlsafe" in str(err.value)
    padded = "AbCd0123456789-_.~+/=="
    assert Settings(bundle=kiosk_bundle, data_dir=tmp_path, host="0.0.0.0", token=padded).token == padded


def test_serve_says_a_settings_mistake_in_its_own_words(kiosk_bundle, tmp_path, capsys):
    from facescreen.kiosk import cli

    argv = ["serve", "--bundle", str(kiosk_bundle), "--data-dir", str(tmp_path / "d"), "--host", "0.0.0.0"]
    assert cli.main([*argv, "--token", "pass phrase of the clinic"]) == 2
    assert capsys.readouterr().err.startswith("facescreen-kiosk serve: error: the bearer token must be")
    assert cli.main([*argv, "--port", "70000", "--token", TOKEN]) == 2
    assert (
        capsys.readouterr().err == "facescreen-kiosk serve: error: port: Input should be less than or equal to 65535\n"
    )


def test_serve_says_the_port_is_taken_before_printing_an_address_or_loading_the_model(
    kiosk_bundle, tmp_path, capsys, monkeypatch
):
    """uvicorn binds last: a port in use printed the capture URL (and the QR code phones scan), loaded
    the model, then stopped in its "[Errno 98] error while attempting to bind" log line."""
    import socket

    from facescreen.kiosk import cli

    def load_engines(settings):
        raise AssertionError("the model was loaded for a server that cannot listen")

    monkeypatch.setattr("facescreen.kiosk.server.main.load_engines", load_engines)
    argv = ["serve", "--bundle", str(kiosk_bundle), "--data-dir", str(tmp_path / "d")]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert cli.main([*argv, "--port", port]) == 3
        out, err = capsys.readouterr()
        assert "http" not in out + err
        assert err == (
            f"facescreen-kiosk serve: error: port {port} is in use on 127.0.0.1 (another `facescreen-kiosk "
            "serve` still running, or another program): stop it, or give another --port\n"
        )
    # TEST-NET-1 (RFC 5737): never an address of this machine
    assert cli.main([*argv, "--port", port, "--host", "192.0.2.7", "--token", TOKEN]) == 3
    out, err = capsys.readouterr()
    assert "http" not in out and err.startswith(
        "facescreen-kiosk serve: error: --host 192.0.2.7 is not an address of this machine (its network addresses: "
    )


def test_the_sockets_serve_binds_reach_what_the_host_names(kiosk_bundle, tmp_path):
    """Bound as asyncio binds a host for uvicorn: loopback by name or number, IPv6 only on IPv6."""
    import socket

    from facescreen.kiosk.server.run import listen_sockets

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for host, families in [("127.0.0.1", {socket.AF_INET}), ("0.0.0.0", {socket.AF_INET})]:
        sockets = listen_sockets(Settings(bundle=kiosk_bundle, data_dir=tmp_path, host=host, port=port, token=TOKEN))
        try:
            assert {s.family for s in sockets} == families
            assert all(s.getsockname()[1] == port for s in sockets)
        finally:
            for s in sockets:
                s.close()
    if socket.has_ipv6:
        try:
            sockets = listen_sockets(Settings(bundle=kiosk_bundle, data_dir=tmp_path, host="::1", port=port))
        except Exception as exc:  # a machine with IPv6 switched off
            pytest.skip(f"no IPv6 loopback here: {exc}")
        try:
            assert [s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) for s in sockets] == [1]
        finally:
            for s in sockets:
                s.close()


def test_served_files_are_private_whatever_the_umask(kiosk_bundle, engine, tmp_path, grace_hopper):
    old = os.umask(0)
    try:
        app = create_app(Settings(bundle=kiosk_bundle, data_dir=tmp_path / "d"), engine=engine)
        with TestClient(app) as c:
            d = c.post(
                "/v1/screen", files={"file": ("p.jpg", jpeg(grace_hopper), "image/jpeg")}, data={"consent": "true"}
            ).json()
            photo = tmp_path / "d" / c.get(f"/v1/results/{d['id']}").json()["photo_file"]
    finally:
        os.umask(old)
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o700 and photo.stat().st_mode & 0o777 == 0o600


# --- 12. reaching the kiosk from a phone ------------------------------------------------------------
def test_a_wildcard_bind_announces_lan_addresses_and_a_qr_code(kiosk_bundle, tmp_path, monkeypatch):
    from facescreen.kiosk.server import run

    monkeypatch.setattr(run, "local_addresses", lambda: ["192.168.1.20", "10.0.0.5"])
    s = Settings(bundle=kiosk_bundle, data_dir=tmp_path, host="0.0.0.0", port=8443, token=TOKEN)
    text = run.announce(s, "https")
    assert "https://192.168.1.20:8443/" in text and "https://10.0.0.5:8443/" in text and "0.0.0.0" not in text
    assert "▀" in text or "█" in text  # the QR code, drawn in the terminal
    import segno

    qr = segno.make(f"https://192.168.1.20:8443/#token={TOKEN}", error="m")
    buf = io.StringIO()
    qr.terminal(out=buf, compact=True)
    assert buf.getvalue() in text  # it encodes the capture URL with the token in the fragment
    monkeypatch.setattr(run, "local_addresses", lambda: [])
    assert "no network address" in run.announce(s, "https")


def test_the_qr_codes_token_reads_back_as_it_is_whatever_base64_put_in_it(kiosk_bundle, tmp_path, monkeypatch):
    """The capture page reads #token= with URLSearchParams (application/x-www-form-urlencoded, as
    Python's parse_qs): a '+' of `openssl rand -base64` read as a space, and every request was 401."""
    import urllib.parse

    import segno

    from facescreen.kiosk.server import run

    monkeypatch.setattr(run, "local_addresses", lambda: ["192.168.1.20"])
    token = "k+Vq/8Zr0xY2+aB9/Lw3mN5p=="
    s = Settings(bundle=kiosk_bundle, data_dir=tmp_path, host="0.0.0.0", port=8443, token=token)
    url = "https://192.168.1.20:8443/#token=" + urllib.parse.quote(token, safe="")
    buf = io.StringIO()
    segno.make(url, error="m").terminal(out=buf, compact=True)
    assert buf.getvalue() in run.announce(s, "https")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(url).fragment)["token"] == [token]
    assert urllib.parse.parse_qs(f"token={token}")["token"] != [token]  # what the plain fragment read as


def test_a_loopback_bind_says_only_this_machine_can_reach_it(kiosk_bundle, tmp_path, bundle_with_app):
    """Issue 25: on 127.0.0.1 the kiosk said "open on a phone or tablet on this network"."""
    from facescreen.kiosk.server import run

    s = Settings(bundle=kiosk_bundle, data_dir=tmp_path, host="127.0.0.1", port=8000)
    text = run.announce(s, "http", qr=False)
    assert "only this machine can reach 127.0.0.1" in text and "--host 0.0.0.0" in text
    assert "on this network" not in text
    assert "tablet-export" in text  # no tablet app in this bundle: how to make one
    s = Settings(bundle=bundle_with_app(kiosk_bundle), data_dir=tmp_path, host="127.0.0.1", port=8000)
    assert "tablet app: http://127.0.0.1:8000/tablet/ (works offline after one visit)" in run.announce(
        s, "http", qr=False
    )


def test_the_announcement_says_where_the_tablet_app_will_not_work_offline(
    kiosk_bundle, tmp_path, monkeypatch, bundle_with_app
):
    """Browsers keep the tablet app (its service worker) only on a secure origin whose certificate they
    trust: over http at a LAN address, or with --tls-self-signed on a tablet that has not been given the
    certificate, it opens online only. The announcement said "works offline after one visit" always."""
    from facescreen.kiosk.server import run

    monkeypatch.setattr(run, "local_addresses", lambda: ["192.168.1.20"])
    s = Settings(bundle=bundle_with_app(kiosk_bundle), data_dir=tmp_path, host="0.0.0.0", port=8000, token=TOKEN)
    lan = run.announce(s, "http", qr=False)
    assert "tablet app: http://192.168.1.20:8000/tablet/ (over http it does not work offline" in lan
    assert "--tls-self-signed" in lan and "works offline after one visit" not in lan
    cert = tmp_path / "tls" / "kiosk-cert.pem"
    signed = run.announce(s, "https", qr=False, self_signed_cert=cert)
    assert (
        f"(works offline after one visit only on a tablet that trusts this kiosk's certificate: install {cert}"
        in signed
    )
    assert "https://192.168.1.20:8000/tablet/ (works offline after one visit)" in run.announce(s, "https", qr=False)


def test_the_self_signed_certificate_follows_the_addresses(tmp_path):
    import subprocess

    from facescreen.kiosk.server.tls import TlsError, self_signed

    def names(cert):
        out = subprocess.run(
            ["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(cert)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out

    cert, key = self_signed(tmp_path / "tls", ["192.168.1.20"])
    first = cert.read_bytes()
    assert "192.168.1.20" in names(cert) and (tmp_path / "tls").stat().st_mode & 0o777 == 0o700
    assert self_signed(tmp_path / "tls", ["192.168.1.20"]) == (cert, key) and cert.read_bytes() == first  # reused
    self_signed(tmp_path / "tls", ["10.0.0.5"])  # the clinic network changed
    assert "10.0.0.5" in names(cert) and "192.168.1.20" not in names(cert) and cert.read_bytes() != first
    key.chmod(0o644)
    with pytest.raises(TlsError, match="readable by other users"):
        self_signed(tmp_path / "tls", ["10.0.0.5"])


def test_serve_reads_the_token_file(kiosk_bundle, tmp_path, monkeypatch, capsys):
    from facescreen.kiosk import cli
    from facescreen.kiosk.server import run

    seen = {}
    monkeypatch.setattr(run, "serve", lambda settings, log_level, engine, sockets: seen.update(token=settings.token))
    monkeypatch.setattr(run, "listen_sockets", lambda settings: [])
    f = tmp_path / "token"
    f.write_text(TOKEN)
    f.chmod(0o600)
    assert (
        cli.main(
            [
                "serve",
                "--bundle",
                str(kiosk_bundle),
                "--host",
                "0.0.0.0",
                "--token-file",
                str(f),
                "--data-dir",
                str(tmp_path / "d"),
            ]
        )
        == 0
    )
    assert seen["token"] == TOKEN
    f.chmod(0o644)
    assert cli.main(["serve", "--bundle", str(kiosk_bundle), "--token-file", str(f)]) == 2
    assert "chmod 600" in capsys.readouterr().err


def test_an_engine_pool_runs_calls_on_free_engines_at_once():
    import threading
    import time

    from facescreen.kiosk.server.pool import EnginePool

    class FakeEngine:
        is_demo = True
        active = [0]
        peak = [0]
        lock = threading.Lock()

        def __init__(self):
            self.calls = 0

        def analyse(self, x):
            with self.lock:
                self.active[0] += 1
                self.peak[0] = max(self.peak[0], self.active[0])
            time.sleep(0.05)
            self.calls += 1
            with self.lock:
                self.active[0] -= 1
            return x

    engines = [FakeEngine(), FakeEngine()]
    pool = EnginePool(engines)
    assert pool.is_demo is True and len(pool) == 2  # attributes come from the first engine
    threads = [threading.Thread(target=pool.analyse, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert FakeEngine.peak[0] == 2 and sum(e.calls for e in engines) == 8 and all(e.calls for e in engines)
