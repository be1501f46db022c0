"""GET /tablet/: the exported app from BUNDLE/tablet, or a 404 that says how to export it; never a
file outside the app."""

from __future__ import annotations

import json

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


def test_serves_the_app_and_nothing_else(tmp_path, engine):
    bundle = tmp_path / "bundle"
    (bundle / "tablet" / "core").mkdir(parents=True)
    (bundle / "tablet" / "app.json").write_text(json.dumps({"kind": "facescreen-tablet-app"}))
    (bundle / "tablet" / "index.html").write_text("<!doctype html><title>t</title>")
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
