"""Target ``onnx-int8``: ONNX Runtime STATIC quantisation, QDQ format, per-channel int8 weights.

Static, not dynamic: dynamic quantisation computes activation ranges at run time for every
MatMul/Conv and leaves convolutions slow (about 20x slower than static on conv nets in our
measurements); static QDQ bakes ranges measured on the calibration faces into the graph. The
fp32 ONNX is pre-processed (shape inference, graph optimisation) as ONNX Runtime recommends.
Scales are symmetric (every zero point 0: ``ActivationSymmetric``/``WeightSymmetric``), because
TensorRT's explicit quantisation accepts only symmetric Q/DQ (NVIDIA, "Working with Quantized Types")
and ``tensorrt-int8`` is built from this very graph on TensorRT 10 and later. Biases stay float
(:data:`QUANTIZE_OPTIONS`), and a graph TensorRT's parser would refuse is never written
(:func:`tensorrt_refusal`, the shared rule of ``edge.tensorrt_onnx``).
Weights are 7-bit (``reduce_range``, :data:`QUANTIZE_ARGS`): with 8-bit ones the same artifact answered
differently on an x86 CPU without VNNI (int16 saturation in ONNX Runtime's kernels) than on a VNNI CPU,
ARM or in the browser, and a graph that could saturate is never written (:func:`cpu_dependent_convs`).
The head's pooling, softmax and output nodes stay float (:func:`float_head_nodes`): they cost
nothing, and an int8 softmax would quantise the screening probability itself to steps of 1/256. So does
the stem convolution's weights (:func:`float_stem_nodes`), where int8 costs most accuracy. The shift that
rounding the weights gives each output channel on average is taken out of its float bias
(:mod:`.bias_correction`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .bias_correction import correct_biases, int8_weight_convs
from .errors import ConversionError
from .targets import Target

MAX_CALIBRATION_FACES = 300


class FaceReader:
    """``onnxruntime.quantization.CalibrationDataReader`` over aligned calibration faces, one per call."""

    def __init__(self, input_name: str, batch: np.ndarray) -> None:
        self.input_name = input_name
        self._batch = batch
        self._i = 0

    def get_next(self) -> dict | None:
        if self._i >= len(self._batch):
            return None
        x = self._batch[self._i : self._i + 1]
        self._i += 1
        return {self.input_name: x}

    def rewind(self) -> None:
        self._i = 0


def _reader_class():
    from onnxruntime.quantization import CalibrationDataReader

    return type("FaceCalibrationReader", (FaceReader, CalibrationDataReader), {})


FLOAT_HEAD_OPS = ("Softmax", "GlobalAveragePool", "ReduceMean")


def float_head_nodes(model) -> list[str]:
    """Names of the head's nodes kept in float: pooling/softmax and whatever produces a graph output."""
    outputs = {o.name for o in model.graph.output}
    return [n.name for n in model.graph.node if n.op_type in FLOAT_HEAD_OPS or outputs.intersection(n.output)]


def float_stem_nodes(model) -> list[str]:
    """The first convolution (the one over the image) keeps float weights. With batch normalisation folded
    in, its 3-channel kernels span the widest ranges of the network, and int8 rounding of them cost the
    most: on the test fixture's ResNet-18 one held-out face's probability moved by 0.37 (max |dp| 0.381
    with the stem's weights int8, 0.011 with them float; keeping any other single node float left
    >= 0.28), for about 1% of VGG-16's arithmetic. That was measured on an AVX2 CPU without VNNI with
    8-bit weights, where the stem (its input, the image, reaches the kernel as u8 128..255) saturates
    most; with 7-bit weights the float stem still halves the demo's max |dp| (docs/jetson.md). Its input
    stays Q/DQ int8 where the producer is quantised; TensorRT runs the convolution in FP16 (the INT8 +
    FP16 recipe). ONNX lists nodes in topological order, so the first Conv is the stem."""
    return [n.name for n in model.graph.node if n.op_type == "Conv"][:1]


def float_nodes(model) -> list[str]:
    """Every node ``onnx-int8`` leaves in float: the stem convolution and the head."""
    return float_stem_nodes(model) + float_head_nodes(model)


