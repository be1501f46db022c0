"""Every screener target converted from a small trained bundle, opened through the edge runtime, and
held to the parity threshold; metadata embedded; the model card and parity.json updated. The targets
come from the converters' registry; the TensorRT ones are built and run through the stand-in TensorRT
(tests/fake_tensorrt.py, engines computed by ONNX Runtime) where no real TensorRT exists."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facescreen.converters.targets import ALIASES, target

SCREENER_CPU_TARGETS = [n for n in ALIASES["cpu"] if target(n).kind == "screener"]
SCREENER_TARGETS = [n for n in ALIASES["all"] if target(n).kind == "screener"]  # CPU and GPU alike


@pytest.fixture
def runtime_for(request):
    """Make ``name``'s runtime importable: the GPU targets need TensorRT (the stand-in here)."""

    def use(name: str) -> None:
        if target(name).device == "gpu":
            request.getfixturevalue("tensorrt_here")

    return use


def test_every_target_is_written(converted_all):
    _, results, _ = converted_all
    bad = {n: r.message for n, r in results.items() if n in SCREENER_TARGETS and r.status != "written"}
    assert not bad and set(SCREENER_TARGETS) <= set(results)


@pytest.mark.parametrize("name", SCREENER_TARGETS)
def test_artifact_runs_in_the_edge_runtime_and_keeps_parity(converted_all, split_faces, runtime_for, name):
    """Opened exactly as a tablet or a Jetson opens it (edge.backends.open_backend on the reloaded
    bundle), compared with the Keras reference on the held-out faces."""
    from facescreen.edge.backends import backend_spec, open_backend
    from facescreen.edge.bundle import load_bundle
    from facescreen.edge.postprocess import screening_probability

    runtime_for(name)
    bundle_dir, _, _ = converted_all
    bundle = load_bundle(bundle_dir)  # verifies every artifact's SHA-256
    _, held = split_faces
    x = held.batch()
    ref_probs, ref_cam = open_backend(bundle, artifact="keras").run(x)
    backend = open_backend(bundle, artifact=name)
    assert backend_spec(backend.name).format == bundle.card.artifacts[name]["format"]  # e.g. tensorrt
    probs, cam = backend.run(x)
    assert probs.shape == ref_probs.shape and cam.shape == ref_cam.shape
    pos, thr = bundle.card.positive_indices, bundle.card.threshold
    flags_ref = screening_probability(ref_probs, pos) >= thr
    flags = screening_probability(probs, pos) >= thr
    assert flags_ref.any() and (~flags_ref).any(), "held-out faces must fall on both sides of the threshold"
    assert (flags == flags_ref).mean() >= 0.99
    tolerance = {"fp32": 1e-4, "fp16": 5e-3}.get(bundle.card.artifacts[name]["precision"], 0.1)
    assert np.abs(probs - ref_probs).max() <= tolerance
    # the class-logit maps come through too: their spatial mean is the logit the softmax saw
    logits = cam.mean(axis=(1, 2))
    soft = np.exp(logits - logits.max(1, keepdims=True))
    assert np.allclose(soft / soft.sum(1, keepdims=True), probs, atol=max(tolerance, 0.05))


@pytest.mark.parametrize("name", SCREENER_TARGETS)
def test_model_card_entry_and_embedded_metadata(converted_all, name):
    from facescreen.converters.metadata import read_embedded
    from facescreen.edge.bundle import load_bundle

    bundle_dir, results, _ = converted_all
    card = load_bundle(bundle_dir).card
    entry = card.artifacts[name]
    target = __import__("facescreen.converters.targets", fromlist=["target"]).target(name)
    assert (entry["format"], entry["precision"]) == (target.format, target.precision)
    assert entry["parity"]["flag_agreement"] >= 0.99 and entry["parity"]["n_faces"] == results[name].parity.n_faces
    assert (entry["calibration"] is not None) == target.calibrated
    meta = read_embedded(bundle_dir / entry["file"], target.format)
    assert meta["model_card"]["model_id"] == card.model_id
    assert meta["model_card"]["threshold"] == card.threshold
    assert meta["precision"] == target.precision and meta["parity"]["passed"] is True
    if target.calibrated:
        assert meta["calibration"]["sha256"] == entry["calibration"]["sha256"]


