"""The browser's capture-quality measures (core/quality.js) against the kiosk's (kiosk.quality) on the
kiosk's scene frames (too far, too close, off centre, two faces, dark, blurred, good ...): the same
thresholds (app.json's, from QualityConfig), and every ported measure's pass/fail identical wherever
its raw value is not within a small margin of its threshold; the one instruction identical too. The
kiosk side runs the plain 468-point face mesh (face_landmark.tflite), the model the browser runs
converted to ONNX."""
from __future__ import annotations

import base64
import json

import cv2
import numpy as np
import pytest

from facescreen.kiosk.tools.browser import browser_skip_reason

pytestmark = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))

MARGIN = 0.01  # relative distance from a threshold inside which either verdict is accepted
# raw agreement: exact arithmetic except sharpness, whose linear resize differs from OpenCV's by +-1
# on some pixels of the first and last rows (test_tablet_ops.py::test_resize_linear_u8)
# on some pixels of the first and last rows (test_tablet_ops.py::test_resize_linear_u8); the mesh
# measures: ONNX Runtime's mesh vs LiteRT's (~1e-4 px) and a crop rotation within an ulp of float32
RAW_TOL = {"sharpness": (1e-2, 0.0), "head_roll": (0, 0.05), "head_yaw": (0, 0.05), "head_pitch": (0, 0.05),
           "eyes_open": (1e-3, 1e-4), "mouth_closed": (1e-3, 1e-4)}

JS = """
const [b64, h, w] = arguments;
const bin = atob(b64);
const rgb = new Uint8Array(bin.length);
for (let i = 0; i < bin.length; i++) rgb[i] = bin.charCodeAt(i);
return await window.__fs.quality(rgb, h, w);
"""


def near(raw: float, bound: dict) -> bool:
    if bound.get("min") is not None and bound.get("min") == bound.get("max"):
        return False  # an exact count (one face): no margin
    return any(v is not None and abs(raw - v) <= MARGIN * max(abs(v), 1e-9) for v in (bound.get("min"), bound.get("max")))


def framed(photo: np.ndarray, side: int, x: int, y: int, size=(480, 640)) -> np.ndarray:
    """``photo`` scaled to ``side`` pixels and placed with its top-left corner at (x, y) on grey."""
    frame = np.full((*size, 3), 128, np.uint8)
    small = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA if side < photo.shape[0] else cv2.INTER_CUBIC)
    y2, x2 = min(size[0], y + side), min(size[1], x + side)
    frame[y:y2, x:x2] = small[: y2 - y, : x2 - x]
    return frame


@pytest.fixture(scope="module")
def frames(scene_frames, grace_hopper):
    """The kiosk's scenes, plus frames made to fail each detector-based measure."""
    return {**scene_frames,
            "far": framed(grace_hopper, 120, 260, 180),          # small face: move closer
            "off_centre": framed(grace_hopper, 300, 0, 0),       # top-left corner: move to the centre
            "near": framed(grace_hopper[120:420, 100:400], 700, 0, 0),  # the face fills the frame: move back
            "centred": framed(grace_hopper, 420, 110, 30),
            "dark": (framed(grace_hopper, 420, 110, 30) * 0.15).astype(np.uint8),            # more light
            "blurred": cv2.GaussianBlur(framed(grace_hopper, 420, 110, 30), (0, 0), 4.0),    # hold still
            "half_lit": half_lit(framed(grace_hopper, 420, 110, 30))}                        # even light


