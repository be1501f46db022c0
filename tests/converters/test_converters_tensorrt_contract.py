"""TensorRT contract tests that RUN on a CPU machine: one per finding of issue 10 (the numbers below).

The TensorRT API is a stand-in (tests/converters/fake_tensorrt.py) that records the calls and flags
it receives and exposes only the members each TensorRT generation has; these tests assert what the
converter asks of TensorRT. None of them claims an engine was built or ran: that needs a Jetson
(tests/converters/test_converters_tensorrt.py, ``-m tensorrt``).
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from fake_tensorrt import install
from inspector_strings import (
    FP16_ENGINE_OUTPUTS,
    FP32_ENGINE_OUTPUTS,
    QAT_ENGINE_OUTPUTS,
    REAL_STRINGS,
    engine_information,
)

from facescreen.converters import to_tensorrt as T
from facescreen.converters.calibration import FaceSet
from facescreen.converters.convert import ConvertOptions
from facescreen.converters.errors import ConversionError
from facescreen.converters.targets import target
from facescreen.edge.bundle import InputSpec, ModelCard, artifact_entry, save_card

SIZE = 32
FP32_ONNX, QDQ_ONNX = b"fp32 onnx graph", b"qdq int8 onnx graph"


def _bundle(tmp_path, symmetric: bool = True) -> types.SimpleNamespace:
    """A bundle directory with stand-in ONNX files recorded in a real model card."""
    root = tmp_path / "bundle"
    root.mkdir()
    (root / "onnx.onnx").write_bytes(FP32_ONNX)
    (root / "onnx-int8.onnx").write_bytes(QDQ_ONNX)
    arts = {
        "onnx": artifact_entry(root, "onnx.onnx", "onnx", "fp32"),
        "onnx-int8": artifact_entry(root, "onnx-int8.onnx", "onnx", "int8", symmetric=symmetric),
    }
    card = ModelCard(
        "probe", ("control", "syndromic"), ("syndromic",), 0.5, "resnet18", input=InputSpec(size=SIZE), artifacts=arts
    )
    save_card(root, card)
    return types.SimpleNamespace(path=root, card=card)


def _faces(n: int) -> FaceSet:
    return FaceSet(np.random.default_rng(0).integers(0, 255, (n, SIZE, SIZE, 3), dtype=np.uint8), source="test")


def _ctx(bundle, faces: FaceSet | None = None, max_batch: int = 8):
    return types.SimpleNamespace(
        bundle=bundle,
        source=types.SimpleNamespace(size=SIZE),
        options=ConvertOptions(max_batch=max_batch),
        calibration_faces=lambda t: faces,
        artifact_file=lambda name: bundle.path / bundle.card.artifacts[name]["file"],
    )


INT8_ENGINE = engine_information(QAT_ENGINE_OUTPUTS)
FP16_ENGINE = engine_information(FP16_ENGINE_OUTPUTS)


# -- finding 5: precision by content, on the strings TensorRT really emits ----------------------


@pytest.mark.parametrize("text, precision", REAL_STRINGS)
def test_inspector_string_is_classified_by_content(text, precision):
    assert T.tensor_precision(text) == precision


@pytest.mark.parametrize(
    "outputs, expected",
    [
        (FP16_ENGINE_OUTPUTS, {"fp16": 38, "fp32": 1}),
        (QAT_ENGINE_OUTPUTS, {"int8": 20, "fp16": 17, "fp32": 4}),
        (FP32_ENGINE_OUTPUTS, {"fp32": 22}),
    ],
)
@pytest.mark.parametrize("split_field", [False, True], ids=["trt8-10", "trt11"])
def test_layer_precisions_count_outputs(outputs, expected, split_field):
    assert T.layer_precisions(engine_information(outputs, split_field)) == expected


@pytest.mark.parametrize(
    "precision, engine, ok",
    [
        ("fp16", FP16_ENGINE, True),
        ("int8", INT8_ENGINE, True),
        ("fp16", engine_information(FP32_ENGINE_OUTPUTS), False),
        ("int8", FP16_ENGINE, False),
    ],
)
def test_engine_is_refused_only_without_layers_in_its_precision(tmp_path, monkeypatch, precision, engine, ok):
    install(monkeypatch, "10.3.0", engine)
    bundle = _bundle(tmp_path)
    out = tmp_path / "e.engine"
    if ok:
        entry = T.build(_ctx(bundle), target(f"tensorrt-{precision}"), out)
        assert entry["layer_precisions"][precision] > 0 and out.read_bytes() == b"FAKE-ENGINE"
    else:
        with pytest.raises(ConversionError, match=f"no {precision} layer outputs"):
            T.build(_ctx(bundle), target(f"tensorrt-{precision}"), out)
        assert not out.exists()


def test_names_only_inspector_output_is_an_error_not_zero_layers():
    with pytest.raises(ConversionError, match="DETAILED"):
        T.layer_precisions({"Layers": ["conv1", "relu1"]})


# -- finding 6: calibration batch = calibration profile; explicit quantisation on TensorRT >= 10 --


@pytest.mark.parametrize("max_batch", [8, 18, 32])
def test_trt8_calibrates_every_face_at_the_calibration_profile(tmp_path, monkeypatch, max_batch):
    rec = install(monkeypatch, "8.6.1", INT8_ENGINE)
    bundle = _bundle(tmp_path)
    faces = _faces(50)
    entry = T.build(_ctx(bundle, faces, max_batch), target("tensorrt-int8"), tmp_path / "e.engine")
    batch = T.CALIBRATION_BATCH
    shape = (batch, SIZE, SIZE, 3)
    assert rec.calibration_profile.shapes["image"] == (shape, shape, shape)  # min = opt = max
    assert rec.calibrator.get_batch_size() == batch == entry["calibration_batch"]
    assert rec.calibration_batches == [batch] * (50 // batch)  # every whole batch read
    assert all(n == batch * SIZE * SIZE * 3 * 4 for _, n in rec.copies)
    assert rec.profiles[0].shapes["image"][2][0] == max_batch  # runtime profile untouched
    assert rec.parsed == [FP32_ONNX] and rec.builder_flags == ["INT8"]
    assert entry["calibrator"] == "IInt8EntropyCalibrator2" and entry["built_from"] == "onnx"
    assert rec.freed == list(rec.mallocs)  # device buffer released
    assert (bundle.path / entry["calibration_cache"]).read_bytes() == b"CACHE"


def test_few_faces_shrink_batch_and_profile_together(tmp_path, monkeypatch):
    rec = install(monkeypatch, "8.6.1", INT8_ENGINE)
    T.build(_ctx(_bundle(tmp_path), _faces(5)), target("tensorrt-int8"), tmp_path / "e.engine")
    assert rec.calibration_profile.shapes["image"][1][0] == rec.calibrator.get_batch_size() == 5


@pytest.mark.parametrize("version", ["10.3.0", "10.13.2"])
def test_trt10_int8_is_explicit_quantisation_of_the_qdq_graph(tmp_path, monkeypatch, version):
    rec = install(monkeypatch, version, INT8_ENGINE)
    bundle = _bundle(tmp_path)
    entry = T.build(_ctx(bundle, _faces(50)), target("tensorrt-int8"), tmp_path / "e.engine")
    assert rec.parsed == [QDQ_ONNX]
    assert sorted(rec.builder_flags) == ["FP16", "INT8"]
    assert rec.calibrator is None and rec.calibration_profile is None and not rec.mallocs
    assert entry["built_from"] == "onnx-int8" and entry["quantization"].startswith("explicit")
    assert entry["source_sha256"] == bundle.card.artifacts["onnx-int8"]["sha256"]
    assert not (bundle.path / "calibration").exists()


def test_qdq_graph_without_symmetric_record_is_refused(tmp_path, monkeypatch):
    install(monkeypatch, "10.3.0", INT8_ENGINE)
    with pytest.raises(ConversionError, match="zero-point 0"):
        T.build(_ctx(_bundle(tmp_path, symmetric=False)), target("tensorrt-int8"), tmp_path / "e.engine")


def test_tensorrt_int8_depends_on_the_qdq_graph():
    assert "onnx-int8" in target("tensorrt-int8").depends


# -- finding 7: EXPLICIT_BATCH below TensorRT 10 -------------------------------------------------


@pytest.mark.parametrize("version, flags", [("8.6.1", 1 << 0), ("8.5.2", 1 << 0), ("10.3.0", 0)])
def test_network_is_explicit_batch_on_every_version(tmp_path, monkeypatch, version, flags):
    rec = install(monkeypatch, version, FP16_ENGINE)
    T.build(_ctx(_bundle(tmp_path)), target("tensorrt-fp16"), tmp_path / "e.engine")
    assert rec.network_flags == [flags] and rec.builder_flags == ["FP16"] and rec.parsed == [FP32_ONNX]


# -- finding 8: --save-faces into a folder that does not exist yet --------------------------------


def test_save_faces_creates_the_folder(tmp_path):
    from facescreen.converters.calibration import load_npz, save_faces

    out = save_faces(_faces(3), tmp_path / "runs" / "BUNDLE" / "calibration" / "faces.npz")
    card = ModelCard("probe", ("control", "syndromic"), ("syndromic",), 0.5, "resnet18", input=InputSpec(size=SIZE))
    assert out.is_file() and len(load_npz(out, card)) == 3


# -- finding 9: the same code on TensorRT 11 (removed APIs never touched) ------------------------


def test_trt11_int8_is_strongly_typed_without_removed_apis(tmp_path, monkeypatch):
    rec = install(monkeypatch, "11.1.0", INT8_ENGINE)
    entry = T.build(_ctx(_bundle(tmp_path), _faces(50)), target("tensorrt-int8"), tmp_path / "e.engine")
    assert rec.network_flags == [1 << 1]  # STRONGLY_TYPED
    assert rec.builder_flags == [] and rec.calibrator is None and rec.parsed == [QDQ_ONNX]
    assert entry["network_flags"] == ["STRONGLY_TYPED"]


def test_trt11_fp16_is_refused_with_the_reason(tmp_path, monkeypatch):
    install(monkeypatch, "11.1.0", FP16_ENGINE)
    with pytest.raises(ConversionError, match="TensorRT 11 removed weak typing"):
        T.build(_ctx(_bundle(tmp_path)), target("tensorrt-fp16"), tmp_path / "e.engine")


@pytest.mark.parametrize(
    "version, precision, source",
    [
        ("8.6.1", "fp16", "onnx"),
        ("8.6.1", "int8", "onnx"),
        ("10.3.0", "fp16", "onnx"),
        ("10.3.0", "int8", "onnx-int8"),
        ("11.0.0", "int8", "onnx-int8"),
    ],
)
def test_recipe_table(version, precision, source):
    assert T.recipe(version, precision).source == source


def test_tensorrt_7_is_refused():
    with pytest.raises(ConversionError, match="too old"):
        T.recipe("7.1.3", "fp16")


# -- finding 10: missing cuda-python / no GPU => cannot be built on this machine (exit 3) ----------


def _cli_bundle(tmp_path):
    bundle = _bundle(tmp_path)
    faces = tmp_path / "faces.npz"
    np.savez(faces, faces=_faces(12).faces)
    return bundle.path, faces


@pytest.mark.parametrize(
    "cuda, gpu, reason",
    [
        (False, True, "cuda-python"),
        (True, False, "no CUDA GPU answers"),
    ],
)
def test_missing_cuda_or_gpu_is_unavailable_exit_3(tmp_path, monkeypatch, capsys, cuda, gpu, reason):
    from facescreen.converters.cli import EXIT_UNAVAILABLE, main

    install(monkeypatch, "10.3.0", FP16_ENGINE, cuda=cuda, gpu=gpu)
    bundle, faces = _cli_bundle(tmp_path)
    assert main([str(bundle), "--to", "tensorrt-fp16", "--parity", str(faces)]) == EXIT_UNAVAILABLE == 3
    out = capsys.readouterr().out
    assert "unavailable: cannot build tensorrt-fp16 here" in out and reason in out
    assert "trtexec --onnx=" in out and not (bundle / "tensorrt-fp16.engine").exists()


def test_missing_tensorrt_is_unavailable_exit_3(tmp_path, monkeypatch, capsys):
    from facescreen.converters.cli import main

    install(monkeypatch, None)
    bundle, faces = _cli_bundle(tmp_path)
    assert main([str(bundle), "--to", "tensorrt-fp16", "--parity", str(faces)]) == 3
    assert "tensorrt cannot be imported" in capsys.readouterr().out


# -- the trtexec hint: int8 from the QDQ ONNX with --int8 --fp16 ----------------------------------


@pytest.mark.parametrize(
    "name, source, flags",
    [("tensorrt-int8", "onnx-int8.onnx", "--int8 --fp16"), ("tensorrt-fp16", "onnx.onnx", "--fp16")],
)
def test_trtexec_hint_matches_the_tensorrt_10_recipe(tmp_path, name, source, flags):
    bundle = _bundle(tmp_path)
    cmd = T.trtexec_command(bundle, target(name), ConvertOptions(max_batch=4, workspace_mb=512))
    assert cmd.startswith(f"trtexec --onnx={bundle.path / source} ") and cmd.endswith(" " + flags)
    assert "--calib" not in cmd and "--minShapes=image:1x32x32x3" in cmd and "--maxShapes=image:4x32x32x3" in cmd
    assert "--memPoolSize=workspace:512M" in cmd
