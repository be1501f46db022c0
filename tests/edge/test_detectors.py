"""Every registered detector is built by one factory with the same arguments, and faces are
chosen by one rule (edge.detect.subject_first) wherever they are chosen."""

from __future__ import annotations

import numpy as np
import pytest

from facescreen.edge import DETECTORS, BundleError, FaceDetection, create_detector, find_face
from facescreen.edge.detect import DetectConfig, detect_faces, subject_first


@pytest.mark.parametrize("name", DETECTORS.names())
def test_every_detector_is_built_from_the_same_arguments(name, detector_dir, astronaut):
    import tf_free

    if tf_free.TF_FREE and name == "mtcnn":  # the reference package is TensorFlow's
        pytest.skip(tf_free.REASON)
    det = create_detector(name, detector_dir.parent, threads=1)
    assert det.name == name
    faces = det.detect(astronaut)
    assert len(faces) == 1 and faces[0].confidence > 0.9
    # the smallest face is a per-call setting of every detector; a face above it is still found
    side = faces[0].box[3] - faces[0].box[1]
    big = det.detect(astronaut, int(side * 0.6))
    assert len(big) == 1 and abs((big[0].box[3] - big[0].box[1]) - side) < 0.2 * side
    assert det.detect(astronaut, int(side * 3)) == []  # and one far below it is not


def test_a_bundle_detector_without_its_bundle_is_a_clear_error(tmp_path):
    with pytest.raises(BundleError, match="converted cascade inside a bundle"):
        create_detector("mtcnn-lite")
    with pytest.raises(BundleError, match="carries no converted detector"):
        create_detector("mtcnn-lite", tmp_path)
    with pytest.raises(ValueError, match="expected one of: mtcnn, mtcnn-lite"):
        create_detector("retinaface", tmp_path)


def _face(x, y, side, conf):
    lm = np.array(
        [
            [x + 0.3 * side, y + 0.4 * side],
            [x + 0.7 * side, y + 0.4 * side],
            [x + 0.5 * side, y + 0.6 * side],
            [x + 0.35 * side, y + 0.8 * side],
            [x + 0.65 * side, y + 0.8 * side],
        ]
    )
    return FaceDetection((x, y, x + side, y + side), conf, lm)


class ListDetector:
    name = "list"

    def __init__(self, faces):
        self.faces = faces
        self.calls = 0

    def detect(self, rgb, min_face_size=None):
        self.calls += 1
        return [f for f in self.faces if min_face_size is None or f.box[3] - f.box[1] >= min_face_size]


def test_the_subject_is_the_largest_face_then_the_most_confident():
    small_sure, large, large_surer = _face(10, 10, 60, 0.999), _face(200, 50, 120, 0.95), _face(20, 200, 120, 0.97)
    ranked = subject_first([small_sure, large, large_surer])
    assert ranked == (large_surer, large, small_sure)
    rgb = np.zeros((480, 640, 3), np.uint8)
    found = find_face(rgb, ListDetector([small_sure, large, large_surer]))
    assert found.face is large_surer and found.n_faces == 3 and found.all_faces == ranked


def test_the_smallest_face_and_the_working_size_are_honoured_and_mapped_back():
    det = ListDetector([_face(100, 100, 100, 0.99)])
    seen = []
    det.detect = lambda rgb, m=None: seen.append((rgb.shape, m)) or [_face(50, 50, 50, 0.99)]
    rgb = np.zeros((480, 640, 3), np.uint8)
    faces = detect_faces(rgb, det, DetectConfig(min_face_px=80, work_face_px=40))
    assert seen == [((240, 320, 3), 40)]  # half size: the 80 px minimum spans 40 px
    assert faces[0].box == (100.0, 100.0, 200.0, 200.0)  # back in frame pixels
    with pytest.raises(ValueError, match="min_face_px"):
        DetectConfig(min_face_px=10)


def test_the_photo_path_starts_the_pyramid_at_a_tenth_of_the_shorter_side():
    """Photo in, flag out (issue 23 §2): the smallest face scales with the photo; an explicit
    min_face_px above it wins; below 20 px the detector's own floor holds."""
    from facescreen.edge.detect import PHOTO_DETECT

    seen = []
    det = ListDetector([])
    det.detect = lambda rgb, m=None: seen.append((rgb.shape[:2], m)) or []
    for shape in ((480, 640), (1024, 768), (120, 160)):
        detect_faces(np.zeros((*shape, 3), np.uint8), det, PHOTO_DETECT)
    detect_faces(np.zeros((480, 640, 3), np.uint8), det, DetectConfig(min_face_px=100, min_face_fraction=0.1))
    assert seen == [((480, 640), 48), ((1024, 768), 76), ((120, 160), 20), ((480, 640), 100)]
    with pytest.raises(ValueError, match="min_face_fraction"):
        DetectConfig(min_face_fraction=1.5)


def test_the_photo_path_finds_the_same_subject_as_the_whole_pyramid(mtcnn_detector, astronaut, grace_hopper):
    """On the sample photos, the smaller pyramid screens the face the whole one found."""
    from facescreen.edge.bench.targets import smallest_face_agreement
    from facescreen.edge.detect import PHOTO_DETECT

    a = smallest_face_agreement(mtcnn_detector, [astronaut, grace_hopper], PHOTO_DETECT)
    assert a["both_found"] == 2 and a["only_whole_pyramid"] == 0 and a["only_photo_config"] == 0
    assert a["min_iou"] > 0.8 and a["max_landmark_px"] < 5.0


def test_the_package_detector_keeps_no_photo_alive_when_it_finds_no_face(mtcnn_detector):
    """The `mtcnn` package finds "no face" by letting R-Net fail on an empty batch and catching the
    error; with Keras' traceback filtering on, that error sat in a reference cycle holding the
    caller's frames and the photo until a full garbage collection. With the cyclic collector off, the
    photo must die with its last reference, and the thread's Keras setting is as it was."""
    import gc
    import weakref

    import tf_free

    if tf_free.TF_FREE:  # the package is TensorFlow's (the fixture is then the converted cascade)
        pytest.skip(tf_free.REASON)
    import keras

    mtcnn_detector.detect(np.zeros((320, 320, 3), np.uint8))  # warm: first-call graphs and caches
    gc.collect()
    gc.disable()
    try:
        blank = np.zeros((320, 320, 3), np.uint8)
        ref = weakref.ref(blank)
        assert mtcnn_detector.detect(blank) == []
        del blank
        assert ref() is None, "the blank photo outlived the detection"
    finally:
        gc.enable()
    assert keras.config.is_traceback_filtering_enabled()
