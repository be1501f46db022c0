"""One ``onnx-int8`` artifact, one answer on every CPU: its int8 weights cannot overflow the int16 pair
sums of ONNX Runtime's x86 kernels on CPUs without VNNI.

The oracle is Intel's definition of the instruction those kernels use (Intel SDM vol. 2, PMADDUBSW,
"Multiply and Add Packed Signed and Unsigned Bytes": each unsigned byte of the first operand times the
signed byte of the second, adjacent products added "and the saturated result packed to the
destination" as a signed word), emulated here on the real activations the tiny graph's head convolution
receives, against the exact int32 sum that VNNI CPUs, ARM and WebAssembly compute. The activations
arrive as ONNX Runtime's x86 and WebAssembly builds feed them: S8 shifted to U8 (``QDQS8ToU8Transformer``).
"""

from __future__ import annotations

import numpy as np
import pytest
import tiny_onnx

from facescreen.converters.errors import ConversionError

INT16 = np.iinfo(np.int16)


def pmaddubsw_dot(u8: np.ndarray, s8: np.ndarray) -> np.ndarray:
    """Dot products over the last axis as (V)PMADDUBSW + PMADDWD compute them: adjacent pairs summed
    with int16 saturation, then the pairs summed exactly in int32."""
    u8, s8 = u8.astype(np.int64), s8.astype(np.int64)
    if u8.shape[-1] % 2:
        u8, s8 = (np.concatenate([a, np.zeros(a.shape[:-1] + (1,), np.int64)], -1) for a in (u8, s8))
    pairs = u8[..., 0::2, None] * s8[..., 0::2, :] + u8[..., 1::2, None] * s8[..., 1::2, :]
    return np.clip(pairs, INT16.min, INT16.max).sum(axis=-2)


def head_conv_operands(path) -> tuple[np.ndarray, np.ndarray]:
    """(u8 activations [pixels, in], int8 weights [in, out]) of the tiny graph's 1x1 head convolution, on
    the calibration faces, read from the graph ONNX Runtime runs."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(str(path))
    head = next(n for n in model.graph.node if n.op_type == "Conv" and n.name == "head")
    producers = {o: n for n in model.graph.node for o in n.output}
    x_q = producers[head.input[0]].input[0]  # DequantizeLinear <- QuantizeLinear's int8 output
    w_q = producers[head.input[1]].input[0]
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    model.graph.output.append(onnx.helper.make_tensor_value_info(x_q, onnx.TensorProto.INT8, None))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (q,) = sess.run([x_q], {"image": tiny_onnx.faces()})
    u8 = (q.astype(np.int64) + 128).transpose(0, 2, 3, 1).reshape(-1, q.shape[1])  # S8 -> U8, zero point 128
    return u8, inits[w_q][:, :, 0, 0].T


def test_int8_weights_cannot_saturate_an_int16_pair_sum(tmp_path):
    import onnx

    from facescreen.converters.to_onnx_int8 import INT16_MAX, int8_weight_pair_sums

    path, entry = tiny_onnx.int8_model_file(tmp_path)
    sums = int8_weight_pair_sums(onnx.load(str(path)))
    assert set(sums) == {"head"} and entry["max_int8_pair_sum"] == sums["head"] <= INT16_MAX
    u8, w = head_conv_operands(path)
    assert np.abs(w).max() <= 64  # 7-bit weights
    exact = u8 @ w
    assert np.array_equal(pmaddubsw_dot(u8, w), exact)  # a CPU without VNNI computes what the others do


def test_8_bit_weights_would_make_the_answer_depend_on_the_cpu(tmp_path, monkeypatch):
    """The converter before reduce_range, planted: its graph saturates under PMADDUBSW on these very
    faces, and the converter refuses to write it."""
    from facescreen.converters import to_onnx_int8

    monkeypatch.setitem(to_onnx_int8.QUANTIZE_ARGS, "reduce_range", False)
    with pytest.raises(ConversionError, match=r"overflow the int16 pair sums.*VPMADDUBSW.*'head'.*reduce_range"):
        tiny_onnx.int8_model_file(tmp_path)
    # the file quantize_static wrote before the refusal: what an AVX2-only CPU would compute from it
    u8, w = head_conv_operands(tmp_path / "onnx-int8.onnx")
    assert np.abs(w).max() == 127
    saturated = pmaddubsw_dot(u8, w) != u8 @ w
    assert saturated.any(), "the planted 8-bit graph should saturate on these faces"
