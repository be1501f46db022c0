"""The TensorFlow-free MTCNN (converted networks + numpy cascade) against the mtcnn package.

The networks are converted once (through facescreen-convert's detector targets, which themselves
refuse to write a cascade that disagrees with the package); then every piece of the cascade is
compared with the package's own functions, and whole detections on real photos with the package's.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tf_free

from facescreen.edge.detectors import mtcnn_cascade as mc

RUNTIMES = ["litert", "onnxruntime"]


@pytest.fixture(scope="session")
def photos():
    from facescreen.edge.synthetic import verification_photos

    return verification_photos(n_synthetic=4, seed=21)  # other synthetic subjects than the converter checked


@pytest.fixture(scope="session")
def package_faces(photos, mtcnn_detector):
    return {name: mtcnn_detector.detect(rgb) for name, rgb in photos.items()}


@pytest.fixture(scope="session", params=RUNTIMES)
def lite(request, detector_dir):
    from facescreen.edge.detectors.mtcnn_lite import MtcnnLiteDetector

    return MtcnnLiteDetector(detector_dir, runtime=request.param)


# -- whole detections ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "photo",
    ["astronaut", "grace_hopper", "astronaut_640x480", "synthetic_0", "synthetic_1", "synthetic_2", "synthetic_3"],
)
@tf_free.requires_tensorflow
def test_same_faces_as_the_package(lite, photos, package_faces, photo):
    from facescreen.edge.detect import box_iou

    ref = package_faces[photo]
    got = lite.detect(photos[photo])
    assert len(ref) >= 1 and len(got) == len(ref)
    for r in ref:
        best = max(got, key=lambda g: box_iou(r.box, g.box))
        assert box_iou(r.box, best.box) >= 0.9
        assert np.linalg.norm(r.landmarks - best.landmarks, axis=1).max() <= 2.0
        assert best.confidence == pytest.approx(r.confidence, abs=1e-3)


def test_landmarks_in_the_package_order(lite, photos):
    [face] = lite.detect(photos["astronaut"])
    le, re_, nose, ml, mr = face.landmarks
    assert le[0] < nose[0] < re_[0] and ml[0] < mr[0]  # image left to right
    assert max(le[1], re_[1]) < nose[1] < min(ml[1], mr[1])  # eyes above nose above mouth
    x1, y1, x2, y2 = face.box
    assert np.all((face.landmarks >= [x1, y1]) & (face.landmarks <= [x2, y2]))


def test_no_face_gives_an_empty_list(lite):
    assert lite.detect(np.full((240, 320, 3), 128, np.uint8)) == []


def test_bad_input_is_refused(lite):
    with pytest.raises(ValueError, match="uint8 RGB"):
        lite.detect(np.zeros((10, 10), np.uint8))


@tf_free.requires_tensorflow
def test_it_is_the_registered_mtcnn_lite_and_prepares_the_same_face(detector_dir, photos, mtcnn_detector):
    """Through edge.pipeline.prepare_face, the one path every photo takes, the aligned crop equals the
    package's: boxes and landmarks are whole pixels in both."""
    from facescreen.edge.detect import create_detector
    from facescreen.edge.pipeline import AlignConfig, prepare_face

    det = create_detector("mtcnn-lite", detector_dir.parent)
    assert det.name == "mtcnn-lite"
    for name in ("grace_hopper", "synthetic_1"):
        a = prepare_face(photos[name], det, AlignConfig(size=112))
        b = prepare_face(photos[name], mtcnn_detector, AlignConfig(size=112))
        assert np.array_equal(a.aligned.image, b.aligned.image)


def test_the_screener_uses_it_when_the_bundle_carries_it(detector_dir):
    from facescreen.edge.bundle import load_bundle
    from facescreen.edge.screener import default_detector

    assert default_detector(load_bundle(detector_dir.parent)).name == "mtcnn-lite"


