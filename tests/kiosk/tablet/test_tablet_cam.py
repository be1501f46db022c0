"""The browser's activation map (kiosk/tablet/web/core/cam.js) pinned in real headless Chromium against
the Python it ports: edge.postprocess.screening_cam (positive-minus-negative evidence, OpenCV's
INTER_CUBIC resize to the input size, scaled to [0, 1]) and overlay_cam (OpenCV's COLORMAP_JET,
blended at alpha 0.45), on class-logit maps of the model's shapes and on a real model's own output.

What is compared, and why these tolerances:
* the map: cv2.resize works in float32 (its cubic weights and sums rounded to float32 at each of the
  two passes); the port works in doubles with the same kernel (A = -0.75), pixel-centre alignment and
  replicated edge. The maps are compared value by value after the [0, 1] scaling, to 1e-5 (float32's
  rounding over two 4-tap passes, amplified by the scaling's 1 / (max - min)), and their hottest pixel
  must be the same one;
* the colours: cv2.applyColorMap's JET table against the port's formula, every one of the 256 levels,
  to one level per channel (OpenCV interpolates a sampled jet and rounds);
* the overlay: to 1 level where the map picks the same colour level; a map value within float32
  rounding of a level boundary (cam * 255 truncated) may pick the neighbouring level, which moves a
  pixel by at most alpha * (one level's largest colour step) + 1."""

from __future__ import annotations

import functools
import inspect

import cv2
import numpy as np
import pytest
from page_modules import bridge, f32

from facescreen.edge.postprocess import overlay_cam, screening_cam
from facescreen.kiosk.tools.browser import browser_skip_reason

pytestmark = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))

MAP_ATOL = 1e-5


@pytest.fixture(scope="module")
def js(harness_page):
    return functools.partial(bridge(harness_page), "cam")


def js_cam(js, cam: np.ndarray, positive: list[int], size: int) -> np.ndarray:
    """The port's map for one (h, w, K) class-logit map, as the model outputs it (1, h, w, K)."""
    h, w, k = cam.shape
    return np.asarray(js("screeningCam", f32(cam), [1, h, w, k], positive, size), np.float32).reshape(size, size)


def assert_same_map(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_allclose(got, want, rtol=0, atol=MAP_ATOL)
    assert np.unravel_index(got.argmax(), got.shape) == np.unravel_index(want.argmax(), want.shape)


# (h, w, K, positive indices, input size): VGG-16 at 224 (7x7), ResNet-18 at 64 (2x2), three classes
# with two positive, an odd upscale, and a map of one cell (flat: all zeros)
CASES = [(7, 7, 2, [1], 224), (2, 2, 2, [1], 64), (7, 7, 3, [1, 2], 224), (5, 5, 3, [0], 97), (1, 1, 2, [1], 32)]


@pytest.mark.parametrize("h,w,k,positive,size", CASES)
def test_screening_cam_equals_python(js, h, w, k, positive, size):
    rng = np.random.default_rng(h * 100 + size)
    cam = (rng.normal(0, 3, (h, w, k)) + rng.normal(0, 1, (h, w, 1))).astype(np.float32)
    want = screening_cam(cam, positive, size)
    got = js_cam(js, cam, positive, size)
    if h * w == 1:
        assert not want.any() and not got.any()  # flat evidence: no map, not noise scaled up
    else:
        assert_same_map(got, want)


def test_jet_is_opencvs_colour_map(js):
    want = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[None, :], cv2.COLORMAP_JET)[0, :, ::-1].astype(int)
    got = np.array([js("jet", v) for v in range(256)])
    assert np.abs(got - want).max() <= 1
    assert list(got[0]) == [0, 0, 128] and list(got[255]) == [128, 0, 0]  # dark blue low, dark red high


def test_constants_are_pythons(js):
    from facescreen.edge.postprocess import CAM_FLAT_RTOL

    assert js("CAM_ALPHA") == inspect.signature(overlay_cam).parameters["alpha"].default
    assert js("CAM_FLAT_RTOL") == CAM_FLAT_RTOL


@pytest.mark.parametrize("value", [0.0, 3.7, -250.0])
def test_a_flat_map_is_no_map_on_both_sides(js, value):
    """A constant evidence map (a 1x1 map, or equal evidence everywhere) resized in float32 keeps
    rounding noise; scaled to [0, 1] that noise was shown as a pattern. Both sides show none."""
    cam = np.zeros((3, 3, 2), np.float32)
    cam[..., 1] = value
    assert not screening_cam(cam, [1], 64).any()
    assert not js_cam(js, cam, [1], 64).any()


def test_overlay_equals_python(js):
    rng = np.random.default_rng(3)
    size = 64
    face = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    cam01 = screening_cam(rng.normal(0, 2, (2, 2, 2)).astype(np.float32), [1], size)
    want = overlay_cam(face, cam01).astype(int)
    got = np.array(js("overlayCam", [int(v) for v in face.ravel()], f32(cam01)), dtype=int).reshape(size, size, 3)
    diff = np.abs(got - want)
    assert diff.max() <= 1 + int(np.ceil(0.45 * 4)), diff.max()  # a neighbouring level's colour, at most
    assert (diff <= 1).mean() > 0.99


def test_the_map_of_a_real_models_output_equals_python(js, kiosk_bundle, grace_hopper):
    """The same model output on both sides: the bundle's screener run by the edge runtime on a real
    face, its raw class-logit map handed to the port, against the map ScreeningResult carries."""
    from facescreen.edge import create_screener

    screener = create_screener(kiosk_bundle)
    result = screener.screen(grace_hopper)
    face = result.face_crop
    _, cam = screener.predict(face[None])
    positive = [screener.card.classes.index(c) for c in screener.card.positive_classes]
    assert result.cam is not None and cam.ndim == 4
    assert_same_map(js_cam(js, cam[0], positive, screener.card.input.size), result.cam)
