"""A converter that changes the screening flag must not get its artifact into the bundle."""

from __future__ import annotations

import json

import numpy as np
import pytest


def _broken_tflite(ctx, target, out):
    """A real TFLite conversion of a WRONG graph: the input is divided by 255 before the model's own
    in-graph scaling (the classic double-normalisation bug)."""
    import keras

    from facescreen.converters.tf_export import tflite_converter, write_saved_model

    model = ctx.source.model
    inp = keras.Input((ctx.source.size, ctx.source.size, 3), name="image")
    wrong = keras.Model(inp, model(keras.layers.Rescaling(1 / 255.0)(inp)))
    sm = write_saved_model(
        wrong,
        lambda image: dict(wrong(image, training=False)),
        ctx.source.input_shape,
        ctx.workdir / "broken_savedmodel",
    )
    out.write_bytes(tflite_converter(sm).convert())
    return {}


@pytest.fixture
def bundle_with_good_fp32(tmp_path, converted):
    """A copy of the converted bundle: it already holds a verified tflite-fp32."""
    import shutil

    return shutil.copytree(converted[0], tmp_path / "b")


def test_wrong_input_scaling_is_caught_and_not_written(monkeypatch, bundle_with_good_fp32, split_faces):
    from facescreen.converters.convert import convert_bundle
    from facescreen.converters.targets import resolve_targets
    from facescreen.edge.bundle import load_bundle

    bundle = bundle_with_good_fp32
    before = load_bundle(bundle).card.artifacts["tflite-fp32"]
    good_bytes = (bundle / "tflite-fp32.tflite").read_bytes()
    monkeypatch.setattr("facescreen.converters.to_tflite.build", _broken_tflite)
    _, held = split_faces
    [r] = convert_bundle(bundle, resolve_targets("tflite-fp32"), held, progress=lambda s: None)
    assert r.status == "failed"
    assert "parity check failed, not written" in r.message and "flag agreement" in r.message
    assert r.parity.flag_agreement < 0.99 and r.parity.n_flag_disagreements > 0
    # the earlier verified artifact is untouched, in the card and on disk
    card = load_bundle(bundle).card
    assert card.artifacts["tflite-fp32"] == before
    assert (bundle / "tflite-fp32.tflite").read_bytes() == good_bytes
    row = json.loads((bundle / "parity.json").read_text())["artifacts"]["tflite-fp32"]
    assert row["status"] == "failed" and row["parity"]["passed"] is False
    assert not list(bundle.glob(".convert-*"))


def test_a_stricter_probability_gate_can_fail_a_quantised_model(fresh_bundle, split_faces):
    from facescreen.converters.convert import ConvertOptions, convert_bundle
    from facescreen.converters.parity import ParityThresholds
    from facescreen.converters.targets import resolve_targets
    from facescreen.edge.bundle import load_bundle

    bundle = fresh_bundle
    _, held = split_faces
    opts = ConvertOptions(parity=ParityThresholds(min_agreement=0.99, max_prob_diff=1e-6))
    [r] = convert_bundle(bundle, resolve_targets("tflite-dynamic"), held, options=opts, progress=lambda s: None)
    assert r.status == "failed" and "exceeds 1e-06" in r.message
    assert "tflite-dynamic" not in load_bundle(bundle).card.artifacts
    assert not (bundle / "tflite-dynamic.tflite").exists()


def test_calibrated_target_without_enough_faces_is_refused(fresh_bundle, split_faces):
    from facescreen.converters.convert import convert_bundle
    from facescreen.converters.errors import CalibrationError
    from facescreen.converters.targets import resolve_targets

    bundle = fresh_bundle
    calib, held = split_faces
    few = calib.subset(list(range(20)), "twenty faces")
    with pytest.raises(CalibrationError, match="only 20 calibration faces"):
        convert_bundle(bundle, resolve_targets("onnx-int8"), held, few, progress=lambda s: None)
    with pytest.raises(CalibrationError, match="need calibration faces"):
        convert_bundle(bundle, resolve_targets("tflite-int8"), held, None, progress=lambda s: None)


def test_recorded_keras_reference_serves_where_keras_cannot_run(monkeypatch, converted, split_faces, tmp_path):
    """On a Jetson without TensorFlow the parity reference is the Keras output recorded earlier for
    the same faces and the same Keras file; for other faces it refuses and says what to do."""
    import shutil

    import numpy as np

    from facescreen.converters import parity
    from facescreen.converters.errors import ConversionError
    from facescreen.edge.bundle import load_bundle
    from facescreen.edge.errors import BackendUnavailableError

    bundle = load_bundle(shutil.copytree(converted[0], tmp_path / "b"))
    _, held = split_faces
    assert parity.recorded_reference_path(bundle, held, "keras").is_file()
    live = parity.reference_outputs(bundle, held)

    def no_keras(b, backend="auto", artifact=None, threads=None):
        raise BackendUnavailableError("the keras backend needs keras")

    monkeypatch.setattr(parity, "open_backend", no_keras)
    said: list[str] = []
    recorded = parity.reference_outputs(bundle, held, progress=said.append)
    assert np.array_equal(recorded.probs, live.probs) and np.array_equal(recorded.cam, live.cam)
    assert "recorded" in said[0]
    with pytest.raises(ConversionError, match="no recorded Keras outputs.*--save-faces"):
        parity.reference_outputs(bundle, held.subset(np.arange(12), "other faces"))


@pytest.mark.parametrize(
    "probs, cam, why",
    [
        (np.full((4, 3), 1 / 3), np.zeros((4, 2, 2, 3)), "outputs differ in shape"),  # one class too many
        (np.full((4, 2), np.nan), np.zeros((4, 2, 2, 2)), "non-finite outputs"),
    ],
)
def test_outputs_that_cannot_be_compared_fail_with_every_flag_disagreeing(probs, cam, why):
    from facescreen.converters.calibration import FaceSet
    from facescreen.converters.parity import Outputs, ParityThresholds, compare

    ref = Outputs(np.full((4, 2), 0.5), np.zeros((4, 2, 2, 2)))
    faces = FaceSet(np.zeros((4, 8, 8, 3), np.uint8), np.array([0, 1, 0, 1]))
    report = compare("tflite-fp32", "litert", "x", ref, Outputs(probs, cam), faces, [1], 0.5, ParityThresholds())
    assert not report.passed and why in report.verdict
    assert report.n_faces == report.n_flag_disagreements == 4 and report.flag_agreement == 0.0
    assert report.to_dict()["max_abs_prob_diff"] is None and report.auc_diff is None