def quantized_ops(path: Path) -> dict:
    """Counts that prove the graph is statically quantised: QDQ pairs and int8 weight initialisers."""
    import onnx

    model = onnx.load(str(path))
    ops: dict[str, int] = {}
    for n in model.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    int8_inits = sum(1 for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8)
    return {
        "QuantizeLinear": ops.get("QuantizeLinear", 0),
        "DequantizeLinear": ops.get("DequantizeLinear", 0),
        "Conv": ops.get("Conv", 0),
        "DynamicQuantizeLinear": ops.get("DynamicQuantizeLinear", 0),
        "int8_initializers": int8_inits,
    }


def tensorrt_refusal(model) -> list[str]:
    """Why TensorRT's ONNX parser would refuse this Q/DQ graph (``edge.tensorrt_onnx``, the rule the
    tests' stand-in parser enforces too); empty when it would parse."""
    from facescreen.edge.tensorrt_onnx import tensorrt_parse_problems

    return tensorrt_parse_problems(model)


# ONNX Runtime's x86 int8 kernels on CPUs without VNNI (SSE4.1, AVX2, AVX-512 before VNNI) multiply u8
# activations by s8 weights with (V)PMADDUBSW, which adds each pair of neighbouring products into an int16
# that SATURATES at 32767 (MLAS's U8S8 kernels, e.g. ``SymQgemmU8KernelAvx512.asm``: VPMADDUBSW on AVX-512
# core, VPDPBUSDS with VNNI; ``MlasPlatformU8S8Overflow``;
# ONNX Runtime's quantisation guide, "When and why do I need to try U8U8?"). Our S8 activations reach
# those kernels as u8: on x86 (and in WebAssembly) ONNX Runtime shifts every S8 activation Q/DQ to U8,
# zero point 128 (``QDQS8ToU8Transformer``, since ``QDQIsInt8Allowed()`` is false off ARM), so after a ReLU
# every activation lies in [128, 255]. Two 8-bit weights of one sign (|w| up to 127) then sum to up to
# 2 * 255 * 127 = 64770, and the same artifact answers differently on an AVX2-only CPU than on a VNNI CPU,
# ARM or the browser (exact int32 sums). 7-bit weights (``reduce_range``: [-64, 64]) cannot: 2 * 255 * 64 =
# 32640. U8U8 would avoid it too but is not symmetric, which TensorRT's explicit quantisation requires.
INT16_MAX = 32767
U8_MAX = 255
QUANTIZE_ARGS = {"per_channel": True, "reduce_range": True}


def int8_weight_pair_sums(model) -> dict[str, int]:
    """For every Conv with int8 weights (behind a DequantizeLinear): the largest |a1*w1 + a2*w2| the
    VPMADDUBSW of a CPU without VNNI can meet, over activations a in [0, 255] (any u8) and any two weights
    of one output channel (same-sign pairs are the worst; the kernel's pairing of K is not assumed). Above
    :data:`INT16_MAX` the sum saturates on such a CPU."""
    from onnx import TensorProto, numpy_helper

    int8 = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer if t.data_type == TensorProto.INT8}
    sums = {}
    for conv, dq in int8_weight_convs(model):
        w = int8[dq.input[0]].astype(np.int64)
        w = w.reshape(w.shape[0], -1)  # [out, in * kh * kw]: one row per output channel
        sums[conv.name] = U8_MAX * max(_two_largest(np.clip(w, 0, None)), _two_largest(np.clip(-w, 0, None)))
    return sums


def _two_largest(rows: np.ndarray) -> int:
    """The largest sum of two entries of one row."""
    return int(np.sort(rows, axis=1)[:, -2:].sum(axis=1).max())


def cpu_dependent_convs(model) -> dict[str, int]:
    """The int8 convolutions whose answer would depend on the CPU (:func:`int8_weight_pair_sums` over
    :data:`INT16_MAX`); empty for a graph every x86 kernel computes exactly."""
    return {k: v for k, v in int8_weight_pair_sums(model).items() if v > INT16_MAX}


