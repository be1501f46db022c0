"""POST /v1/sync/results: only with the kiosk's token, idempotent by id, photos only with consent,
a result whose wording does not follow its numbers refused."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image

TOKEN = "tablet-sync-token-0123456789"


@pytest.fixture
def kiosk(tmp_path, kiosk_bundle, engine):
    from facescreen.kiosk.server import Settings, create_app

    def make(token=TOKEN):
        app = create_app(
            Settings(bundle=kiosk_bundle, data_dir=tmp_path / "data", kiosk_id="k", token=token), engine=engine
        )
        return app, TestClient(app)

    return make


def post(client, results, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/v1/sync/results", json={"results": results}, headers=headers)


def test_idempotent_by_id(kiosk, record):
    app, client = kiosk()
    a, b = record(), record(probability=0.1, flag=False, label="no referral flag")
    r1 = post(client, [a])
    assert r1.status_code == 200 and r1.json() == {"accepted": [a["id"]], "new": [a["id"]], "duplicates": []}
    r2 = post(client, [a, b])
    assert r2.json() == {"accepted": [a["id"], b["id"]], "new": [b["id"]], "duplicates": [a["id"]]}
    rows = app.state.store.list()
    assert sorted(r["id"] for r in rows) == sorted([a["id"], b["id"]])
    assert {r["source"] for r in rows} == {"tablet"} and {r["kiosk_id"] for r in rows} == {"tablet-7"}
    assert r1.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("token,status", [(None, 401), ("wrong-token-0123456789", 401)])
def test_only_with_the_kiosks_token(kiosk, record, token, status):
    app, client = kiosk()
    assert post(client, [record()], token=token).status_code == status
    assert app.state.store.count() == 0


def test_a_kiosk_without_a_token_accepts_no_sync(kiosk, record):
    app, client = kiosk(token=None)
    r = post(client, [record()], token=None)
    assert r.status_code == 403 and r.json()["error"]["code"] == "sync_needs_token"
    assert app.state.store.count() == 0


def test_preflight_for_an_app_served_elsewhere(kiosk):
    _, client = kiosk()
    r = client.options(
        "/v1/sync/results", headers={"Origin": "http://tablet.example", "Access-Control-Request-Method": "POST"}
    )
    assert r.status_code == 204 and "authorization" in r.headers["access-control-allow-headers"]


def _jpeg(rgb) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def test_photo_kept_only_with_consent(kiosk, record, grace_hopper):
    app, client = kiosk()
    with_consent = record(consent=True, photo_jpeg_b64=_jpeg(grace_hopper))
    assert post(client, [with_consent]).status_code == 200
    row = app.state.store.get(with_consent["id"])
    assert row["consent"] and row["photo_file"] and (app.state.store.data_dir / row["photo_file"]).is_file()
    refused = post(client, [record(consent=False, photo_jpeg_b64=_jpeg(grace_hopper))])
    assert refused.status_code == 422
    assert app.state.store.count() == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"flag": False},  # flag does not follow probability vs threshold
        {"label": "no referral flag"},  # label does not follow the flag
        {"label": "diagnosed with a syndrome"},  # never a diagnosis
        {"id": "not-a-hex-id"},
        {"created_at": "2026-11-29T05:00:00"},  # no time zone
        {"probability": 1.5},
        {"unexpected": 1},  # a misspelt field is an error, not ignored
    ],
)
def test_malformed_results_are_refused_whole(kiosk, record, bad):
    app, client = kiosk()
    good = record()
    r = post(client, [good, record(**bad)])
    assert r.status_code == 422, r.text
    assert app.state.store.count() == 0


def test_a_synced_child_ref_is_listed_searched_and_exported(kiosk, record, kiosk_bundle):
    """The child's programme reference travels with the tablet's result into the kiosk's list, its
    search (?child_ref=) and its CSV export; a name in its place is refused (kiosk/childref.py)."""
    app, client = kiosk()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    mine, other = record(child_ref="REG-2024-0117"), record(child_ref="REG-2024-0999")
    assert post(client, [mine, other, record()]).status_code == 200
    page = client.get("/v1/results", params={"child_ref": "REG-2024-0117"}, headers=auth).json()
    assert page["total"] == 1 and [(r["id"], r["child_ref"]) for r in page["items"]] == [(mine["id"], "REG-2024-0117")]
    assert {r["child_ref"] for r in client.get("/v1/results", headers=auth).json()["items"]} == {
        "REG-2024-0117",
        "REG-2024-0999",
        None,
    }
    rows = list(csv.DictReader(io.StringIO(client.get("/v1/results.csv", headers=auth).text)))
    assert {r["id"]: r["child_ref"] for r in rows}[mine["id"]] == "REG-2024-0117"
    refused = post(client, [record(child_ref="Ana Silva")])
    assert refused.status_code == 422 and "register number" in refused.text
    # ... and the FHIR export's subject (issue 24's kiosk.fhir reads the stored row)
    from facescreen.kiosk.fhir.bundle import transaction_bundle
    from facescreen.kiosk.fhir.push import models_from
    from facescreen.kiosk.fhir.resources import FhirOptions

    card = json.loads((kiosk_bundle / "modelcard.json").read_text())
    same_model = record(child_ref="REG-2024-0555", model_id=card["model_id"], model_version=card["version"])
    assert post(client, [same_model]).status_code == 200
    row = app.state.store.get(same_model["id"])
    doc = transaction_bundle(
        [row], models_from([kiosk_bundle]), None, FhirOptions(child_id_system="urn:example:register")
    )
    subjects = [e["resource"].get("subject") for e in doc["entry"] if "subject" in e["resource"]]
    assert subjects and all(
        s["identifier"] == {"system": "urn:example:register", "value": "REG-2024-0555"} for s in subjects
    )