def test_onnx_is_what_tensorrt_needs(converted):
    import onnx

    from facescreen.converters.to_onnx import tensorrt_problems

    bundle_dir, _, _ = converted
    model = onnx.load(str(bundle_dir / "onnx.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert [o.name for o in model.graph.output] == ["probs", "cam"]
    assert {o.domain or "ai.onnx": o.version for o in model.opset_import}["ai.onnx"] == 17
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [64, 64, 3]
    assert tensorrt_problems(model, 64) == []


def test_onnx_checks_catch_what_tensorrt_would_reject(converted):
    import onnx

    from facescreen.converters.to_onnx import tensorrt_problems

    bundle_dir, _, _ = converted
    model = onnx.load(str(bundle_dir / "onnx.onnx"))
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "height"  # dynamic spatial size
    model.graph.output[0].name = "Identity:0"
    model.opset_import[0].version = 13
    problems = " | ".join(tensorrt_problems(model, 64))
    assert "opset 13" in problems and "static spatial" in problems and "outputs are" in problems


def test_onnx_batch_is_dynamic(converted, split_faces):
    import onnxruntime as ort

    bundle_dir, _, _ = converted
    sess = ort.InferenceSession(str(bundle_dir / "onnx.onnx"))
    _, held = split_faces
    for n in (1, 5):
        probs, cam = sess.run(["probs", "cam"], {"image": held.batch()[:n]})
        assert probs.shape == (n, 2) and cam.shape[0] == n and cam.shape[-1] == 2


def test_onnx_int8_is_static_qdq_not_dynamic(converted):
    bundle_dir, _, _ = converted
    import onnx

    from facescreen.converters.to_onnx_int8 import quantized_ops
    from facescreen.edge.bundle import load_bundle
    from facescreen.edge.tensorrt_onnx import tensorrt_parse_problems

    ops = quantized_ops(bundle_dir / "onnx-int8.onnx")
    assert ops["DynamicQuantizeLinear"] == 0
    assert ops["QuantizeLinear"] > 0 and ops["int8_initializers"] >= ops["Conv"]
    # what TensorRT's parser takes (tensorrt-int8 is built from this graph): symmetric, float biases
    model = onnx.load(str(bundle_dir / "onnx-int8.onnx"))
    assert tensorrt_parse_problems(model) == []
    assert not [t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT32]
    # the stem convolution keeps float weights (to_onnx_int8.float_stem_nodes); every other one int8 weights
    dq_out = {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    floats = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert convs[0].input[1] in floats and all(c.input[1] in dq_out for c in convs[1:])
    assert load_bundle(bundle_dir).card.artifacts["onnx-int8"]["symmetric"] is True


def test_tflite_precisions_are_what_the_card_says(converted):
    from facescreen.converters.to_tflite import inspect

    bundle_dir, _, _ = converted
    info = {
        n: inspect((bundle_dir / f"{n}.tflite").read_bytes())
        for n in ("tflite-fp32", "tflite-fp16", "tflite-dynamic", "tflite-int8")
    }
    assert "float16" not in info["tflite-fp32"]["tensor_dtypes"]
    assert info["tflite-fp16"]["tensor_dtypes"].get("float16")
    assert info["tflite-dynamic"]["tensor_dtypes"].get("int8") and info["tflite-dynamic"]["input_dtype"] == "float32"
    assert info["tflite-int8"]["input_dtype"] == "int8" and info["tflite-int8"]["output_dtypes"] == ["int8"]
    sizes = {n: (bundle_dir / f"{n}.tflite").stat().st_size for n in info}
    assert sizes["tflite-int8"] < sizes["tflite-fp16"] < sizes["tflite-fp32"]


def test_parity_json_and_progress(converted):
    bundle_dir, results, lines = converted
    data = json.loads((bundle_dir / "parity.json").read_text())
    for name in SCREENER_CPU_TARGETS:
        row = data["artifacts"][name]
        assert row["status"] == "written" and row["parity"]["flag_agreement"] >= 0.99
        assert row["parity"]["runtime"] and row["parity"]["max_abs_prob_diff"] is not None
    assert data["held_out"]["n_faces"] == results["onnx"].parity.n_faces
    assert any(line.startswith("[1/") for line in lines)
    assert not list(bundle_dir.glob(".convert-*")), "staging directories must be cleaned up"


def test_summary_table_has_a_row_per_target(converted):
    from facescreen.converters.cli import summary_table

    _, results, _ = converted
    table = summary_table(list(results.values()))
    for name, r in results.items():
        row = next(line for line in table.splitlines() if line.startswith(name + " "))
        assert r.status in row
    assert "flag agree" in table.splitlines()[0]


def test_uint8_io_for_full_integer_tflite(fresh_bundle, split_faces):
    from facescreen.converters.convert import ConvertOptions, convert_bundle
    from facescreen.converters.targets import resolve_targets
    from facescreen.converters.to_tflite import inspect

    bundle = fresh_bundle
    calib, held = split_faces
    [r] = convert_bundle(
        bundle, resolve_targets("tflite-int8"), held, calib, ConvertOptions(int8_io="uint8"), progress=lambda s: None
    )
    assert r.status == "written", r.message
    info = inspect((bundle / "tflite-int8.tflite").read_bytes())
    assert info["input_dtype"] == "uint8" and info["output_dtypes"] == ["uint8"]
    assert r.parity.flag_agreement >= 0.99
