"""Every route of the app held to the shared guarantees, by enumeration, so a new route cannot forget one
(issue 19: routes added later went around the token gate and the decode budget):

* a route that reads a body, or any API route not listed as public, checks the token before the body;
  an unauthenticated request of any size to any path, known or not, is answered 401/403/404/405
  without one byte of its body being read;
* every photo decode, wherever the photo comes from (multipart, base64 in JSON, a session frame),
  holds its pixels in the one decode budget and its request holds a slot of the one queue;
* OpenAPI shows the security and the gate's answers for every route that has them;
* every answer, a refusal included, carries the gate's ``EVERY_ANSWER`` headers (no referrer).
Loopback and in-process; bounded."""

from __future__ import annotations

import ast
import asyncio
import io
import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image

from facescreen.kiosk.server import Settings, create_app
from facescreen.kiosk.server.gate import RouteRules, _check_configured, _check_token, flat_routes

TOKEN = "s3cret-token-for-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SERVER_DIR = Path(__file__).resolve().parents[2] / "kiosk" / "server"
# routes anyone may call: liveness, the capture page's wording, the pages and API docs, the CORS preflight
PUBLIC = {
    ("GET", "/v1/health"),
    ("GET", "/v1/messages"),
    ("GET", "/docs"),
    ("OPTIONS", "/v1/sync/results"),
    ("GET", "/"),
    ("GET", "/tablet"),
    ("GET", "/tablet/{path:path}"),
}
DECLARED_BODY = 19 * 2**20  # the unauthenticated 19 MiB bodies


def api_routes(app) -> list[APIRoute]:
    return [r for r in flat_routes(app.routes) if isinstance(r, APIRoute)]


def operations(app) -> list[tuple[str, str, APIRoute]]:
    return [(m, r.path, r) for r in api_routes(app) for m in sorted(r.methods)]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.fixture(scope="module")
def apps(kiosk_bundle, engine, tmp_path_factory):
    """The app with a token, and a loopback one without (the sync route must refuse it before its body)."""
    root = tmp_path_factory.mktemp("routes")
    with_token = create_app(
        Settings(bundle=kiosk_bundle, data_dir=root / "a", host="0.0.0.0", token=TOKEN, queue_depth=8), engine=engine
    )
    without = create_app(Settings(bundle=kiosk_bundle, data_dir=root / "b"), engine=engine)
    return with_token, without


def unread_body_call(app, method: str, path: str, headers=(), client: str = "192.0.2.7") -> tuple[int, int, dict]:
    """(status, receive() calls, answer headers) for a request that declares a 19 MiB body."""
    reads, sent = [], []

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": b"{" * 65536, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8000),
        "client": (client, 40000),
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(DECLARED_BODY).encode()),
            *headers,
        ],
    }
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], len(reads), dict(sent[0]["headers"])


def test_every_route_that_is_not_public_needs_the_token_and_every_body_route_is_checked(apps):
    app, _ = apps
    for method, path, route in operations(app):
        rules = RouteRules.of(route)
        if (method, path) in PUBLIC:
            assert not rules.reads_body, f"{method} {path} is public but reads a body"
            continue
        assert _check_token in rules.checks, f"{method} {path} does not depend on require_token (through Depends)"
    assert {(m, p) for m, p, _ in operations(app)} >= PUBLIC  # the public list names real routes


@pytest.mark.parametrize("which", ["token", "wrong token", "no token"])
def test_no_unauthenticated_body_is_read_on_any_path(apps, which):
    """Every operation, every path no route takes, every method a path does not answer: a 19 MiB body
    without the token is answered with no receive() at all (it was buffered and parsed before: RSS
    175 -> 714 MB for one, past 6 GB for 32)."""
    app = apps[1] if which == "no token" else apps[0]
    sent = [(b"authorization", b"Bearer wrong-token-0000000000")] if which == "wrong token" else []
    cases = []
    for method, path, route in operations(app):
        rules = RouteRules.of(route)
        if which != "no token":
            cases.append((method, concrete(path), {401, 403} if rules.checks else None))
        elif _check_configured in rules.checks:
            cases.append((method, concrete(path), {403}))
        elif not rules.reads_body:  # a loopback kiosk without a token serves its other body routes
            cases.append((method, concrete(path), None))
    # no route takes these: an unknown path, a method the path does not answer, a static file
    for method, path in [("POST", "/v1/nope"), ("POST", "/nope"), ("PUT", "/v1/health"), ("POST", "/v1/results")]:
        cases.append((method, path, {404, 405}))
    cases.append(("POST", "/static/capture.js", {405}))
    for i, (method, path, expected) in enumerate(cases):  # one device each: wrong tokens are not slowed down here
        status, reads, answer = unread_body_call(app, method, path, sent, client=f"192.0.2.{i + 1}")
        assert reads == 0, f"{method} {path}: {reads} body reads before answering {status}"
        assert status in expected if expected else status < 500, f"{method} {path} answered {status}"
        assert answer[b"referrer-policy"] == b"no-referrer", (method, path)  # the gate's EVERY_ANSWER
        if status == 401:
            assert answer[b"www-authenticate"] == b"Bearer", (method, path)


def upload(rgb) -> dict:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    return {"files": {"file": ("p.jpg", buf.getvalue(), "image/jpeg")}}


