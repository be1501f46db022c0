"""The alignment cache: every photo through edge.pipeline.prepare_face once, every failure listed
with its reason, nothing dropped silently, and re-runs served from the cache."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facescreen.edge.detect import FaceDetection
from facescreen.edge.pipeline import AlignConfig
from facescreen.training.data.align_cache import AlignmentCache, write_issues_csv
from facescreen.training.data.manifest import Photo

LANDMARKS = np.array([[40, 50], [80, 50], [60, 70], [45, 90], [75, 90]], dtype=np.float32)


class ColourDetector:
    """A scripted detector: the photo's colour says what it "finds"; counts its calls."""

    name = "scripted"

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, rgb: np.ndarray, min_face_size: int | None = None) -> list[FaceDetection]:
        self.calls += 1
        r, g, b = (float(v) for v in rgb.reshape(-1, 3).mean(0))
        face = FaceDetection((20, 20, 100, 110), 0.99, LANDMARKS)
        if r > 150 and g < 100:  # red: one face
            return [face]
        if g > 150 and r < 100:  # green: a big and a small face
            return [face, FaceDetection((0, 0, 30, 30), 0.95, LANDMARKS / 4)]
        if b > 150 and r < 100:  # blue: a face the detector is unsure about
            return [FaceDetection((20, 20, 100, 110), 0.5, LANDMARKS)]
        return []  # grey: nothing


def _photo(tmp_path: Path, name: str, colour, label="control") -> Photo:
    path = tmp_path / f"{name}.png"
    Image.fromarray(np.full((128, 128, 3), colour, np.uint8)).save(path)
    return Photo(path=path, subject_id=name, label=label)


@pytest.fixture
def photos(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return [
        _photo(tmp_path, "one", (220, 30, 30)),
        _photo(tmp_path, "two", (30, 220, 30)),
        _photo(tmp_path, "unsure", (30, 30, 220)),
        _photo(tmp_path, "none", (128, 128, 128)),
        Photo(path=broken, subject_id="broken", label="control"),
        Photo(path=tmp_path / "gone.jpg", subject_id="gone", label="control"),
    ]


def test_every_failure_has_a_reason_and_several_faces_are_kept_with_a_warning(tmp_path, photos):
    det = ColourDetector()
    cache = AlignmentCache(tmp_path / "cache", "scripted", AlignConfig(size=64), detector_instance=det)
    out = cache.align(photos, progress=False)
    assert [p.subject_id for p in out.photos] == ["one", "two"]
    assert out.faces.shape == (2, 64, 64, 3) and out.faces.dtype == np.uint8
    reasons = {i.photo.subject_id: (i.reason, i.action) for i in out.issues}
    assert reasons == {
        "two": ("several_faces", "kept_largest_face"),
        "unsure": ("low_confidence", "left_out"),
        "none": ("no_face", "left_out"),
        "broken": ("unreadable", "left_out"),
        "gone": ("unreadable", "left_out"),
    }
    assert "0.500 < 0.90" in next(i.detail for i in out.issues if i.reason == "low_confidence")
    rows = list(csv.DictReader(open(write_issues_csv(out.issues, tmp_path / "issues.csv"))))
    assert {r["subject_id"] for r in rows} == set(reasons) and all(r["detail"] for r in rows)


def test_several_faces_can_be_refused(tmp_path, photos):
    cache = AlignmentCache(
        tmp_path / "cache",
        "scripted",
        AlignConfig(size=64),
        reject_multiple_faces=True,
        detector_instance=ColourDetector(),
    )
    out = cache.align(photos, progress=False)
    assert [p.subject_id for p in out.photos] == ["one"]
    assert ("several_faces", "left_out") in {(i.reason, i.action) for i in out.issues}


def test_re_runs_reuse_the_cache_and_changes_invalidate_it(tmp_path, photos):
    det = ColourDetector()
    cache = AlignmentCache(tmp_path / "cache", "scripted", AlignConfig(size=64), detector_instance=det)
    first = cache.align(photos, progress=False)
    calls = det.calls
    again = cache.align(photos, progress=False)
    assert det.calls == calls  # nothing detected twice, failures included
    np.testing.assert_array_equal(first.faces, again.faces)
    assert [i.reason for i in first.issues] == [i.reason for i in again.issues]
    Image.fromarray(np.full((128, 128, 3), (30, 30, 220), np.uint8)).save(photos[0].path)  # photo replaced
    changed = cache.align(photos, progress=False)
    assert det.calls == calls + 2  # that photo again (+1 to diagnose its low confidence)
    assert "one" not in [p.subject_id for p in changed.photos]
    bigger = AlignmentCache(tmp_path / "cache", "scripted", AlignConfig(size=96), detector_instance=det)
    assert bigger.align(photos[:1], progress=False).faces.shape[1:] == (96, 96, 3)


def test_real_photo_through_the_mtcnn_package(tmp_path, astronaut, mtcnn_detector):
    path = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut).save(path)
    cache = AlignmentCache(tmp_path / "cache", "mtcnn", AlignConfig(size=112), detector_instance=mtcnn_detector)
    out = cache.align([Photo(path=path, subject_id="a", label="control")], progress=False)
    assert out.faces.shape == (1, 112, 112, 3) and not out.issues
