"""Detection and five-point alignment on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facescreen.edge import (
    DEFAULT_TEMPLATE,
    AlignConfig,
    NoFaceError,
    PhotoError,
    align_face,
    find_face,
    prepare_face,
    similarity_transform,
)
from facescreen.edge.detect import DetectConfig, FaceDetection


def rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, t = np.deg2rad(23), 1.7, np.array([5.0, -3.0])
    r = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    m = similarity_transform(src, src @ r.T + t)
    np.testing.assert_allclose(m[:, :2], r, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)


def test_similarity_transform_rejects_degenerate_points():
    with pytest.raises(ValueError, match="degenerate"):
        similarity_transform(np.ones((5, 2)), DEFAULT_TEMPLATE.pixels(224))


def _assert_lands_on_template(aligned, detector, tol_eyes: float = 6.0, tol_all: float = 11.0):
    """Re-detect on the crop: landmarks must sit where the warp put them and near the template.

    A similarity transform has 4 degrees of freedom for 10 coordinates, so an individual face keeps
    a residual against the template (a few pixels at 224); that residual is facial shape, which is
    exactly what the screener is meant to see."""
    faces = detector.detect(aligned.image)
    assert len(faces) >= 1
    redetected = max(faces, key=lambda f: f.area).landmarks
    assert np.abs(redetected - aligned.landmarks).max() < 3.0  # warp is where the detector agrees
    err = np.linalg.norm(redetected - DEFAULT_TEMPLATE.pixels(aligned.size), axis=1)
    assert err[:2].max() < tol_eyes, err  # both eyes within a few pixels of the template
    assert err.max() < tol_all, err  # nose and mouth: the similarity fit's residual for this face


@pytest.mark.parametrize("degrees", [0, 20, -20])
def test_alignment_on_a_real_photo(astronaut, mtcnn_detector, degrees):
    prepared = prepare_face(rotate(astronaut, degrees), mtcnn_detector)
    assert prepared.aligned.image.shape == (224, 224, 3) and prepared.aligned.image.dtype == np.uint8
    assert prepared.n_faces == 1
    _assert_lands_on_template(prepared.aligned, mtcnn_detector)


def test_rotated_photo_aligns_like_the_upright_one(astronaut, mtcnn_detector):
    a = prepare_face(astronaut, mtcnn_detector).aligned.image.astype(float)
    b = prepare_face(rotate(astronaut, 20), mtcnn_detector).aligned.image.astype(float)
    centre = slice(56, 168)
    assert np.abs(a[centre, centre] - b[centre, centre]).mean() < 12.0


def test_phone_sized_photo_detects_downscaled_and_warps_full_resolution(grace_hopper, mtcnn_detector):
    big = cv2.resize(grace_hopper, (3024, 3544), interpolation=cv2.INTER_CUBIC)
    big = np.ascontiguousarray(np.pad(big, ((244, 244), (0, 0), (0, 0)), mode="edge"))  # 3024 x 4032
    assert big.shape[:2] == (4032, 3024)
    prepared = prepare_face(big, mtcnn_detector)
    assert prepared.photo_shape == (4032, 3024)
    x1, y1, x2, y2 = prepared.detection.box
    assert x2 - x1 > 700  # box reported in full-resolution pixels
    _assert_lands_on_template(prepared.aligned, mtcnn_detector, tol_eyes=5.0, tol_all=10.0)


def test_crop_maps_back_to_the_photo(astronaut, mtcnn_detector):
    prepared = prepare_face(astronaut, mtcnn_detector)
    back = prepared.aligned.to_photo(prepared.aligned.landmarks)
    np.testing.assert_allclose(back, prepared.detection.landmarks, atol=1e-3)


def test_alignment_size_follows_the_config(astronaut, mtcnn_detector):
    prepared = prepare_face(astronaut, mtcnn_detector, AlignConfig(size=112))
    assert prepared.aligned.image.shape == (112, 112, 3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.full((300, 300, 3), 127, np.uint8),
        lambda: np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8),
    ],
)
def test_no_face_is_a_typed_error(mtcnn_detector, make):
    with pytest.raises(NoFaceError, match="no face"):
        prepare_face(make(), mtcnn_detector)


def test_not_an_image_is_a_typed_error(mtcnn_detector, tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("hello")
    with pytest.raises(PhotoError):
        prepare_face(p, mtcnn_detector)


class _FakeDetector:
    name = "fake"

    def __init__(self, faces):
        self.faces = faces

    def detect(self, rgb, min_face_size=None):
        return self.faces


def _face(x, size, conf):
    lm = np.array(
        [[x + 0.3 * size, 40], [x + 0.7 * size, 40], [x + 0.5 * size, 55], [x + 0.35 * size, 70], [x + 0.65 * size, 70]]
    )
    return FaceDetection((x, 10, x + size, 10 + size), conf, lm)


def test_largest_confident_face_is_kept_and_faces_are_counted():
    small, big, weak = _face(0, 50, 0.99), _face(100, 90, 0.95), _face(200, 120, 0.5)
    found = find_face(
        np.zeros((300, 400, 3), np.uint8), _FakeDetector([small, big, weak]), DetectConfig(min_confidence=0.9)
    )
    assert found.face == big and found.n_faces == 2


def test_detection_validates_its_fields():
    with pytest.raises(ValueError, match=r"\(5, 2\)"):
        FaceDetection((0, 0, 1, 1), 0.9, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="confidence"):
        FaceDetection((0, 0, 1, 1), 1.5, np.zeros((5, 2)))


def test_align_face_direct(astronaut):
    from facescreen.edge.synthetic import SOURCE_LANDMARKS

    aligned = align_face(astronaut, SOURCE_LANDMARKS["astronaut"], 224)
    m = aligned.matrix
    assert m.shape == (2, 3)
    np.testing.assert_allclose(aligned.landmarks[:2], DEFAULT_TEMPLATE.pixels(224)[:2], atol=6)