# how to send a photo to each route that decodes one; a new photo route must add its line
PHOTO_REQUESTS = {
    "/v1/screen": lambda c, record, rgb: c.post("/v1/screen", **upload(rgb)),
    "/v1/quality": lambda c, record, rgb: c.post("/v1/quality", **upload(rgb)),
    "/v1/sessions/{session_id}/frames": lambda c, record, rgb: c.post(
        f"/v1/sessions/{c.post('/v1/sessions', json={}).json()['session_id']}/frames", **upload(rgb)
    ),
    "/v1/sync/results": lambda c, record, rgb: c.post("/v1/sync/results", json={"results": [record(photo=rgb)]}),
}


def test_every_photo_decode_holds_the_decode_budget_and_a_queue_slot(apps, record, grace_hopper, monkeypatch):
    """Wherever a photo comes from, its decode happens inside a decode-budget reservation of its pixels
    and inside a queue slot (16 sync photos of 49 MP bypassed both: 5.1 GB, health showing 0 admitted)."""
    from facescreen.edge.photo import OpenedPhoto

    app, _ = apps
    photo_routes = {r.path for r in api_routes(app) if RouteRules.of(r).takes_photo}
    assert photo_routes == set(PHOTO_REQUESTS), "a route decodes photos: add it to PHOTO_REQUESTS"
    seen, decode = [], OpenedPhoto.decode

    def watched(self, *args):
        seen.append((self.pixels, app.state.decode_budget.in_flight, app.state.queue.admitted))
        return decode(self, *args)

    monkeypatch.setattr(OpenedPhoto, "decode", watched)
    with TestClient(app, headers=AUTH) as c:
        for path, send in PHOTO_REQUESTS.items():
            seen.clear()
            r = send(c, record, grace_hopper)
            assert r.status_code < 500, (path, r.text[:300])
            assert seen, f"{path} decoded no photo"
            for pixels, in_flight, admitted in seen:
                assert in_flight >= pixels and admitted >= 1, (path, pixels, in_flight, admitted)


def test_only_the_photo_decoder_decodes_photos():
    """No module of the server decodes a photo but kiosk/server/deps.py (PhotoDecoder): a route that
    called load_photo itself would be outside the budget and the queue."""
    offenders = []
    for py in SERVER_DIR.rglob("*.py"):
        if py.name == "deps.py":
            continue
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = getattr(f, "id", None) or getattr(f, "attr", None)
            pil_open = name == "open" and getattr(getattr(f, "value", None), "id", None) == "Image"
            if name in ("load_photo", "open_photo") or pil_open:
                offenders.append(f"{py.relative_to(SERVER_DIR)}:{node.lineno} {name}")
    assert not offenders, offenders


def test_openapi_shows_the_gate_for_every_route(apps):
    app, _ = apps
    with TestClient(app, headers=AUTH) as c:
        spec = c.get("/openapi.json").json()
    for method, path, route in operations(app):
        if not route.include_in_schema:
            continue
        op = spec["paths"][path][method.lower()]
        rules = RouteRules.of(route)
        codes = set(op["responses"])
        if _check_token in rules.checks:
            assert op.get("security") == [{"bearer": []}], f"{method} {path}: no security in OpenAPI"
            assert {"401", "429"} <= codes, (method, path, codes)
        if _check_configured in rules.checks:
            assert "403" in codes, (method, path, codes)
        if rules.reads_body:
            assert {"408", "413", "422"} <= codes, (method, path, codes)
        if rules.takes_photo:
            assert "503" in codes, (method, path, codes)


def test_every_form_route_keeps_its_uploads_in_memory_without_changing_starlette(
    apps, kiosk_bundle, engine, tmp_path, monkeypatch
):
    """Each route that parses a multipart form holds its files in memory up to its own app's body limit
    (kiosk.server.uploads); creating apps leaves Starlette's process-wide spooling default alone."""
    import tempfile

    import numpy as np
    from fastapi.params import Form
    from starlette.formparsers import MultiPartParser

    from facescreen.kiosk.server.uploads import InMemoryUploads

    app, _ = apps
    assert MultiPartParser.spool_max_size == 2**20  # Starlette's own 1 MiB, after two create_app calls
    # what FastAPI itself tests before it parses a form (fastapi.routing: is_body_form)
    form_routes = [r for r in api_routes(app) if r.body_field is not None and isinstance(r.body_field.field_info, Form)]
    assert {r.path for r in form_routes} >= {"/v1/screen", "/v1/quality", "/v1/sessions/{session_id}/frames"}
    assert [r.path for r in form_routes if not isinstance(r, InMemoryUploads)] == []
    # a 3 MiB photo, past Starlette's 1 MiB default, is parsed without rolling over to a file on disk
    rolled = []
    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", lambda self: rolled.append(self._max_size))
    noise = np.random.default_rng(0).integers(0, 256, (1100, 1100, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "PNG")
    assert len(buf.getvalue()) > 3 * 2**20
    # an app of its own: the module's apps have been through a TestClient's lifespan, whose end closes
    # their store, and a photo that fails its quality check is recorded there (a quality refusal)
    fresh = create_app(Settings(bundle=kiosk_bundle, data_dir=tmp_path / "d", token=TOKEN), engine=engine)
    with TestClient(fresh, headers=AUTH) as c:
        r = c.post("/v1/screen", files={"file": ("p.png", buf.getvalue(), "image/png")})
    assert r.status_code not in (400, 413, 500), r.text
    assert rolled == []
