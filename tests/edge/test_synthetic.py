"""The synthetic cohort: real source photos, a planted signal that survives detection."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from facescreen.edge.synthetic import (
    SOURCE_LANDMARKS,
    SYNTHETIC_NOTICE,
    CohortConfig,
    make_cohort,
    make_subject,
    plant_geometry,
    source_photo,
)


@pytest.mark.parametrize("name", sorted(SOURCE_LANDMARKS))
def test_source_landmarks_match_the_detector(name, mtcnn_detector):
    faces = mtcnn_detector.detect(source_photo(name))
    assert len(faces) == 1
    np.testing.assert_allclose(faces[0].landmarks, SOURCE_LANDMARKS[name], atol=2.0)


def _horizontal_shift(a: np.ndarray, b: np.ndarray, centre: np.ndarray, half=(14, 10), search=16) -> int:
    """How far (px) the patch of ``a`` around ``centre`` moved horizontally in ``b``."""
    import cv2

    x, y = np.round(centre).astype(int)
    patch = a[y - half[1] : y + half[1], x - half[0] : x + half[0]]
    window = b[y - half[1] : y + half[1], x - half[0] - search : x + half[0] + search]
    scores = cv2.matchTemplate(window, patch, cv2.TM_CCOEFF_NORMED)[0]
    return int(np.argmax(scores)) - search


def test_planted_geometry_survives_detection_and_alignment(grace_hopper, mtcnn_detector):
    """MTCNN's landmark regressor barely follows the widened eyes (it leans to a mean face), so the
    signal stays in the aligned pixels: the eyes of the planted crop sit further apart."""
    from facescreen.edge import DEFAULT_TEMPLATE, prepare_face

    planted = plant_geometry(grace_hopper, SOURCE_LANDMARKS["grace_hopper"], eye_widen=0.15, mouth_widen=0.2)
    a = prepare_face(grace_hopper, mtcnn_detector).aligned.image
    b = prepare_face(planted, mtcnn_detector).aligned.image
    eyes = DEFAULT_TEMPLATE.pixels(224)[:2]
    left, right = (_horizontal_shift(a, b, e) for e in eyes)
    assert right - left >= 3, (left, right)  # eye separation grew by >= 3 px of ~48 at 224
    c = prepare_face(plant_geometry(grace_hopper, SOURCE_LANDMARKS["grace_hopper"], 0.0, 0.0), mtcnn_detector)
    left, right = (_horizontal_shift(a, c.aligned.image, e) for e in eyes)
    assert abs(right - left) <= 1, (left, right)


def test_subjects_vary_and_are_reproducible():
    cfg = CohortConfig(image_size=256)
    a = make_subject(np.random.default_rng(3), "astronaut", True, cfg)
    b = make_subject(np.random.default_rng(3), "astronaut", True, cfg)
    c = make_subject(np.random.default_rng(4), "astronaut", True, cfg)
    assert a.shape == (256, 256, 3)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 5


def test_cohort_manifest_and_notice(tmp_path):
    manifest = make_cohort(tmp_path, CohortConfig(n_per_class=3, image_size=128))
    rows = list(csv.DictReader(open(manifest)))
    assert len(rows) == 6 and {r["label"] for r in rows} == {"control", "syndromic"}
    assert len({r["subject_id"] for r in rows}) == 6  # one photo per subject
    assert {r["source_photo"] for r in rows} == {"astronaut", "grace_hopper"}
    assert all((tmp_path / r["path"]).is_file() for r in rows)
    assert SYNTHETIC_NOTICE in (tmp_path / "README.txt").read_text()


def test_unknown_source_photo():
    with pytest.raises(ValueError, match="unknown sample photo"):
        source_photo("mona_lisa")


@pytest.mark.parametrize(
    "argv, told",
    [
        (["--n-per-class", "0"], "n_per_class must be at least 1, got 0"),
        (["--image-size", "5"], "image_size must be 64 to 4096 pixels, got 5"),
    ],
)
def test_a_cohort_that_cannot_be_made_is_refused_and_nothing_written(tmp_path, capsys, argv, told):
    """--n-per-class 0 wrote an empty cohort.csv, then an IndexError; the next run kept the empty one."""
    from facescreen.edge.synthetic import main

    with pytest.raises(SystemExit) as stop:
        main(["--out", str(tmp_path / "cohort"), *argv])
    assert stop.value.code == 2 and told in capsys.readouterr().err
    assert not (tmp_path / "cohort").exists()
