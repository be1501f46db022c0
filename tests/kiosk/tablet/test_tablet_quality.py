"""The browser's capture-quality measures (core/quality.js) against the kiosk's (kiosk.quality) on the
kiosk's scene frames (too far, too close, off centre, two faces, good ...): the same thresholds
(app.json's, from QualityConfig), and every measure's pass/fail identical wherever its raw value is
not within a small margin of its threshold; the one instruction identical too."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from facescreen.kiosk.tools.browser import browser_skip_reason

pytestmark = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))

MARGIN = 0.01  # relative distance from a threshold inside which either verdict is accepted

JS = """
const [b64, h, w] = arguments;
const bin = atob(b64);
const rgb = new Uint8Array(bin.length);
for (let i = 0; i < bin.length; i++) rgb[i] = bin.charCodeAt(i);
const q = await import(new URL('core/quality.js', location.href).href);
const faces = await window.__fs.detect(rgb, h, w);
return q.assess(faces, h, w, window.__fs.app.quality, q.modelInterEyePx(window.__fs.card));
"""


def near(raw: float, bound: dict) -> bool:
    if bound.get("min") is not None and bound.get("min") == bound.get("max"):
        return False  # an exact count (one face): no margin
    return any(v is not None and abs(raw - v) <= MARGIN * max(abs(v), 1e-9) for v in (bound.get("min"), bound.get("max")))


def framed(photo: np.ndarray, side: int, x: int, y: int, size=(480, 640)) -> np.ndarray:
    """``photo`` scaled to ``side`` pixels and placed with its top-left corner at (x, y) on grey."""
    import cv2

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
            "centred": framed(grace_hopper, 420, 110, 30)}


def test_measures_agree_with_the_kiosk(tablet_app, tablet_bundle, frames):
    from facescreen.kiosk.quality import FrameAnalyser, QualityConfig, model_inter_eye_px
    from facescreen.kiosk.tablet.export import BROWSER_MEASURES
    from facescreen.kiosk.tablet.parity import browser_call, open_in_browser, python_reference, static_server
    from facescreen.kiosk.tools.browser import Chrome

    app = json.loads((tablet_app / "app.json").read_text())
    assert app["quality"] == QualityConfig().model_dump()
    screener = python_reference(tablet_bundle, app["runtime"])
    analyser = FrameAnalyser(screener.detector, None, QualityConfig(),
                             model_iod_px=model_inter_eye_px(screener.align_config))
    compared = instructions = 0
    with static_server(tablet_app) as url, Chrome() as chrome:
        open_in_browser(chrome, url)
        for name, rgb in frames.items():
            h, w = rgb.shape[:2]
            got = browser_call(chrome, JS, base64.b64encode(np.ascontiguousarray(rgb).tobytes()).decode(), h, w)
            report = analyser.analyse(rgb).report
            ours = [report[m] for m in BROWSER_MEASURES]
            assert [r["name"] for r in got["results"]] == list(BROWSER_MEASURES)
            for py, br in zip(ours, got["results"]):
                assert py.assessed == br["assessed"], (name, py.name)
                if py.assessed and not near(py.raw, py.threshold):
                    assert py.passed == br["passed"], (name, py.name, py.raw, br["raw"])
                    assert br["raw"] == pytest.approx(py.raw, rel=1e-6), (name, py.name)  # float32 landmarks in Python
                    compared += 1
            # the one instruction: the first failure among the measures both sides run
            py_first = next((r.instruction for r in ours if not r.passed), None)
            if not any(r.assessed and near(r.raw, r.threshold) for r in ours):
                assert got["instruction"] == py_first, name
                instructions += py_first is not None
    assert compared >= 2 * len(frames) and instructions >= 3   # the scenes exercise failing measures
