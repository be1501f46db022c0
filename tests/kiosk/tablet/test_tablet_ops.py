"""The browser's MTCNN arithmetic and alignment (kiosk/tablet/web/core/*.js), pinned operation by
operation in real headless Chromium against the Python functions they port
(edge/detectors/mtcnn_cascade.py, edge/align.py and the OpenCV calls those make), as the
TensorFlow-free MTCNN port was pinned against the mtcnn package."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from page_modules import bridge, f32, u8

from facescreen.edge.align import DEFAULT_TEMPLATE, align_face, similarity_transform
from facescreen.edge.detectors import mtcnn_cascade as mc
from facescreen.kiosk.tools.browser import browser_skip_reason

pytestmark = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))

CFG = mc.CascadeConfig()


@pytest.fixture(scope="module")
def js(harness_page):
    return bridge(harness_page)


@pytest.fixture(scope="module")
def photo(astronaut):
    """256 px: large enough for several pyramid levels, small enough to pass to the page quickly."""
    return cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def image(photo):
    return mc.normalise(photo)


def test_normalise(js, photo, image):
    got = np.asarray(js("mtcnn", "normalise", u8(photo)), np.float32).reshape(image.shape)
    np.testing.assert_array_equal(got, image)


@pytest.mark.parametrize("h,w", [(512, 512), (480, 640), (600, 512), (13, 900), (20, 20), (11, 50)])
def test_scale_pyramid_and_shapes(js, h, w):
    want = mc.scale_pyramid(h, w, CFG)
    got = js("mtcnn", "scalePyramid", h, w, CFG.to_dict())
    np.testing.assert_allclose(got, want, rtol=1e-14)
    for s in want:
        assert tuple(js("mtcnn", "scaledShape", h, w, float(s))) == mc.scaled_shape(h, w, s)


def test_resize_area_every_pyramid_level(js, image):
    h, w = image.shape[:2]
    for s in mc.scale_pyramid(h, w, CFG):
        shape = mc.scaled_shape(h, w, s)
        if min(shape) < mc.PNET_CELL:
            continue
        want = mc.resize_area(image, shape)
        got = np.asarray(js("mtcnn", "resizeArea", f32(image), h, w, 3, *shape), np.float32).reshape(want.shape)
        assert np.abs(got - want).max() < 1e-6, shape


def test_resize_area_uint8_photo_downscale(js, photo):
    # detect_faces shrinks a large photo (uint8, INTER_AREA) before detection; integer and fractional factors
    for shape in [(128, 128), (150, 170), (171, 97)]:
        want = cv2.resize(photo, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        got = np.asarray(js("mtcnn", "resizeArea", u8(photo), 256, 256, 3, *shape, True), np.uint8).reshape(want.shape)
        assert np.abs(got.astype(int) - want).max() <= 1, shape


BOXES = np.array(
    [
        [50.3, 25.7, 150.2, 125.9],
        [-10.5, 20.2, 90.1, 120.3],
        [200.2, 210.1, 265.3, 275.6],
        [0.0, 0.0, 255.0, 255.0],
        [100.5, 100.5, 112.25, 130.75],
    ]
)


@pytest.mark.parametrize("size", [24, 48])
def test_crop_and_resize(js, image, size):
    want = mc.crop_and_resize(image, BOXES, size)
    got = np.asarray(js("mtcnn", "cropAndResize", f32(image), 256, 256, BOXES.tolist(), size), np.float32)
    np.testing.assert_array_equal(got.reshape(want.shape), want)


def _pnet_inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    h, w = 37, 41
    reg = rng.normal(0, 0.2, (h, w, 4)).astype(np.float32)
    prob = rng.uniform(0, 1, (h, w)).astype(np.float32)
    prob[3, 4] = np.float32(0.6)  # exactly at the threshold: not a proposal (float32 comparison)
    return reg, prob, h, w


def test_pnet_boxes_and_scores(js):
    reg, prob, h, w = _pnet_inputs()
    boxes, scores = mc.pnet_boxes(reg, prob, CFG.threshold_pnet, 0.35)
    got = js("mtcnn", "pnetBoxes", f32(reg), f32(prob), h, w, CFG.threshold_pnet, 0.35)
    np.testing.assert_allclose(np.asarray(got["boxes"]).reshape(-1, 4), boxes, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["scores"], scores, rtol=0, atol=0)


@pytest.mark.parametrize("method,threshold", [("union", 0.5), ("union", 0.7), ("min", 0.7)])
def test_suppress_and_nms(js, method, threshold):
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 200, (120, 2))
    side = rng.uniform(10, 60, (120, 1))
    boxes = np.hstack([xy, xy + side])
    scores = rng.uniform(0, 1, 120)
    assert js("mtcnn", "suppress", boxes.tolist(), threshold, method) == mc.suppress(boxes, threshold, method).tolist()
    kb, ks, _ = mc.nms(boxes, scores, threshold, method)
    got = js("mtcnn", "nms", boxes.tolist(), scores.tolist(), threshold, method, True, None)
    np.testing.assert_allclose(np.asarray(got["boxes"]).reshape(-1, 4), kb)
    np.testing.assert_allclose(got["scores"], ks)


def test_box_arithmetic(js):
    rng = np.random.default_rng(5)
    offsets = rng.normal(0, 0.1, (len(BOXES), 4)).astype(np.float32)
    landmarks = rng.uniform(0, 1, (len(BOXES), 10)).astype(np.float32)
    np.testing.assert_allclose(js("mtcnn", "toSquare", BOXES.tolist()), mc.to_square(BOXES), atol=1e-9)
    np.testing.assert_allclose(
        js("mtcnn", "applyOffsets", BOXES.tolist(), f32(offsets)), mc.apply_offsets(BOXES, offsets), atol=1e-9
    )
    np.testing.assert_allclose(
        js("mtcnn", "placeLandmarks", f32(landmarks), BOXES.tolist()), mc.place_landmarks(landmarks, BOXES), atol=1e-9
    )
    fitted = mc.fit_to_image(BOXES, 512, 480)
    np.testing.assert_allclose(js("mtcnn", "fitToImage", BOXES.tolist(), 512, 480), fitted)
    lm = mc.place_landmarks(landmarks, BOXES) + 0.5  # halves: round half to even on both sides
    wb, wl = mc.whole_pixels(fitted, lm)
    got = js("mtcnn", "wholePixels", fitted.tolist(), lm.tolist())
    np.testing.assert_array_equal(got["boxes"], wb)
    np.testing.assert_array_equal(got["landmarks"], wl)


def test_similarity_transform(js):
    rng = np.random.default_rng(7)
    for _ in range(5):
        src = rng.uniform(50, 400, (5, 2))
        dst = DEFAULT_TEMPLATE.pixels(112)
        np.testing.assert_allclose(
            js("align", "similarityTransform", src.tolist(), dst.tolist()),
            similarity_transform(src, dst),
            rtol=1e-9,
            atol=1e-9,
        )


@pytest.mark.parametrize("h,w", [(256, 256), (201, 157), (9, 8)])
def test_pyr_down(js, photo, h, w):
    src = np.ascontiguousarray(photo[:h, :w])
    want = cv2.pyrDown(src)
    got = js("align", "pyrDown", u8(src), h, w)
    np.testing.assert_array_equal(np.asarray(got["data"], np.uint8).reshape(want.shape), want)


def test_warp_affine_fixed_point(js, photo):
    m = np.array([[0.31 * np.cos(0.3), -0.31 * np.sin(0.3), -12.3], [0.31 * np.sin(0.3), 0.31 * np.cos(0.3), 20.7]])
    want = cv2.warpAffine(photo, m, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    got = np.asarray(js("align", "warpAffine", u8(photo), 256, 256, m.tolist(), 112), np.uint8).reshape(want.shape)
    np.testing.assert_array_equal(got, want)


ASTRONAUT_LANDMARKS = np.array([[190.2, 210.7], [290.1, 205.3], [240.4, 262.2], [200.8, 310.5], [285.6, 306.9]])


def _align_both(js, src, lm, size):
    want = align_face(src, lm, size, DEFAULT_TEMPLATE)
    h, w = src.shape[:2]
    got = js("align", "alignFace", u8(src), h, w, lm.tolist(), size, [list(p) for p in DEFAULT_TEMPLATE.points])
    np.testing.assert_array_equal(np.asarray(got["image"], np.uint8).reshape(want.image.shape), want.image)
    np.testing.assert_allclose(got["matrix"], want.matrix, atol=1e-9)


@pytest.mark.parametrize("size,face_scale", [(112, 1.0), (224, 1.0), (64, 1.0), (112, 0.25)])
def test_align_face_pixel_for_pixel(js, astronaut, size, face_scale):
    # a large face in the photo takes the pyrDown path (the warp shrinks by more than 2x), once or twice
    src = astronaut if face_scale == 1.0 else cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    _align_both(js, src, ASTRONAUT_LANDMARKS * face_scale, size)


# alignFace computes each pyramid level only over the rectangle the next step reads: faces at the
# photo's borders (the crop runs off it: reflected pyrDown taps, replicated warp), odd sides, a
# rotation and three or four halvings, each pixel for pixel against OpenCV's whole-image pyramid
ROI_CASES = {
    # name: (crop size, photo rows, photo columns, face scale, rotation in degrees, landmark shift in pixels)
    "top-left, off the photo": (24, 512, 512, 1.0, 0, (-185, -200)),
    "bottom-right, odd sides": (32, 501, 437, 1.0, 0, (140, 185)),
    "rotated at the right edge": (20, 512, 512, 1.0, 35, (215, 0)),
    "small face inside the photo": (16, 512, 512, 0.5, 10, (0, 0)),
}


@pytest.mark.parametrize("case", ROI_CASES)
def test_align_face_computes_only_the_pixels_read(js, astronaut, case):
    size, rows, cols, face_scale, degrees, shift = ROI_CASES[case]
    centre = ASTRONAUT_LANDMARKS.mean(axis=0)
    t = np.deg2rad(degrees)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    lm = (ASTRONAUT_LANDMARKS - centre) @ rot.T * face_scale + centre + shift
    _align_both(js, np.ascontiguousarray(astronaut[:rows, :cols]), lm, size)


# ---- capture-quality image measures (core/quality.js <- kiosk/quality/base.py, image.py) ----------


def test_gray_is_opencvs(js, photo):
    got = np.asarray(js("quality", "toGray", u8(photo), *photo.shape[:2]), np.uint8).reshape(photo.shape[:2])
    np.testing.assert_array_equal(got, cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY))


def test_inner_face_region(js):
    from facescreen.edge.detect import FaceDetection
    from facescreen.kiosk.quality import FrameContext, QualityConfig

    for lm, (h, w) in [
        ([[100.3, 120.7], [160.2, 118.1], [131.5, 150.2], [108.9, 180.4], [152.6, 179.9]], (480, 640)),
        ([[3.5, 10.2], [40.1, 12.9], [20.0, 30.3], [8.8, 45.5], [35.2, 44.1]], (60, 50)),
    ]:
        face = FaceDetection((0, 0, w, h), 0.99, np.asarray(lm, np.float32))
        ctx = FrameContext(np.zeros((h, w, 3), np.uint8), (face,), QualityConfig())
        assert tuple(js("quality", "innerFace", np.asarray(lm, np.float32).tolist(), h, w)) == ctx.inner_face


@pytest.mark.parametrize("shape,dst", [((60, 90), (85, 128)), ((33, 70), (60, 128)), ((100, 127), (101, 128))])
def test_resize_linear_u8(js, shape, dst):
    """OpenCV's uint8 INTER_LINEAR: equal except +-1 on some pixels of the first and last rows."""
    g = np.random.default_rng(sum(shape)).integers(0, 256, shape).astype(np.uint8)
    want = cv2.resize(g, dst[::-1], interpolation=cv2.INTER_LINEAR)
    got = np.asarray(js("quality", "resizeLinearU8", u8(g), *shape, *dst), np.uint8).reshape(dst)
    np.testing.assert_array_equal(got[1:-1], want[1:-1])
    assert np.abs(got.astype(int) - want).max() <= 1


