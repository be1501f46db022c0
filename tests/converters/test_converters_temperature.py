"""Temperature scaling is applied identically by every runtime (one step in edge.postprocess, run
by the Screener whatever the backend), and the int8 LiteRT output's quantisation step is recorded
in the card; a threshold it cannot resolve is refused by the converter and by the Screener."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest

from facescreen.converters.targets import ALIASES, target

SCREENER_CPU_TARGETS = [n for n in ALIASES["cpu"] if target(n).kind == "screener"]

T = 2.5


def _with_card(src, dst, **changes):
    from facescreen.edge.bundle import load_bundle, save_card

    shutil.copytree(src, dst)
    save_card(dst, replace(load_bundle(dst).card, **changes))
    return dst


def test_temperature_is_applied_identically_by_every_backend(converted, split_faces, tmp_path):
    from facescreen.edge import create_screener
    from facescreen.edge.backends import open_backend
    from facescreen.edge.bundle import load_bundle
    from facescreen.edge.postprocess import apply_temperature

    bundle_dir, _, _ = converted
    scaled = load_bundle(
        _with_card(bundle_dir, tmp_path / "scaled", calibration={"temperature": T, "fitted_on": "test"})
    )
    _, held = split_faces
    x = held.batch()[:24]
    keras_raw, _ = open_backend(scaled, artifact="keras").run(x)
    reference = apply_temperature(keras_raw, T)
    assert np.abs(reference - keras_raw).max() > 0.02, "the temperature must visibly change the probabilities"
    for name in ["keras"] + SCREENER_CPU_TARGETS:
        screener = create_screener(scaled, artifact=name, detector=None)
        raw, _ = screener.backend.run(x)
        got, _ = screener.predict(x)
        np.testing.assert_allclose(got, apply_temperature(raw, T), atol=1e-6, err_msg=name)
        tolerance = {"fp32": 1e-4, "fp16": 5e-3}.get(scaled.card.artifacts[name]["precision"], 0.1)
        assert np.abs(got - reference).max() <= tolerance, name
        one = screener.screen_aligned(x[0].astype(np.uint8) if x.dtype != np.uint8 else x[0], with_cam=False)
        assert one.probability == pytest.approx(float(got[0, 1]), abs=max(tolerance, 1e-5)), name


def test_int8_output_step_is_recorded(converted):
    from facescreen.edge.bundle import load_bundle

    bundle_dir, _, _ = converted
    entry = load_bundle(bundle_dir).card.artifacts["tflite-int8"]
    q = entry["output_quantisation"]
    assert q["scale"] == pytest.approx(1 / 256) and q["dtype"] == "int8"
    assert entry["threshold_resolution"] == pytest.approx(1 / 256)
    assert "steps of 0.0039" in (bundle_dir / "MODEL_CARD.md").read_text()


def test_screener_refuses_an_int8_output_that_cannot_resolve_the_threshold(converted, tmp_path):
    from facescreen.edge import create_screener
    from facescreen.edge.errors import BackendUnavailableError

    bundle_dir, _, _ = converted
    high = _with_card(bundle_dir, tmp_path / "high", threshold=0.998)
    with pytest.raises(BackendUnavailableError, match="cannot resolve the threshold 0.9980"):
        create_screener(high, artifact="tflite-int8", detector=None)
    create_screener(high, artifact="tflite-fp32", detector=None)  # a float output resolves it


def test_converter_refuses_an_int8_output_that_cannot_resolve_the_threshold(tiny_bundle_src, split_faces, tmp_path):
    from facescreen.converters.convert import ConvertOptions, convert_bundle
    from facescreen.converters.targets import resolve_targets

    bundle = _with_card(tiny_bundle_src, tmp_path / "b", threshold=0.9, calibration={"temperature": 4.0})
    calib, held = split_faces
    [r] = convert_bundle(bundle, resolve_targets("tflite-int8"), held, calib, ConvertOptions(), progress=lambda s: None)
    assert r.status == "failed" and "cannot resolve the threshold 0.9000" in r.message
    assert not (bundle / "tflite-int8.tflite").exists()