# ONNX Runtime's quantize_static options. QuantizeBias False keeps each Conv bias a float initialiser:
# with the default (True) every bias becomes an INT32 tensor behind a DequantizeLinear, which ONNX Runtime
# runs and TensorRT refuses (IDequantizeLayer takes INT8/FP8/INT4 only: NvInfer.h 10.3; NVIDIA/TensorRT
# issue 4542). TensorRT fuses the float bias into its int8 convolution itself.
QUANTIZE_OPTIONS = {"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False}


def build(ctx, target: Target, out: Path) -> dict:
    import onnx
    import onnxruntime
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quant_pre_process, quantize_static

    from .to_onnx import OPSET, export_onnx

    faces = ctx.calibration_faces(target)
    work = ctx.workdir / target.name
    work.mkdir(parents=True, exist_ok=True)
    fp32 = work / "fp32.onnx"
    if "onnx" in ctx.bundle.card.artifacts:
        fp32.write_bytes(ctx.artifact_file("onnx").read_bytes())  # the verified fp32 export
    else:
        onnx.save(export_onnx(ctx), str(fp32))
    prep = work / "prep.onnx"
    quant_pre_process(str(fp32), str(prep))
    batch = faces.batch()[:MAX_CALIBRATION_FACES]
    prepared = onnx.load(str(prep))
    keep_float = float_nodes(prepared)
    reader = _reader_class()(prepared.graph.input[0].name, batch)
    quantize_static(
        str(prep),
        str(out),
        reader,
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=keep_float,
        extra_options=dict(QUANTIZE_OPTIONS),
        **QUANTIZE_ARGS,
    )
    counts = quantized_ops(out)
    if counts["DynamicQuantizeLinear"] or not counts["QuantizeLinear"] or counts["int8_initializers"] < counts["Conv"]:
        raise ConversionError(
            f"{target.name}: the result is not a static per-channel QDQ int8 graph ({counts}); "
            f"refusing to write it as int8"
        )
    model = onnx.load(str(out))
    refused = tensorrt_refusal(model)
    if refused:
        raise ConversionError(
            f"{target.name}: TensorRT's ONNX parser would refuse this graph, and tensorrt-int8 is built from it: "
            + "; ".join(refused[:3])
            + (f" (and {len(refused) - 3} more)" if len(refused) > 3 else "")
        )
    saturating = cpu_dependent_convs(model)
    if saturating:
        worst = max(saturating, key=saturating.__getitem__)
        raise ConversionError(
            f"{target.name}: the int8 weights of {len(saturating)} convolutions can overflow the int16 pair sums of "
            f"ONNX Runtime's x86 kernels on CPUs without VNNI (VPMADDUBSW; up to {saturating[worst]} > {INT16_MAX} "
            f"in {worst!r}), so this artifact's answer would depend on the CPU it runs on; quantise the weights "
            f"to 7 bits (reduce_range)"
        )
    corrected = correct_biases(model, prepared, batch)  # float biases only, so the checks above still hold
    onnx.save(model, str(out))
    onnx.checker.check_model(model, full_check=True)
    pair_sums = int8_weight_pair_sums(model)
    return {
        "quantization": "static QDQ, S8S8 symmetric (zero points 0), per-channel 7-bit weights, float biases and "
        "stem, MinMax calibration, weight-rounding bias correction",
        "bias_correction": {
            "method": "Nagel et al. 2019, per-channel input means of the float model on the calibration faces",
            "convolutions": len(corrected),
            "max_shift": max(corrected.values(), default=0.0),
        },
        "max_int8_pair_sum": max(pair_sums.values(), default=0),  # <= 32767: the same answer on every x86 CPU
        "tensorrt_parsable": True,
        "symmetric": True,
        "n_calibration_faces": len(batch),
        "quantized_ops": counts,
        "float_nodes": keep_float,
        "opset": OPSET,
        "output_names": [o.name for o in model.graph.output],
        "toolchain": {"onnxruntime_quantization": onnxruntime.__version__, "onnx": onnx.__version__},
    }
