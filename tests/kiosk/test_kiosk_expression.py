"""Mouth closed and eyes open, on photos whose state is known, and on synthetic variants.

Known states: the astronaut photo smiles with the lips apart and teeth showing (mouth OPEN, eyes
open); Grace Hopper's mouth is closed and her eyes are open (behind glasses). The synthetic
variants are honest about what they are: the astronaut's lower lip warped up onto the upper lip
(closed), and eyelids painted shut (in-painted skin and a lash line).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facescreen.edge import detect_faces

RIGHT_EYE_RING = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
LEFT_EYE_RING = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466]


def mesh_of(engine, rgb):
    face = max(detect_faces(rgb, engine.analyser.detector), key=lambda f: f.area)
    return engine.landmarker(rgb, face)


def close_mouth(rgb: np.ndarray, mesh, overshoot: float = 1.2) -> np.ndarray:
    """Pull the lower lip (and the chin below it, fading out) up onto the upper lip."""
    top, bottom = mesh.xy("lip_upper_inner")[1], mesh.xy("lip_lower_inner")[1]
    cx = (mesh.xy("mouth_left")[0] + mesh.xy("mouth_right")[0]) / 2
    width = mesh.dist("mouth_left", "mouth_right")
    gap = (bottom - top) * overshoot
    h, w = rgb.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    wx = np.exp(-(((xs - cx) / (0.6 * width)) ** 4))
    wy = np.clip(1 - (ys - top) / (gap + 0.8 * width), 0, 1) * (ys >= top - 1)
    return cv2.remap(
        rgb, xs, (ys + gap * wx * wy).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101
    )


def paint_eyes_shut(rgb: np.ndarray, mesh) -> np.ndarray:
    out = rgb.copy()
    for ring in (RIGHT_EYE_RING, LEFT_EYE_RING):
        pts = mesh.points[ring, :2]
        c = pts.mean(0)
        mask = np.zeros(rgb.shape[:2], np.uint8)
        cv2.fillPoly(mask, [((pts - c) * 1.6 + c).round().astype(np.int32)], 255)
        out = cv2.inpaint(out, mask, 7, cv2.INPAINT_NS)
        lash = (pts[:9] * 0.65 + pts[[0, 15, 14, 13, 12, 11, 10, 9, 8]] * 0.35).round().astype(np.int32)
        cv2.polylines(out, [lash], False, (70, 50, 45), 2, cv2.LINE_AA)
    return out


def test_astronaut_open_mouth_fails_and_grace_hopper_closed_mouth_passes(engine, astronaut, grace_hopper):
    a = engine.analyse(astronaut).report["mouth_closed"]
    g = engine.analyse(grace_hopper).report["mouth_closed"]
    assert a.passed is False and a.instruction == "close_mouth" and a.raw > 0.055, a
    assert g.passed is True and g.raw < 0.02, g


def test_synthetically_closed_astronaut_mouth_passes(engine, astronaut):
    closed = close_mouth(astronaut, mesh_of(engine, astronaut))
    r = engine.analyse(closed).report["mouth_closed"]
    assert r.passed is True, r
    assert r.raw < 0.6 * engine.analyse(astronaut).report["mouth_closed"].raw


def test_the_guidance_gives_close_mouth_when_only_the_mouth_fails(engine, astronaut):
    """The astronaut's chin is also lowered (pitch about -11 degrees, above the 10 degree default),
    so this frame is judged with a pitch tolerance of 15 degrees to leave the mouth the only failure."""
    from facescreen.kiosk.quality import FrameAnalyser, QualityConfig
    from facescreen.kiosk.scenes import Scene, compose

    frame = compose(Scene("astronaut", source="astronaut"), photo=astronaut)
    a = engine.analyser
    lenient = FrameAnalyser(a.detector, a.landmarker, QualityConfig(max_pitch_deg=15.0), model_iod_px=a.model_iod_px)
    report = lenient.analyse(frame).report
    assert [r.name for r in report.results if not r.passed] == ["mouth_closed"]
    assert report.instruction == "close_mouth"


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_known_open_eyes_pass(engine, photo, request):
    r = engine.analyse(request.getfixturevalue(photo)).report["eyes_open"]
    assert r.passed is True and r.raw > 0.24, r


@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_painted_shut_eyes_fail(engine, photo, request):
    """Eyelids painted shut (the attention mesh's refined eye contours follow them): the measure
    fails and asks to open the eyes. Real closed-eye photos have not been available."""
    rgb = request.getfixturevalue(photo)
    shut = engine.analyse(paint_eyes_shut(rgb, mesh_of(engine, rgb))).report
    r = shut["eyes_open"]
    import tf_free

    # a clear margin below the 0.20 threshold with the reference detector's landmarks; the converted
    # detector's (the TensorFlow-free run) put the eye region a little differently: 0.19, still failing
    assert r.passed is False and r.raw < (0.2 if tf_free.TF_FREE else 0.17), r
    assert r.instruction is not None
