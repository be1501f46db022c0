"""GET /tablet/: the exported app from BUNDLE/tablet, or a 404 that says how to export it; never a
file outside the app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def client_for(bundle, tmp_path, engine) -> TestClient:
    from facescreen.kiosk.server import Settings, create_app

    return TestClient(create_app(Settings(bundle=bundle, data_dir=tmp_path / "data"), engine=engine))


def test_not_exported_says_how(tmp_path, engine):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    r = client_for(bundle, tmp_path, engine).get("/tablet/")
    assert r.status_code == 404 and r.json()["error"]["code"] == "tablet_app_not_exported"
    assert "facescreen-kiosk tablet-export" in r.json()["error"]["message"]


def test_serves_the_app_and_nothing_else(tmp_path, engine, kiosk_bundle, bundle_with_app):
    bundle = bundle_with_app(kiosk_bundle)
    (bundle / "tablet" / "core").mkdir(parents=True)
    (bundle / "tablet" / "core" / "x.js").write_text("export const x = 1;")
    (bundle / "secret.txt").write_text("not for the web")
    c = client_for(bundle, tmp_path, engine)
    assert c.get("/tablet", follow_redirects=False).status_code == 308
    r = c.get("/tablet/")
    assert r.status_code == 200 and "<title>t</title>" in r.text and r.headers["cache-control"] == "no-cache"
    assert c.get("/tablet/core/x.js").headers["content-type"].startswith("text/javascript")
    for path in (
        "/tablet/../secret.txt",
        "/tablet/%2e%2e/secret.txt",
        "/tablet/core/../../secret.txt",
        "/tablet/nope.js",
    ):
        assert c.get(path).status_code == 404, path


@pytest.mark.parametrize(
    "change, named",
    [
        ({"threshold": 0.25}, "threshold"),
        ({"version": "0-before-the-update"}, "version"),
        ({"calibration": {"temperature": 1.5}}, "calibration"),
        ({"screener_sha256": "0" * 64}, "screener"),
    ],
)
def test_an_app_exported_from_another_model_is_not_served(
    tmp_path, engine, kiosk_bundle, bundle_with_app, change, named
):
    """A bundle converted again in place (a new threshold, version, calibration, a re-quantised
    screener) kept serving the app exported before: tablets installed the replaced model, and this
    kiosk's own sync refused what they screened. Every file of it is refused (409) naming what differs
    and how to export it again; the start-up announcement says the same."""
    from facescreen.kiosk.server import Settings, run

    bundle = bundle_with_app(kiosk_bundle, **change)
    c = client_for(bundle, tmp_path, engine)
    for path in ("/tablet/", "/tablet/app.json", "/tablet/model/modelcard.json"):
        r = c.get(path)
        assert r.status_code == 409 and r.json()["error"]["code"] == "tablet_app_stale", (path, r.text[:300])
        assert (
            named in r.json()["error"]["message"] and f"tablet-export --bundle {bundle}" in r.json()["error"]["message"]
        )
    text = run.announce(Settings(bundle=bundle, data_dir=tmp_path / "data"), "http", qr=False)
    assert "tablet app not served:" in text and named in text and "/tablet/ (" not in text


def test_an_app_is_served_when_only_the_bundles_provenance_changed(tmp_path, engine, kiosk_bundle, bundle_with_app):
    """Converting another target rewrites the card's artifacts, an edge export adds derived_from: the
    app's model is the same, and it is served."""
    bundle = bundle_with_app(kiosk_bundle, artifacts={}, derived_from={"kind": "edge export"})
    assert client_for(bundle, tmp_path, engine).get("/tablet/").status_code == 200
