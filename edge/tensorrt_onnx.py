"""What TensorRT's ONNX parser accepts, as NVIDIA documents it: one rule for the converters' gate
(``converters/to_onnx.py``, ``converters/to_onnx_int8.py``) and the stand-in TensorRT of the tests.

It lives on the ground floor because both sides need it without importing each other: the converters
refuse to write a graph TensorRT could not parse, and the stand-in parser (tests/converters/
fake_tensorrt.py) refuses the same graph, so a test that plants one sees both refusals.

Sources, TensorRT 10.3 (JetPack 6.1/6.2):

- onnx/onnx-tensorrt ``docs/operators.md``, "Operator Support Matrix" (branch 10.1-GA, the newest one
  published; TensorRT 10.3 ships the same parser rows for every op below): the op names and their
  "Supported Types" column, e.g. ``DequantizeLinear | Y | INT8, FP8, INT4 | x_zero_point must be zero``
  and ``QuantizeLinear | Y | FP32, FP16, BF16 | y_zero_point must be 0``.
- NVIDIA/TensorRT ``include/NvInfer.h`` (release/10.3), ``class IDequantizeLayer`` (doc comment above
  it): "The input type, if constrained, must be constrained to DataType::kINT8, DataType::kFP8 or
  DataType::kINT4", "\\p zeroPt must only contain zero-valued coefficients, because only symmetric
  quantization is supported", and "All \\p scale coefficients must have positive values"; the same
  for ``class IQuantizeLayer`` on its output.
- onnx-tensorrt ``onnxOpImporters.cpp``, ``QuantDequantLinearHelper``: a Q/DQ without a zero point
  quantises to INT8 ("ONNX default is UINT8, TRT will default to INT8"); a UINT8 data input is refused.

NVIDIA/TensorRT issue 4542 is the failure this rule exists for: ONNX Runtime's ``quantize_static``
(``QuantizeBias`` left at its default) writes each Conv bias as an INT32 initialiser behind a
``DequantizeLinear``, which ONNX Runtime runs and TensorRT's IDequantizeLayer refuses.
"""

from __future__ import annotations

import numpy as np

# ONNX TensorProto.DataType numbers (onnx/onnx.proto3, "enum DataType") -> operators.md's type names.
ONNX_TYPE_NAMES = {
    1: "FP32",
    2: "UINT8",
    3: "INT8",
    6: "INT32",
    7: "INT64",
    9: "BOOL",
    10: "FP16",
    11: "DOUBLE",
    16: "BF16",
    17: "FP8",  # FLOAT8E4M3FN, the FP8 TensorRT quantises to
    22: "INT4",
}
FLOATS = ("FP32", "FP16", "BF16")
INDEX = ("FP32", "FP16", "BF16", "INT32", "INT64", "BOOL")
ARITH = ("FP32", "FP16", "BF16", "INT32", "INT64")

# operators.md, "Operator Support Matrix": op -> "Supported Types" of its data input, for the ops
# facescreen's screeners and detectors are made of (any op not listed here is refused, so a new op
# in a graph is looked up in operators.md before it ships).
SUPPORTED_OPS: dict[str, tuple[str, ...]] = {
    "Add": ARITH,
    "AveragePool": FLOATS,
    "BatchNormalization": FLOATS,
    "Cast": ("FP32", "FP16", "BF16", "INT32", "INT64", "UINT8", "BOOL"),
    "Clip": FLOATS,
    "Concat": INDEX,
    "Constant": INDEX,
    "Conv": FLOATS,
    "DequantizeLinear": ("INT8", "FP8", "INT4"),
    "Div": ARITH,
    "Flatten": INDEX,
    "Gather": INDEX,
    "Gemm": FLOATS,
    "GlobalAveragePool": FLOATS,
    "GlobalMaxPool": FLOATS,
    "HardSigmoid": FLOATS,
    "HardSwish": FLOATS,
    "Identity": INDEX,
    "LeakyRelu": FLOATS,
    "MatMul": FLOATS,
    "MaxPool": FLOATS,
    "Mul": ARITH,
    "Pad": ARITH,
    "PRelu": FLOATS,
    "QuantizeLinear": FLOATS,
    "ReduceMax": ARITH,
    "ReduceMean": ARITH,
    "Relu": ARITH,
    "Reshape": INDEX,
    "Resize": FLOATS,
    "Shape": INDEX,
    "Sigmoid": FLOATS,
    "Slice": INDEX,
    "Softmax": FLOATS,
    "Squeeze": INDEX,
    "Sub": ARITH,
    "Transpose": INDEX,
    "Unsqueeze": INDEX,
}
# IQuantizeLayer's output / IDequantizeLayer's input (NvInfer.h 10.3): the quantised types.
QUANTIZED_TYPES = ("INT8", "FP8", "INT4")
Q_OPS = ("QuantizeLinear", "DequantizeLinear")


