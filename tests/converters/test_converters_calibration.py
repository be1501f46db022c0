"""Calibration / parity face sets: alignment through edge.pipeline, hashing, splitting, minimums."""

from __future__ import annotations

import numpy as np
import pytest

from facescreen.converters.calibration import FaceSet, _folder_labels, load_faces, require_minimum
from facescreen.converters.errors import CalibrationError


def _faces(n, size=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_photo_folder_is_aligned_like_training(faceset, cohort_dir, mtcnn_detector, probe_card):
    """The calibration loader gives exactly what edge.pipeline.prepare_face gives for the same photo."""
    import csv

    from facescreen.edge.pipeline import AlignConfig, prepare_face

    first = sorted(cohort_dir.rglob("*.jpg"))[0]
    expected = prepare_face(first, mtcnn_detector, AlignConfig(size=64, template=probe_card.alignment))
    assert np.array_equal(faceset.faces[0], expected.aligned.image)
    rows = list(csv.DictReader(open(cohort_dir / "cohort.csv")))
    assert set(np.unique(faceset.labels)) == {0, 1} and len(rows) >= len(faceset)


def test_a_cohort_csv_saved_by_a_spreadsheet_labels_the_folder(tmp_path, probe_card):
    """Excel's "CSV UTF-8" starts with a byte-order mark: the path column was read as '\\ufeffpath', a
    KeyError and a traceback. A file without that column is refused by name."""
    photos = [tmp_path / "a" / "1.jpg", tmp_path / "a" / "2.jpg"]
    a, b = probe_card.classes[:2]
    (tmp_path / "cohort.csv").write_bytes(f"\ufeffpath,label\r\na/1.jpg,{a}\r\na/2.jpg,{b}\r\n".encode())
    assert _folder_labels(tmp_path, photos, probe_card) == [a, b]
    (tmp_path / "cohort.csv").write_text("file,label\na/1.jpg,x\n")
    with pytest.raises(CalibrationError, match=r"cohort.csv: missing column\(s\) path"):
        _folder_labels(tmp_path, photos, probe_card)


def test_hash_is_stable_and_sensitive():
    f = _faces(5)
    assert FaceSet(f).sha256 == FaceSet(f.copy()).sha256
    g = f.copy()
    g[0, 0, 0, 0] ^= 1
    assert FaceSet(g).sha256 != FaceSet(f).sha256


def test_split_is_deterministic_and_disjoint():
    fs = FaceSet(_faces(40), np.arange(40) % 2)
    a1, b1 = fs.split(0.25, seed=3)
    a2, b2 = fs.split(0.25, seed=3)
    assert a1.sha256 == a2.sha256 and b1.sha256 == b2.sha256
    assert len(a1) == 30 and len(b1) == 10
    rows = {r.tobytes() for r in a1.faces} & {r.tobytes() for r in b1.faces}
    assert not rows


def test_fewer_than_the_minimum_is_refused_unless_forced():
    small = FaceSet(_faces(99), source="tiny.npz")
    with pytest.raises(CalibrationError, match=r"only 99 calibration faces.*at least 100.*--force-small-calib"):
        require_minimum(small)
    require_minimum(small, force=True)
    require_minimum(FaceSet(_faces(100)))


@pytest.mark.parametrize(
    "faces, message",
    [
        (np.zeros((3, 64, 64), np.uint8), "N, S, S, 3"),
        (np.zeros((3, 64, 32, 3), np.uint8), "N, S, S, 3"),
        (np.zeros((3, 64, 64, 3), np.float32), "uint8"),
    ],
)
def test_bad_face_arrays_are_refused(faces, message):
    with pytest.raises(CalibrationError, match=message):
        FaceSet(faces)


def test_npz_of_the_wrong_size_says_how_to_fix_it(tmp_path, probe_card):
    np.savez(tmp_path / "f.npz", faces=_faces(4, size=112))
    with pytest.raises(CalibrationError, match=r"model takes \(64, 64, 3\).*re-align"):
        load_faces(tmp_path / "f.npz", probe_card)
    np.savez(tmp_path / "g.npz", images=_faces(4))
    with pytest.raises(CalibrationError, match="no 'faces' array"):
        load_faces(tmp_path / "g.npz", probe_card)


def test_npz_labels_may_be_class_names(tmp_path, probe_card):
    np.savez(tmp_path / "f.npz", faces=_faces(2), labels=np.array(["control", "syndromic"]))
    assert load_faces(tmp_path / "f.npz", probe_card).labels.tolist() == [0, 1]
    np.savez(tmp_path / "g.npz", faces=_faces(2), labels=np.array(["control", "unknown"]))
    with pytest.raises(CalibrationError, match="unknown"):
        load_faces(tmp_path / "g.npz", probe_card)


def test_folder_without_photos_and_missing_path(tmp_path, probe_card):
    with pytest.raises(CalibrationError, match="no photos"):
        load_faces(tmp_path, probe_card, detector=object())
    with pytest.raises(CalibrationError, match="no file or folder at .*nope$"):
        load_faces(tmp_path / "nope", probe_card)
    (tmp_path / "faces.csv").write_text("a,b\n")
    with pytest.raises(CalibrationError, match="faces.csv is neither a .npz of aligned faces nor a folder"):
        load_faces(tmp_path / "faces.csv", probe_card)
