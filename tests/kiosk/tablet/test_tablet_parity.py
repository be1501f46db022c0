"""The heart of the tablet app: in real headless Chromium, the browser's detections and screening
probabilities equal the Python edge path's on the same artifact files (the export's own gate,
recorded in app.json), and a planted preprocessing bug is refused by that gate."""

from __future__ import annotations

import json
import re

import pytest

from facescreen.kiosk.tools.browser import browser_skip_reason

pytestmark = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))


@pytest.fixture(scope="module")
def app_json(tablet_app) -> dict:
    return json.loads((tablet_app / "app.json").read_text())


def test_export_gate_recorded_parity(app_json, parity_photos, capsys):
    rec = app_json["parity"]
    assert rec["passed"], rec["verdict"]
    assert rec["n_photos"] == len(parity_photos) >= 24
    assert rec["flag_agreement"] >= 0.99
    assert rec["max_abs_prob_diff"] <= rec["int8_step"] + 1e-6
    assert rec["max_box_px"] <= 1.0 and rec["max_landmark_px"] <= 1.0
    for p in rec["photos"]:
        assert p["n_faces_python"] == p["n_faces_browser"], p["name"]
        assert (p["p_python"] is None) == (p["p_browser"] is None), p["name"]
    assert rec["n_screened"] >= len(parity_photos) - 2  # the synthetic faces are all found
    # issue 23 §1: per stage, browser and Python, from this one run on the same photos
    assert set(rec["stages_median_ms"]) == {"detect", "align", "infer"}
    assert all(v["browser"] > 0 and v["python"] > 0 for v in rec["stages_median_ms"].values())
    with capsys.disabled():  # the README's figures come from runs like this one
        print("\ntablet parity:", json.dumps({k: v for k, v in rec.items() if k != "photos"}))


def test_app_is_self_contained(tablet_app, app_json):
    from facescreen.edge.bundle import sha256_file

    assert app_json["runtime"] == "onnxruntime-web" and app_json["screener"]["artifact"] == "onnx-int8"
    for rel, digest in app_json["files"].items():
        assert sha256_file(tablet_app / rel) == digest, rel
    # the runtime's files are served by the app itself: no page or module of ours names another host
    ours = [
        p
        for p in app_json["files"]
        if not p.startswith("vendor/") and p.endswith((".html", ".js", ".json", ".webmanifest"))
    ]
    for rel in ours:
        text = (tablet_app / rel).read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!127\.0\.0\.1)", text.replace("http://www.w3.org/2000/svg", "")), rel
    assert any(p.endswith(".wasm") for p in app_json["files"])
    messages = json.loads((tablet_app / "messages.json").read_text(encoding="utf-8"))
    from facescreen.kiosk.messages import MESSAGES

    assert messages == MESSAGES


def test_a_planted_preprocessing_bug_is_refused(tablet_bundle, parity_photos, tmp_path):
    """Feed the screener pixels scaled to [0, 1] (a double normalisation): the gate refuses the app
    and writes nothing."""
    from facescreen.kiosk.tablet.export import TabletExportError, export_app
    from facescreen.kiosk.tablet.parity import verify_app

    photos = dict(list(parity_photos.items())[:8])

    def planted(staging, app):
        f = staging / "core" / "screen.js"
        src = f.read_text()
        assert "const x = Float32Array.from(crop);" in src
        f.write_text(
            src.replace("const x = Float32Array.from(crop);", "const x = Float32Array.from(crop, (v) => v / 255);")
        )
        return verify_app(staging, app, bundle_dir=tablet_bundle, photos=photos)

    out = tmp_path / "app"
    with pytest.raises(TabletExportError, match="failed browser parity"):
        export_app(tablet_bundle, out, verify=planted, progress=lambda s: None)
    assert not out.exists()
    assert not list(tmp_path.glob(".tablet-*"))  # the staging folder is gone too


def test_unknown_runtime_lists_the_valid_ones(tablet_bundle):
    from facescreen.kiosk.tablet.export import export_app

    with pytest.raises(ValueError, match="litert-js, onnxruntime-web"):
        export_app(tablet_bundle, verify=lambda *a: {"passed": True}, runtime="tfjs")


def test_litert_js_cannot_run_the_verified_artifacts_and_is_not_offered(tablet_bundle, parity_photos, tmp_path):
    """The measured reason for onnxruntime-web (README): LiteRT.js refuses the int8-I/O screener."""
    from facescreen.kiosk.tablet.export import TabletExportError, export_app
    from facescreen.kiosk.tablet.parity import verify_app

    photos = dict(list(parity_photos.items())[:2])
    out = tmp_path / "app"
    with pytest.raises(TabletExportError, match="litert-js could not open the bundle's artifacts in Chromium: .+"):
        export_app(
            tablet_bundle,
            out,
            runtime="litert-js",
            progress=lambda s: None,
            verify=lambda staging, app: verify_app(staging, app, bundle_dir=tablet_bundle, photos=photos),
        )
    assert not out.exists()