def half_lit(rgb: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    out[:, : out.shape[1] // 2] = (out[:, : out.shape[1] // 2] * 0.25).astype(np.uint8)
    return out


def test_measures_agree_with_the_kiosk(tablet_app, tablet_bundle, frames):
    from facescreen.edge.assets import FACE_LANDMARK, asset_path
    from facescreen.kiosk.landmarks import DenseLandmarker
    from facescreen.kiosk.quality import MEASURE_NAMES, FrameAnalyser, QualityConfig, model_inter_eye_px
    from facescreen.kiosk.tablet.export import MESH_MEASURES
    from facescreen.kiosk.tracking import FindConfig
    from facescreen.kiosk.tablet.parity import browser_call, open_in_browser, python_reference, static_server
    from facescreen.kiosk.tools.browser import Chrome

    app = json.loads((tablet_app / "app.json").read_text())
    assert app["quality"] == QualityConfig().model_dump()
    assert app["quality_measures"] == list(MEASURE_NAMES) and app["mesh"]["source"] == FACE_LANDMARK.name
    screener = python_reference(tablet_bundle, app["runtime"])
    # the browser detects with app.json's DetectConfig (no smallest face from the quality config,
    # which the kiosk's FindConfig adds): compare the measures on the same detections
    analyser = FrameAnalyser(screener.detector, DenseLandmarker(asset_path(FACE_LANDMARK.name)), QualityConfig(),
                             model_iod_px=model_inter_eye_px(screener.align_config), find=FindConfig.baseline())
    compared = instructions = 0
    failed: set[str] = set()
    meshed: set[str] = set()   # the mesh measures compared on at least one frame
    with static_server(tablet_app) as url, Chrome() as chrome:
        open_in_browser(chrome, url)
        for name, rgb in frames.items():
            h, w = rgb.shape[:2]
            got = browser_call(chrome, JS, base64.b64encode(np.ascontiguousarray(rgb).tobytes()).decode(), h, w)
            report = analyser.analyse(rgb).report
            ours = list(report.results)
            assert [r["name"] for r in got["results"]] == list(MEASURE_NAMES)   # the kiosk's priority order
            by_name = {r["name"]: r for r in got["results"]}
            for py in ours:
                br = by_name[py.name]
                assert py.assessed == br["assessed"], (name, py.name, br.get("detail"))
                if py.assessed and not near(py.raw, py.threshold):
                    assert py.passed == br["passed"], (name, py.name, py.raw, br["raw"])
                    # float32 landmarks in Python
                    rel, tol = RAW_TOL.get(py.name, (1e-6, 1e-9))
                    assert br["raw"] == pytest.approx(py.raw, rel=rel, abs=tol), (name, py.name)
                    compared += 1
                    if not py.passed:
                        failed.add(py.name)
                    if py.name in MESH_MEASURES:
                        meshed.add(py.name)
            # the one instruction: the first failure among the measures both sides run
            py_first = next((r.instruction for r in ours if not r.passed), None)
            if not any(r.assessed and near(r.raw, r.threshold) for r in ours):
                assert got["instruction"] == py_first, name
                instructions += py_first is not None
    assert compared >= 10 * len(frames) and instructions >= 3   # the scenes exercise failing measures
    assert {"brightness", "sharpness", "illumination_uniformity", "head_roll"} <= failed, failed
    assert meshed == set(MESH_MEASURES), meshed


MESH_JS = """
const [b64, h, w] = arguments;
const bin = atob(b64);
const rgb = new Uint8Array(bin.length);
for (let i = 0; i < bin.length; i++) rgb[i] = bin.charCodeAt(i);
const q = await import(new URL('core/quality.js', location.href).href);
const faces = q.subjectFirst(await window.__fs.detect(rgb, h, w));
if (!faces.length) return null;
const { mesh, note } = await window.__fs.faceMesh(rgb, h, w, faces[0]);
return { face: faces[0], mesh, note };
"""


def test_mesh_equals_the_kiosks(tablet_app, tablet_bundle, frames, capsys):
    """The browser's 468 points (ONNX, onnxruntime-web) against the kiosk's DenseLandmarker on the
    same tflite model (LiteRT), on the same detection, in frame pixels."""
    from facescreen.edge.assets import FACE_LANDMARK, asset_path
    from facescreen.edge.detect import FaceDetection
    from facescreen.kiosk.landmarks import DenseLandmarker
    from facescreen.kiosk.tablet.parity import browser_call, open_in_browser, static_server
    from facescreen.kiosk.tools.browser import Chrome

    landmarker = DenseLandmarker(asset_path(FACE_LANDMARK.name))
    worst, n = 0.0, 0
    with static_server(tablet_app) as url, Chrome() as chrome:
        open_in_browser(chrome, url)
        for name, rgb in frames.items():
            h, w = rgb.shape[:2]
            got = browser_call(chrome, MESH_JS, base64.b64encode(np.ascontiguousarray(rgb).tobytes()).decode(), h, w)
            if got is None:
                continue
            face = FaceDetection(tuple(got["face"]["box"]), got["face"]["confidence"], np.asarray(got["face"]["landmarks"]))
            want = landmarker(rgb, face)
            assert (want is None) == (got["mesh"] is None), (name, got["note"])
            if want is None:
                continue
            pts = np.asarray(got["mesh"]["points"])
            assert pts.shape == (468, 3)
            worst = max(worst, float(np.abs(pts - want.points).max()))
            assert got["mesh"]["presence"] == pytest.approx(want.presence, abs=1e-4), name
            n += 1
    with capsys.disabled():
        print(f"\nface mesh, browser vs kiosk on {n} frames: max |d| {worst:.2e} px")
    assert n >= 10 and worst < 0.05, (n, worst)


@pytest.mark.parametrize("scene,key", [("tilted", "head_level"), ("good_b", None)])
def test_guidance_loop_on_the_camera(tablet_app, scene_frames, tmp_path, scene, key):
    """The app's own guidance loop on Chromium's fake camera: a tilted head gets the mesh's
    instruction (pose runs in the page), a good frame is held and screened."""
    from facescreen.kiosk.messages import MESSAGES
    from facescreen.kiosk.tablet.parity import static_server
    from facescreen.kiosk.tools.browser import Chrome, write_y4m

    video = write_y4m(tmp_path / f"{scene}.y4m", [scene_frames[scene]] * 4)
    with static_server(tablet_app) as url, Chrome(fake_video=video) as c:
        c.get(url)
        if key is None:
            c.wait_for("document.body.dataset.state === 'result'", 180)
            assert c.script("return document.getElementById('result-label').innerText")
        else:
            want = MESSAGES["en"][key]
            c.wait_for(f"document.getElementById('instruction').innerText === {want!r}", 180)