def _type_name(elem_type: int) -> str:
    return ONNX_TYPE_NAMES.get(int(elem_type), f"ONNX type {int(elem_type)}")


def _known_types(model) -> dict[str, str]:
    """Element type of every tensor the graph declares: initialisers, inputs, outputs, value_info,
    Constant nodes, and Q outputs (the zero point's type, else the ``output_dtype`` attribute, else
    INT8 as TensorRT's parser chooses)."""
    g = model.graph
    types = {t.name: _type_name(t.data_type) for t in g.initializer}
    for v in list(g.input) + list(g.output) + list(g.value_info):
        if v.type.HasField("tensor_type") and v.type.tensor_type.elem_type:
            types.setdefault(v.name, _type_name(v.type.tensor_type.elem_type))
    for n in g.node:
        attrs = {a.name: a for a in n.attribute}
        if n.op_type == "Constant" and "value" in attrs:
            types[n.output[0]] = _type_name(attrs["value"].t.data_type)
        elif n.op_type == "QuantizeLinear":
            zp = n.input[2] if len(n.input) > 2 and n.input[2] else None
            if zp is not None and zp in types:
                types[n.output[0]] = types[zp]
            elif "output_dtype" in attrs and attrs["output_dtype"].i:
                types[n.output[0]] = _type_name(attrs["output_dtype"].i)
            else:
                types[n.output[0]] = "INT8"
    return types


def _constant_values(model) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    values[n.output[0]] = numpy_helper.to_array(a.t)
    return values


def _qdq_problems(node, types: dict[str, str], values: dict[str, np.ndarray]) -> list[str]:
    where = f"{node.op_type} {node.name or node.output[0]!r}"
    problems = []
    data = types.get(node.input[0])
    allowed = SUPPORTED_OPS[node.op_type]
    if data is not None and data not in allowed:
        problems.append(
            f"{where}: input {node.input[0]!r} is {data}; TensorRT's {node.op_type} takes {', '.join(allowed)} "
            f"(onnx-tensorrt operators.md; NvInfer.h I{node.op_type.replace('Linear', '')}Layer)"
        )
    scale = values.get(node.input[1]) if len(node.input) > 1 else None
    if scale is not None and not np.all(scale > 0):
        problems.append(f"{where}: scale {node.input[1]!r} has a coefficient <= 0; TensorRT needs positive scales")
    zp = node.input[2] if len(node.input) > 2 and node.input[2] else None
    if zp is not None:
        if types.get(zp) not in QUANTIZED_TYPES:
            problems.append(
                f"{where}: zero point {zp!r} is {types.get(zp, 'of unknown type')}; TensorRT quantises to "
                f"{', '.join(QUANTIZED_TYPES)} only"
            )
        if zp not in values:
            problems.append(f"{where}: zero point {zp!r} is not a constant; TensorRT must see that it is zero")
        elif np.any(values[zp].astype(np.float64) != 0):
            problems.append(
                f"{where}: zero point {zp!r} is not zero; TensorRT supports symmetric quantisation only "
                f"(operators.md: zero point must be zero)"
            )
    return problems


def tensorrt_parse_problems(model) -> list[str]:
    """Why TensorRT 10.3's ONNX parser would refuse ``model`` (an ``onnx.ModelProto``); empty when it
    would not: an op outside :data:`SUPPORTED_OPS` or in a custom domain, a Q/DQ whose data input
    is of a type TensorRT does not take for it (an INT32 bias behind DequantizeLinear), a zero point
    that is not a constant zero of a quantised type, or a scale that is not positive."""
    problems = []
    custom = sorted({n.domain for n in model.graph.node if n.domain not in ("", "ai.onnx")})
    if custom:
        problems.append(f"custom op domains {custom}: TensorRT's ONNX parser imports only the default domain")
    unsupported = sorted({n.op_type for n in model.graph.node if n.op_type not in SUPPORTED_OPS})
    if unsupported:
        problems.append(f"ops outside TensorRT's supported set (onnx-tensorrt operators.md): {unsupported}")
    types = _known_types(model)
    values = _constant_values(model)
    for n in model.graph.node:
        if n.op_type in Q_OPS:
            problems += _qdq_problems(n, types, values)
    return problems
