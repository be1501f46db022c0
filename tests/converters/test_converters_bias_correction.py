"""Bias correction of int8 weight rounding (``converters/bias_correction.py``; Nagel et al. 2019, 4.2).

The oracle is the convolution itself, run by ONNX Runtime: a convolution is linear, so once the bias
absorbs the weight rounding's expected shift, the corrected int8-weight graph's mean output over the
faces it was corrected on must equal the float graph's exactly (padding, stride and groups included),
which it does not before.
"""

from __future__ import annotations

import numpy as np
import pytest
import tiny_onnx

GROUPS = 2
IN, OUT, K, SIZE = 4, 6, 3, 8  # SAME padding of 8 at stride 2 is odd: upper and lower differ
# Conv attributes beside the groups: explicit padding and stride, each auto_pad of the ONNX spec, dilation
LAYOUTS = {
    "pads-stride": dict(pads=[1, 1, 1, 1], strides=[2, 2]),
    "same-upper": dict(auto_pad="SAME_UPPER", strides=[2, 2]),
    "same-lower": dict(auto_pad="SAME_LOWER", strides=[2, 2]),
    "valid": dict(auto_pad="VALID"),
    "dilated": dict(pads=[2, 1, 0, 1], dilations=[2, 2]),
}


def _conv_models(layout: dict, seed: int = 0):
    """A float grouped Conv without bias, and its hand-made int8-weight twin (per-channel symmetric
    scales, zero points 0, weights through a DequantizeLinear): the graph shape ``quantize_static``
    writes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = rng.standard_normal((OUT, IN // GROUPS, K, K)).astype(np.float32)
    scale = (np.abs(w).reshape(OUT, -1).max(axis=1) / 7).astype(np.float32)  # coarse: a visible rounding shift
    q = np.round(w / scale[:, None, None, None]).astype(np.int8)
    io = (
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", IN, SIZE, SIZE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", OUT, "h", "w"])],
    )
    conv = dict(name="conv", group=GROUPS, **layout)

    def model(nodes, inits):
        m = helper.make_model(helper.make_graph(nodes, "g", *io, inits), opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        return m

    fp = model([helper.make_node("Conv", ["x", "w"], ["y"], **conv)], [numpy_helper.from_array(w, "w")])
    qm = model(
        [
            helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w_dq"], axis=0),
            helper.make_node("Conv", ["x", "w_dq"], ["y"], **conv),
        ],
        [
            numpy_helper.from_array(q, "w_q"),
            numpy_helper.from_array(scale, "w_scale"),
            numpy_helper.from_array(np.zeros(OUT, np.int8), "w_zero"),
        ],
    )
    onnx.checker.check_model(qm, full_check=True)
    return fp, qm


def _mean_output(model, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0].astype(np.float64).mean(axis=(0, 2, 3))


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS)
def test_corrected_graph_has_the_float_graphs_mean_output(layout):
    from facescreen.converters.bias_correction import correct_biases

    fp, qm = _conv_models(layout)
    rng = np.random.default_rng(1)
    x = (rng.uniform(0, 3, (32, IN, 1, 1)) + rng.uniform(0, 1, (32, IN, SIZE, SIZE))).astype(np.float32)
    before = _mean_output(qm, x) - _mean_output(fp, x)
    assert np.abs(before).max() > 1e-2, "the planted rounding should shift the mean output"
    corrected = correct_biases(qm, fp, x)
    assert set(corrected) == {"conv"} and corrected["conv"] == pytest.approx(np.abs(before).max(), rel=1e-5)
    conv = next(n for n in qm.graph.node if n.op_type == "Conv")
    assert conv.input[2] == "conv_bias_correction"  # a Conv without bias gains a float one
    after = _mean_output(qm, x) - _mean_output(fp, x)
    assert np.abs(after).max() < 1e-5 * np.abs(_mean_output(fp, x)).max()


def test_the_converter_corrects_every_int8_weight_convolution(tmp_path, monkeypatch):
    """On the tiny screener the real ``onnx-int8`` converter corrects its one int8 convolution (the stem
    keeps float weights), the bias stays a float initialiser, and the mean shift of the logit map
    that the int8 graph gives the calibration faces falls."""
    import onnx
    import onnxruntime as ort

    from facescreen.converters import to_onnx_int8

    def cam_mean_shift(path) -> float:
        faces = tiny_onnx.faces()
        run = {
            name: ort.InferenceSession(m, providers=["CPUExecutionProvider"]).run(["cam"], {"image": faces})[0]
            for name, m in (("float", tiny_onnx.fp32_model().SerializeToString()), ("int8", str(path)))
        }
        return float(np.abs((run["int8"] - run["float"]).mean(axis=(0, 1, 2))).max())

    path, entry = tiny_onnx.int8_model_file(tmp_path / "corrected")
    assert entry["bias_correction"]["convolutions"] == 1 and entry["bias_correction"]["max_shift"] > 0
    biases = {t.name: t for t in onnx.load(str(path)).graph.initializer}
    assert biases["b2"].data_type == onnx.TensorProto.FLOAT
    monkeypatch.setattr(to_onnx_int8, "correct_biases", lambda model, float_model, batch: {})
    plain, _ = tiny_onnx.int8_model_file(tmp_path / "plain")
    assert cam_mean_shift(path) < cam_mean_shift(plain)