def test_manifest_lists_files_with_hashes_and_refuses_tampering(detector_dir, tmp_path):
    import shutil

    from facescreen.edge.detectors.mtcnn_lite import MtcnnLiteDetector
    from facescreen.edge.detectors.mtcnn_manifest import load_manifest
    from facescreen.edge.errors import BundleError

    m = load_manifest(detector_dir)
    assert set(m.formats) == {"tflite", "onnx"} and set(m.formats["tflite"]) == {"pnet", "rnet", "onet"}
    assert m.formats["tflite"]["pnet"].input_shape == (-1, -1, -1, 3)
    assert m.verification["tflite"]["ok"] and m.source["package"] == "mtcnn"
    copy = shutil.copytree(detector_dir, tmp_path / "det")
    with open(copy / m.formats["onnx"]["rnet"].file, "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match="SHA-256"):
        MtcnnLiteDetector(copy, runtime="onnxruntime")
    (copy / "mtcnn.json").write_bytes((detector_dir / "mtcnn.json").read_bytes()[:-40] + b"\xff")  # a copy cut short
    with pytest.raises(BundleError, match=r"mtcnn\.json is not valid JSON"):
        load_manifest(copy)
    (copy / "mtcnn.json").write_text("[]")
    with pytest.raises(BundleError, match=r"mtcnn\.json is not a detector manifest: a JSON object is expected"):
        load_manifest(copy)
    (copy / "mtcnn.json").unlink()
    with pytest.raises(BundleError, match="--to mtcnn-tflite"):
        MtcnnLiteDetector(copy)


def test_a_format_the_bundle_lacks_is_an_error_not_a_fallback(detector_dir, tmp_path):
    import json
    import shutil

    from facescreen.edge.detectors.mtcnn_lite import MtcnnLiteDetector
    from facescreen.edge.errors import BundleError

    copy = shutil.copytree(detector_dir, tmp_path / "det")
    data = json.loads((copy / "mtcnn.json").read_text())
    del data["formats"]["onnx"]
    (copy / "mtcnn.json").write_text(json.dumps(data))
    assert MtcnnLiteDetector(copy).runtime_name == "litert"
    with pytest.raises(BundleError, match="no onnx networks"):
        MtcnnLiteDetector(copy, runtime="onnxruntime")


def test_runs_where_tensorflow_cannot_be_imported(detector_dir):
    """What a tablet or kiosk has: no TensorFlow, no keras, no mtcnn package."""
    code = tf_free.blocking_prelude() + textwrap.dedent(f"""
        import sys
        from facescreen.edge.detectors.mtcnn_lite import MtcnnLiteDetector
        from facescreen.edge.synthetic import source_photo
        for runtime in ("litert", "onnxruntime"):
            faces = MtcnnLiteDetector({str(detector_dir)!r}, runtime=runtime).detect(source_photo("astronaut"))
            print(runtime, len(faces), faces[0].box)
        assert "tensorflow" not in sys.modules
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "litert 1 (182.0, 64.0, 265.0, 171.0)" in proc.stdout and "onnxruntime 1" in proc.stdout


# -- the cascade's pieces against the package's own functions ------------------------------------


@pytest.mark.parametrize("shape", [(512, 512), (480, 640), (600, 512), (40, 300), (13, 13)])
@tf_free.requires_tensorflow
def test_scale_pyramid_matches_the_package(shape):
    from mtcnn.utils.images import build_scale_pyramid

    h, w = shape
    cfg = mc.CascadeConfig()
    assert np.allclose(mc.scale_pyramid(h, w, cfg), build_scale_pyramid(w, h, cfg.min_face_size, cfg.scale_factor))


@tf_free.requires_tensorflow
def test_area_resize_matches_tensorflow():
    import tensorflow as tf

    img = mc.normalise(np.random.default_rng(0).integers(0, 256, (97, 131, 3), dtype=np.uint8))
    for scale in (0.6, 0.3, 0.11):
        shape = mc.scaled_shape(97, 131, scale)
        ref = tf.image.resize(img[None], np.asarray([97, 131]) * scale, method="area").numpy()[0]  # as scale_images
        assert ref.shape[:2] == shape
        assert np.abs(mc.resize_area(img, shape) - ref).max() < 1e-4


@tf_free.requires_tensorflow
def test_pnet_boxes_match_generate_bounding_box():
    import tensorflow as tf
    from mtcnn.utils.bboxes import generate_bounding_box, upscale_bboxes

    rng = np.random.default_rng(1)
    reg = rng.normal(0, 0.1, (1, 20, 30, 4)).astype(np.float32)
    prob = rng.random((1, 20, 30, 2)).astype(np.float32)
    ref = upscale_bboxes(generate_bounding_box(tf.constant(reg), tf.constant(prob), 0.6), np.array([0.42]))
    boxes, scores = mc.pnet_boxes(reg[0], prob[0, :, :, 1], 0.6, 0.42)
    assert np.allclose(boxes, ref[:, 1:5]) and np.allclose(scores, ref[:, 5])


@pytest.mark.parametrize("method, threshold", [("union", 0.5), ("union", 0.7), ("min", 0.7)])
@tf_free.requires_tensorflow
def test_nms_matches_smart_nms(method, threshold):
    from mtcnn.utils.bboxes import smart_nms_from_bboxes

    rng = np.random.default_rng(2)
    xy = rng.uniform(0, 200, (300, 2))
    wh = rng.uniform(10, 60, (300, 2))
    boxes = np.hstack([xy, xy + wh])
    scores = rng.random(300)
    ref = smart_nms_from_bboxes(np.hstack([np.zeros((300, 1)), boxes, scores[:, None]]), threshold, method=method)
    got, got_scores, _ = mc.nms(boxes, scores, threshold, method)
    assert np.allclose(got, ref[:, 1:5]) and np.allclose(got_scores, ref[:, 5])
    # the block-wise pass gives the same answer as one big matrix
    assert np.array_equal(mc.suppress(boxes, threshold, method, block=7), mc.suppress(boxes, threshold, method))


@tf_free.requires_tensorflow
def test_crop_and_resize_matches_tensorflow_including_outside_the_image():
    import tensorflow as tf

    rng = np.random.default_rng(3)
    img = mc.normalise(rng.integers(0, 256, (80, 120, 3), dtype=np.uint8))
    xy = rng.uniform(-30, 110, (40, 2))
    boxes = np.hstack([xy, xy + rng.uniform(5, 70, (40, 1))])  # squares, some partly outside
    for size in (24, 48):
        norm = boxes[:, [1, 0, 3, 2]] / np.array([80, 120, 80, 120])
        ref = tf.image.crop_and_resize(img[None], norm, np.zeros(40, np.int32), (size, size)).numpy()
        assert np.abs(mc.crop_and_resize(img, boxes, size) - ref).max() < 1e-4  # float32 rounding


@tf_free.requires_tensorflow
def test_square_offsets_and_landmarks_match_the_package():
    import tensorflow as tf
    from mtcnn.utils.bboxes import adjust_bboxes, resize_to_square
    from mtcnn.utils.landmarks import adjust_landmarks

    rng = np.random.default_rng(4)
    xy = rng.uniform(0, 100, (10, 2))
    boxes = np.hstack([xy, xy + rng.uniform(5, 50, (10, 2))])
    rows = np.hstack([np.zeros((10, 1)), boxes, rng.random((10, 1))])
    assert np.allclose(mc.to_square(boxes), resize_to_square(rows)[:, 1:5])
    off = rng.normal(0, 0.1, (10, 4))
    assert np.allclose(mc.apply_offsets(boxes, off), adjust_bboxes(rows, off)[:, 1:5])
    lm = rng.random((10, 10)).astype(np.float32)
    ref = adjust_landmarks(tf.constant(lm), rows)
    got = mc.place_landmarks(lm, boxes)
    assert np.allclose(got[:, :, 0], ref[:, :5], atol=1e-4) and np.allclose(got[:, :, 1], ref[:, 5:], atol=1e-4)


@pytest.mark.parametrize("n, bucket", [(1, 1), (3, 4), (16, 16), (17, 32), (114, 128), (250, 256), (257, 320)])
def test_batch_buckets_bound_padding(n, bucket):
    from facescreen.edge.detectors.mtcnn_nets import batch_bucket

    assert batch_bucket(n) == bucket


def test_cascade_config_is_validated():
    with pytest.raises(ValueError, match="min_face_size"):
        mc.CascadeConfig(min_face_size=8)
    with pytest.raises(ValueError, match="scale_factor"):
        mc.CascadeConfig(scale_factor=1.2)


def test_the_litert_shape_cache_is_bounded_in_pixels_and_recomputes_exactly(detector_dir):
    """Every new photo size brings a pyramid of new P-Net shapes, each interpreter holding buffers in
    proportion to its input: the cache keeps shapes up to a pixel bound, least recently used out
    first, and a shape allocated again gives the same outputs."""
    from facescreen.edge.detectors.mtcnn_nets import SHAPE_CACHE_PIXELS, LiteRTNet

    net = LiteRTNet(detector_dir / "pnet.tflite", "pnet", max_pixels=100 * 100 + 80 * 80)
    rng = np.random.default_rng(0)
    x = {hw: rng.random((1, *hw, 3), np.float32) for hw in [(100, 100), (80, 80), (60, 60), (130, 130)]}
    first = net.run(x[100, 100])
    net.run(x[80, 80])
    assert net.cached_shapes == [(1, 100, 100, 3), (1, 80, 80, 3)] and net.cached_pixels == net.max_pixels
    net.run(x[100, 100])  # used again: now the most recent
    net.run(x[60, 60])  # no room: the least recently used (80x80) goes
    assert net.cached_shapes == [(1, 100, 100, 3), (1, 60, 60, 3)]
    net.run(x[130, 130])  # larger than the whole bound: runs alone
    assert net.cached_shapes == [(1, 130, 130, 3)]
    again = net.run(x[100, 100])  # evicted, allocated anew
    for role in first:
        assert np.array_equal(first[role], again[role]), role
    # the default holds two whole pyramids of a photo the detector sees at its 1024-px limit (a phone's
    # portrait and landscape sizes), so neither a kiosk camera nor such a pair ever re-allocates
    cfg = mc.CascadeConfig()
    pyramid = sum(h * w for h, w in (mc.scaled_shape(768, 1024, s) for s in mc.scale_pyramid(768, 1024, cfg)))
    assert 2 * pyramid <= SHAPE_CACHE_PIXELS < 3 * pyramid
