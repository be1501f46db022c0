"""Targets ``tflite-fp32``, ``tflite-fp16``, ``tflite-dynamic`` and ``tflite-int8`` (LiteRT).

All four start from the same SavedModel (see :mod:`converters.tf_export`); each precision is a
converter setting, and each result is inspected so that a precision asked for is a precision got:
fp16 must carry float16 weights, dynamic-range int8 weights, full-integer int8/uint8 input and
output (``TFLITE_BUILTINS_INT8`` makes the converter fail rather than keep a float op).

A full-integer model's probability output is quantised too (LiteRT's int8 softmax: scale 1/256,
zero point -128, so probabilities move in steps of 0.0039 and top out at 0.996). Keeping that one
output in float would need a float softmax in an otherwise integer graph, which is what
``TFLITE_BUILTINS_INT8`` forbids; so the step is recorded instead (``output_quantisation`` and
``threshold_resolution`` in the artifact's card entry), and a card threshold that the quantised
scores, after the card's temperature, cannot resolve is refused here and by the edge Screener.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ConversionError
from .targets import Target

MAX_REPRESENTATIVE_FACES = 300


def _configure(converter, ctx, target: Target) -> dict:
    import tensorflow as tf

    p = target.precision
    if p == "fp32":
        return {}
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if p == "fp16":
        converter.target_spec.supported_types = [tf.float16]
        return {}
    if p == "dynamic-int8":
        return {"quantization": "dynamic range: int8 weights, float32 activations"}
    if p == "int8":
        faces = ctx.calibration_faces(target)
        batch = faces.batch()[:MAX_REPRESENTATIVE_FACES]

        def representative():
            for i in range(len(batch)):
                yield [batch[i : i + 1]]

        io = {"int8": tf.int8, "uint8": tf.uint8}[ctx.options.int8_io]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = io
        converter.inference_output_type = io
        return {
            "quantization": "full integer, per-channel weights",
            "io_dtype": ctx.options.int8_io,
            "n_representative_faces": len(batch),
        }
    raise ConversionError(f"{target.name}: no TFLite recipe for precision {p!r}")


def inspect(model: bytes) -> dict:
    """Tensor dtypes of a converted model, from the LiteRT interpreter itself."""
    from facescreen.edge.tflite import tflite_runtime

    it = tflite_runtime().Interpreter(model_content=model)
    dtypes: dict[str, int] = {}
    for d in it.get_tensor_details():
        name = np.dtype(d["dtype"]).name
        dtypes[name] = dtypes.get(name, 0) + 1
    return {
        "input_dtype": np.dtype(it.get_input_details()[0]["dtype"]).name,
        "output_dtypes": sorted({np.dtype(d["dtype"]).name for d in it.get_output_details()}),
        "tensor_dtypes": dtypes,
    }


def check_precision(info: dict, target: Target, io_dtype: str) -> None:
    """Fail loudly when the converter did not deliver the precision asked for."""
    t = info["tensor_dtypes"]
    p = target.precision
    problem = None
    if p == "fp16" and not t.get("float16"):
        problem = "no float16 weights in the converted model"
    elif p == "dynamic-int8" and not t.get("int8"):
        problem = "no int8 weights in the converted model"
    elif p == "int8":
        if info["input_dtype"] != io_dtype or info["output_dtypes"] != [io_dtype]:
            problem = f"input {info['input_dtype']} / outputs {info['output_dtypes']} are not {io_dtype}"
        elif t.get("float32"):
            problem = f"{t['float32']} float32 tensors remain in a full-integer model"
    if problem:
        raise ConversionError(f"{target.name}: {problem}; refusing to write it as {p}")


def output_quantisation(model: bytes, card) -> dict:
    """The probability output's quantisation, and the score step at the card's threshold; raises
    ConversionError when no quantised score lies on one side of the threshold."""
    from facescreen.edge.postprocess import representable_scores, threshold_resolution
    from facescreen.edge.tflite import tflite_runtime

    it = tflite_runtime().Interpreter(model_content=model)
    probs = [d for d in it.get_output_details() if len(d["shape"]) == 2]
    if len(probs) != 1:
        raise ConversionError(
            f"expected one (N, K) probability output, got shapes {[list(d['shape']) for d in it.get_output_details()]}"
        )
    d = probs[0]
    scale, zero = d["quantization"]
    info = np.iinfo(d["dtype"])
    q = {
        "scale": float(scale),
        "zero_point": int(zero),
        "qmin": int(info.min),
        "qmax": int(info.max),
        "dtype": np.dtype(d["dtype"]).name,
    }
    scores = representable_scores(
        q["scale"], q["zero_point"], q["qmin"], q["qmax"], len(card.positive_classes), card.temperature
    )
    try:
        step = threshold_resolution(card.threshold, scores)
    except ValueError as exc:
        raise ConversionError(f"int8 output: {exc}") from None
    return {"output_quantisation": q, "threshold_resolution": step}


def build(ctx, target: Target, out: Path) -> dict:
    import tensorflow as tf

    from .tf_export import tflite_converter

    converter = tflite_converter(ctx.source.saved_model)
    extra = _configure(converter, ctx, target)
    model = converter.convert()
    info = inspect(model)
    check_precision(info, target, ctx.options.int8_io)
    if target.precision == "int8":
        extra.update(output_quantisation(model, ctx.bundle.card))
    out.write_bytes(model)
    return {
        **extra,
        "input_dtype": info["input_dtype"],
        "toolchain": {"tflite_converter": f"tensorflow {tf.__version__}"},
    }