@pytest.mark.parametrize("side", [60, 128, 200])
def test_sharpness_and_laplacian(js, photo, side):
    from facescreen.kiosk.quality.image import sharpness

    g = cv2.resize(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), (side, side * 3 // 4), interpolation=cv2.INTER_AREA)
    lap = js("quality", "laplacianVar", u8(g), *g.shape)
    assert lap == pytest.approx(float(cv2.Laplacian(g, cv2.CV_64F).var()), rel=1e-12)
    tol = 0 if side >= 128 else 1e-2  # the enlarging resize's border rows (test_resize_linear_u8)
    assert js("quality", "sharpness", u8(g), *g.shape) == pytest.approx(sharpness(g), rel=max(tol, 1e-12))


# ---- the face mesh's crop, mapping and head pose (core/mesh.js <- kiosk/landmarks.py, quality/pose.py) ----

MESH_FACES = [
    ((120.0, 90.0, 260.0, 250.0), [[160.5, 150.25], [221.75, 141.0], [190.0, 185.5], [168.0, 215.0], [215.0, 210.0]]),
    ((10.0, 5.0, 110.0, 120.0), [[40.0, 50.0], [80.0, 58.0], [60.0, 75.0], [45.0, 95.0], [78.0, 100.0]]),
]


@pytest.mark.parametrize("box,lm", MESH_FACES)
def test_mesh_crop(js, photo, box, lm):
    from facescreen.edge.detect import FaceDetection
    from facescreen.kiosk.landmarks import INPUT_SIZE, roi_matrix

    m = roi_matrix(FaceDetection(box, 0.99, np.asarray(lm, np.float32)))
    got_m = np.asarray(js("mesh", "roiMatrix", list(box), lm))
    np.testing.assert_allclose(got_m, m, rtol=1e-6, atol=1e-5)  # numpy's float32 arctan2: within an ulp
    want = (
        cv2.warpAffine(
            photo, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ).astype(np.float32)
        / 255.0
    )
    got = np.asarray(js("mesh", "meshInput", u8(photo), *photo.shape[:2], m.tolist()), np.float32).reshape(want.shape)
    np.testing.assert_array_equal(got, want)


def test_mesh_mapping_and_pose(js):
    from facescreen.edge.detect import FaceDetection
    from facescreen.kiosk.landmarks import FaceMesh, roi_matrix
    from facescreen.kiosk.quality import head_pose
    from facescreen.kiosk.quality.expression import EyesOpen, MouthClosed

    box, lm = MESH_FACES[0]
    m = roi_matrix(FaceDetection(box, 0.99, np.asarray(lm, np.float32)))
    rng = np.random.default_rng(3)
    pts = (rng.uniform(20, 170, (468, 3)) * [1, 1, 0.2]).astype(np.float32)
    got = js("mesh", "mapBack", f32(pts.ravel()), 2.5, m.tolist())
    inv = cv2.invertAffineTransform(m)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    p64 = pts.astype(np.float64)  # as _PlainMesh returns them
    want = np.column_stack([p64[:, :2] @ inv[:, :2].T + inv[:, 2], p64[:, 2] / scale])
    np.testing.assert_allclose(np.asarray(got["points"]), want, rtol=1e-9, atol=1e-9)
    assert got["presence"] == pytest.approx(1 / (1 + np.exp(-2.5)), rel=1e-12)
    assert js("mesh", "mapBack", f32(pts.ravel()), -0.5, m.tolist()) is None  # presence below 0.5: no mesh
    mesh = FaceMesh(want, got["presence"])
    pose = js("mesh", "headPose", want.tolist())
    hp = head_pose(mesh)
    assert (pose["roll"], pose["yaw"], pose["pitch"]) == pytest.approx((hp.roll, hp.yaw, hp.pitch), rel=1e-9, abs=1e-9)

    class Ctx:
        pass

    ctx = Ctx()
    ctx.mesh = mesh
    assert js("mesh", "eyesOpen", want.tolist()) == pytest.approx(EyesOpen().raw(ctx), rel=1e-12)
    assert js("mesh", "mouthGap", want.tolist()) == pytest.approx(MouthClosed().raw(ctx), rel=1e-12)


@pytest.mark.parametrize("find", ["default", "baseline", "small_faces"])
@pytest.mark.parametrize("height,full_size", [(480, False), (480, True), (150, False), (1080, False)])
def test_detect_config(js, find, height, full_size):
    """core/screen.js detectConfig = kiosk.tracking.FindConfig.detect_config: the smallest face from
    the quality config (at least the detector's 20 px), reduced only for a guidance frame."""
    from dataclasses import asdict

    from facescreen.edge.detect import DetectConfig
    from facescreen.kiosk.quality import QualityConfig
    from facescreen.kiosk.tracking import FindConfig

    cfg = {
        "default": FindConfig(),
        "baseline": FindConfig.baseline(),
        "small_faces": FindConfig(min_face_of_min_head=0.1, work_face_px=60),
    }[find]
    base, quality = DetectConfig(), QualityConfig()
    got = js("screen", "detectConfig", cfg.model_dump(), asdict(base), quality.model_dump(), height, full_size)
    assert got == asdict(cfg.detect_config(base, quality, height, full_size))
