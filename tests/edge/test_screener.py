"""Photo in, ScreeningResult out, through a real (tiny, untrained) bundle and the Keras backend; in the
TensorFlow-free run (tests/tf_free.py), through LiteRT and ONNX Runtime on the converted fixture bundle."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import tf_free
from factories import make_result

from facescreen.edge import (
    BackendUnavailableError,
    BundleError,
    NoFaceError,
    ScreeningResult,
    create_screener,
    load_bundle,
)
from facescreen.edge.result import NO_FLAG, REFER

SCREEN_BACKENDS = ["litert", "onnxruntime"] if tf_free.TF_FREE else ["keras"]
AUTO_BACKEND = "litert" if tf_free.TF_FREE else "keras"


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    if tf_free.TF_FREE:
        return tf_free.bundle()
    from facescreen.training.export import save_bundle
    from facescreen.training.model import ModelConfig, build_screener

    cfg = ModelConfig(backbone="resnet18", input_size=64, head_filters=(16,))
    out = tmp_path_factory.mktemp("bundle")
    return save_bundle(build_screener(cfg), cfg, out, model_id="tiny-untrained", threshold=0.5)


@pytest.fixture(scope="module")
def bundle_without_tflite(tiny_bundle, tmp_path_factory):
    """The tiny bundle with no LiteRT artifact in its card (TensorFlow-free: a copy without them)."""
    from facescreen.edge.bundle import save_card

    bundle = load_bundle(tiny_bundle)
    if not bundle.artifacts_of("tflite"):
        return tiny_bundle
    out = shutil.copytree(tiny_bundle, tmp_path_factory.mktemp("no-tflite") / "bundle")
    save_card(
        out, replace(bundle.card, artifacts={k: v for k, v in bundle.card.artifacts.items() if v["format"] != "tflite"})
    )
    return out


@pytest.mark.parametrize("backend", SCREEN_BACKENDS)
def test_photo_in_result_out(tiny_bundle, astronaut, mtcnn_detector, backend):
    screener = create_screener(tiny_bundle, backend=backend, detector=mtcnn_detector)
    r = screener.screen(astronaut)
    assert isinstance(r, ScreeningResult)
    # the probability is the model's own answer on the aligned face, the threshold the card's
    probs, _ = screener.predict(screener.prepare(astronaut).aligned.image[None])
    assert r.probability == pytest.approx(float(probs[0, 1]), abs=1e-6) and r.threshold == screener.card.threshold
    assert r.cam.shape == (64, 64) and 0 <= r.cam.min() and r.cam.max() <= 1
    assert r.align_matrix.shape == (2, 3) and r.n_faces == 1
    assert set(r.timings_ms) >= {"decode", "detect", "align", "infer", "postprocess"}
    assert r.backend.startswith(f"{backend}:") and r.model_id == load_bundle(tiny_bundle).card.model_id
    assert r.class_probability_map["syndromic"] == pytest.approx(r.probability)
    d = r.to_dict(include_cam=True)
    json.dumps(d)
    assert d["not_for_clinical_use"] is True and len(d["cam"]) == 64
    assert "not a diagnosis" in r.summary()


def test_screen_folder_keeps_going_past_bad_photos(tiny_bundle, astronaut, mtcnn_detector, tmp_path):
    from PIL import Image

    good = tmp_path / "good.png"
    Image.fromarray(astronaut).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"garbage")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(blank)
    screener = create_screener(tiny_bundle, backend=SCREEN_BACKENDS[0], detector=mtcnn_detector)
    out = tmp_path / "scores.csv"
    assert screener.screen_folder([good, bad, blank], out) == 1
    text = out.read_text()
    assert "bad_image" in text and "no_face" in text


def test_no_face(tiny_bundle, mtcnn_detector):
    screener = create_screener(tiny_bundle, backend=SCREEN_BACKENDS[-1], detector=mtcnn_detector)
    with pytest.raises(NoFaceError):
        screener.screen(np.full((200, 200, 3), 128, np.uint8))


def test_asking_for_an_absent_artifact_never_falls_back(bundle_without_tflite):
    with pytest.raises(BundleError, match="no artifact 'tflite-int8'"):  # a name the bundle lacks: the user's
        create_screener(bundle_without_tflite, artifact="tflite-int8", detector=None)
    with pytest.raises(BackendUnavailableError, match="litert: no tflite artifact"):
        create_screener(bundle_without_tflite, backend="litert", detector=None)
    with pytest.raises(ValueError, match="unknown inference backend 'openvino'"):
        create_screener(bundle_without_tflite, backend="openvino", detector=None)


def test_auto_uses_what_the_bundle_has(tiny_bundle):
    screener = create_screener(load_bundle(tiny_bundle), detector=None)
    assert screener.backend.name == AUTO_BACKEND


@pytest.mark.parametrize("probability, flagged", [(0.49999, False), (0.5, True), (0.9, True)])
def test_a_probability_at_the_threshold_is_flagged(probability, flagged):
    """The flag rule (>= threshold) is the one training thresholds with (training.metrics) and the
    converters' parity gate counts with (edge.metrics.agreement)."""
    from facescreen.edge.metrics import agreement

    r = make_result(probability)
    assert r.flag is flagged and r.label == (REFER if flagged else NO_FLAG)
    # against a reference flagged for sure, the gate counts a changed flag exactly when this one is not
    changed = agreement([[0.0, 1.0]], [[1 - probability, probability]], [1], 0.5).n_flag_disagreements
    assert changed == (0 if flagged else 1)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"probability": 1.5}, "probability"),
        ({"threshold": -0.1}, "threshold"),
        ({"class_probabilities": (0.5,)}, "one probability per class"),
        ({"positive_classes": ("wbs",)}, "positive classes"),
        ({"cam": np.zeros((3, 4))}, "square"),
    ],
)
def test_result_validation(kw, message):
    with pytest.raises(ValueError, match=message):
        make_result(0.3, **kw)
