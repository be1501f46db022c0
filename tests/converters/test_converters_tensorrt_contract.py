"""TensorRT contract tests that RUN on a CPU machine: one per finding of issue 10 (the numbers below),
and issue 18's parser contract (an INT32-bias Q/DQ graph is refused) and TensorRT 11 flag values.

The TensorRT API is a stand-in (tests/fake_tensorrt.py) that records the calls and flags
it receives, exposes only the members each TensorRT generation has, parses real ONNX graphs (the tiny
ones of tests/converters/tiny_onnx.py) by TensorRT's documented contract and runs the engine it
builds in ONNX Runtime. None of these tests claims a real engine was built or ran: that needs a
Jetson (tests/converters/test_converters_tensorrt.py, ``-m tensorrt``).
"""

from __future__ import annotations

import functools
import tempfile
import types
from pathlib import Path

import numpy as np
import pytest
import tiny_onnx
from factories import make_card
from fake_tensorrt import ENGINE_MAGIC, install
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

SIZE = tiny_onnx.SIZE


@functools.cache
def graphs() -> tuple[bytes, bytes]:
    """(fp32 ONNX, the Q/DQ int8 ONNX the onnx-int8 converter writes from it), built once."""
    work = Path(tempfile.mkdtemp(prefix="tiny-onnx-"))
    int8, _ = tiny_onnx.int8_model_file(work)
    return (work / "onnx.onnx").read_bytes(), int8.read_bytes()


def _bundle(tmp_path, symmetric: bool = True) -> types.SimpleNamespace:
    """A bundle directory with real (tiny) ONNX files recorded in a real model card."""
    fp32, qdq = graphs()
    root = tmp_path / "bundle"
    root.mkdir()
    (root / "onnx.onnx").write_bytes(fp32)
    (root / "onnx-int8.onnx").write_bytes(qdq)
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
        assert entry["layer_precisions"][precision] > 0 and out.read_bytes().startswith(ENGINE_MAGIC)
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
    assert rec.parsed == [graphs()[0]] and rec.builder_flags == ["INT8"]
    assert entry["calibrator"] == "IInt8EntropyCalibrator2" and entry["built_from"] == "onnx"
    assert rec.freed and not rec.mallocs  # device buffer released
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
    assert rec.parsed == [graphs()[1]]
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
    assert rec.network_flags == [flags] and rec.builder_flags == ["FP16"] and rec.parsed == [graphs()[0]]


# -- finding 8: --save-faces into a folder that does not exist yet --------------------------------


def test_save_faces_creates_the_folder(tmp_path):
    from facescreen.converters.calibration import load_npz, save_faces

    out = save_faces(_faces(3), tmp_path / "runs" / "BUNDLE" / "calibration" / "faces.npz")
    card = make_card(input=InputSpec(size=SIZE))
    assert out.is_file() and len(load_npz(out, card)) == 3


# -- finding 9: the same code on TensorRT 11 (removed APIs never touched) ------------------------


def test_trt11_int8_is_strongly_typed_without_removed_apis(tmp_path, monkeypatch):
    rec = install(monkeypatch, "11.1.0", INT8_ENGINE)
    entry = T.build(_ctx(_bundle(tmp_path), _faces(50)), target("tensorrt-int8"), tmp_path / "e.engine")
    # TensorRT 11 is always strongly typed: no flag at all. Bit 1 would be PREFER_JIT_PYTHON_PLUGINS and
    # bit 2 PREFER_AOT_PYTHON_PLUGINS (NvInfer.h of 11.x), never what we mean.
    assert rec.network_flags == [0]
    assert rec.builder_flags == [] and rec.calibrator is None and rec.parsed == [graphs()[1]]
    assert entry["network_flags"] == [] and entry["strongly_typed"] is True


@pytest.mark.parametrize(
    "version, members",
    [  # include/NvInfer.h, enum class NetworkDefinitionCreationFlag, of each release
        ("8.6.1", {"EXPLICIT_BATCH": 0, "EXPLICIT_PRECISION": 1}),
        ("10.3.0", {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1}),
        ("11.1.0", {"STRONGLY_TYPED": 0, "PREFER_JIT_PYTHON_PLUGINS": 1, "PREFER_AOT_PYTHON_PLUGINS": 2}),
    ],
)
def test_stand_in_network_flags_are_nvinfer_h_values(monkeypatch, version, members):
    import sys

    install(monkeypatch, version)
    flag = sys.modules["tensorrt"].NetworkDefinitionCreationFlag
    assert {m.name: int(m) for m in flag} == members


# -- issue 18: the INT8 graph TensorRT will parse --------------------------------------------------


def _int32_bias_graph(tmp_path, monkeypatch) -> Path:
    """Today's bug, planted: quantize_static with QuantizeBias left at its default (True)."""
    from facescreen.converters import to_onnx_int8

    monkeypatch.setitem(to_onnx_int8.QUANTIZE_OPTIONS, "QuantizeBias", True)
    out = tmp_path / "int32-bias.onnx"
    with pytest.raises(ConversionError, match=r"parser would refuse.*input 'b2_quantized' is INT32"):
        tiny_onnx.int8_model_file(tmp_path / "work")
    import onnx
    from onnxruntime.quantization import QuantFormat, quantize_static

    from facescreen.converters.to_onnx_int8 import _reader_class

    quantize_static(
        str(tmp_path / "work" / "onnx.onnx"),
        str(out),
        _reader_class()("image", tiny_onnx.faces()),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        extra_options=dict(to_onnx_int8.QUANTIZE_OPTIONS),
    )
    model = onnx.load(str(out))
    int32 = [t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT32]
    assert {"b1_quantized", "b2_quantized"} <= set(int32)  # the INT32 biases behind DequantizeLinear
    return out


def test_int8_graph_has_float_biases_and_parses(tmp_path):
    import onnx

    from facescreen.edge.tensorrt_onnx import tensorrt_parse_problems

    path, entry = tiny_onnx.int8_model_file(tmp_path)
    model = onnx.load(str(path))
    assert not [t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT32]
    assert {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT} >= {"b1", "b2"}
    assert entry["tensorrt_parsable"] is True and tensorrt_parse_problems(model) == []
    assert entry["float_nodes"][0] == "conv1"  # the stem keeps float weights
    dq_out = {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    conv1, head = (n for n in model.graph.node if n.op_type == "Conv")
    assert conv1.input[1] == "w1" and head.input[1] in dq_out


def test_planted_int32_bias_graph_is_refused_by_converter_and_stand_in_parser(tmp_path, monkeypatch):
    planted = _int32_bias_graph(tmp_path, monkeypatch)  # the converter refused it (inside)
    rec = install(monkeypatch, "10.3.0")
    bundle = _bundle(tmp_path)
    (bundle.path / "onnx-int8.onnx").write_bytes(planted.read_bytes())
    with pytest.raises(ConversionError, match=r"TensorRT's ONNX parser rejected onnx-int8.onnx: .*INT32"):
        T.build(_ctx(bundle), target("tensorrt-int8"), tmp_path / "e.engine")
    assert any("DequantizeLinear" in e and "INT32" in e for e in rec.parse_errors)
    assert not (tmp_path / "e.engine").exists()


@pytest.mark.parametrize(
    "mutate, problem",
    [
        (lambda m: _set_zero_point(m, 3), "is not zero"),
        (lambda m: _set_scale(m, -0.5), "scale"),
        (lambda m: m.graph.node[-1].__setattr__("op_type", "NonMaxSuppression"), "NonMaxSuppression"),
        (lambda m: m.graph.node[-1].__setattr__("domain", "com.microsoft"), "custom op domains"),
    ],
    ids=["zero-point", "scale", "op", "domain"],
)
def test_stand_in_parser_refuses_what_tensorrt_documents(monkeypatch, mutate, problem):
    import sys

    import onnx

    model = onnx.load_from_string(graphs()[1])
    mutate(model)
    install(monkeypatch, "10.3.0")
    trt = sys.modules["tensorrt"]
    builder = trt.Builder(trt.Logger())
    parser = trt.OnnxParser(builder.create_network(0), trt.Logger())
    assert parser.parse(model.SerializeToString()) is False
    assert any(problem in str(parser.get_error(i)) for i in range(parser.num_errors))


def _initializer(model, suffix: str):
    return next(t for t in model.graph.initializer if t.name.endswith(suffix))


def _set_zero_point(model, value: int) -> None:
    from onnx import numpy_helper

    t = _initializer(model, "_zero_point")
    t.CopyFrom(numpy_helper.from_array(np.full(numpy_helper.to_array(t).shape, value, np.int8), t.name))


def _set_scale(model, value: float) -> None:
    from onnx import numpy_helper

    t = _initializer(model, "_scale")
    t.CopyFrom(numpy_helper.from_array(np.full(numpy_helper.to_array(t).shape, value, np.float32), t.name))


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
