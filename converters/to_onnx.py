"""Target ``onnx``: opset 17, dynamic batch, outputs named ``probs`` and ``cam``.

Exported with ``tf2onnx.convert.from_function`` from the same inference function as every other
format (``tf2onnx.convert.from_keras`` does not support Keras 3). It is also what TensorRT builds
from, so :func:`tensorrt_problems` checks what TensorRT's ONNX parser needs (the op and type rules are
``edge.tensorrt_onnx``'s, shared with ``onnx-int8`` and the tests' stand-in TensorRT).
"""

from __future__ import annotations

from pathlib import Path

from facescreen.edge.tensorrt_onnx import tensorrt_parse_problems

from .errors import ConversionError
from .source import OUTPUT_NAMES
from .targets import Target

OPSET = 17  # what TensorRT 10's ONNX parser and ONNX Runtime's QDQ tooling are tested with
BATCH_DIM = "batch"


def export_onnx(ctx, opset: int = OPSET):
    """The fp32 ONNX ModelProto with named, ordered outputs and a named dynamic batch dimension."""
    import onnx

    from .tf_export import onnx_from_function

    proto = onnx_from_function(ctx.source.serve, ctx.source.input_shape, sorted(OUTPUT_NAMES), opset=opset)
    outputs = {o.name: o for o in proto.graph.output}
    ordered = [outputs[n] for n in OUTPUT_NAMES]
    copies = [onnx.ValueInfoProto() for _ in ordered]
    for c, o in zip(copies, ordered):
        c.CopyFrom(o)
    del proto.graph.output[:]
    proto.graph.output.extend(copies)
    for value in list(proto.graph.input) + list(proto.graph.output):
        dim0 = value.type.tensor_type.shape.dim[0]
        dim0.ClearField("dim_value")
        dim0.dim_param = BATCH_DIM
    onnx.checker.check_model(proto, full_check=True)
    return proto


def tensorrt_problems(proto, size: int) -> list[str]:
    """What would stop (or silently slow) a TensorRT build from this ONNX; empty when fine."""
    problems = []
    opsets = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    if opsets.get("ai.onnx") != OPSET:
        problems.append(f"opset {opsets.get('ai.onnx')} (expected {OPSET})")
    if len(proto.graph.input) != 1:
        problems.append(f"{len(proto.graph.input)} graph inputs (expected 1)")
    for value in proto.graph.input:
        dims = value.type.tensor_type.shape.dim
        got = [d.dim_param or d.dim_value for d in dims]
        if len(dims) != 4 or not dims[0].dim_param or [d.dim_value for d in dims[1:]] != [size, size, 3]:
            problems.append(
                f"input {value.name} has shape {got}; expected [batch, {size}, {size}, 3] "
                f"(dynamic batch, static spatial and channel dimensions)"
            )
    names = [o.name for o in proto.graph.output]
    if names != list(OUTPUT_NAMES):
        problems.append(f"outputs are {names}; expected {list(OUTPUT_NAMES)}")
    return problems + tensorrt_parse_problems(proto)


def build(ctx, target: Target, out: Path) -> dict:
    import onnx
    import tf2onnx

    proto = export_onnx(ctx)
    trt = tensorrt_problems(proto, ctx.source.size)
    onnx.save(proto, str(out))
    if not out.stat().st_size:
        raise ConversionError(f"{target.name}: wrote an empty ONNX file")
    return {
        "opset": OPSET,
        "input_name": proto.graph.input[0].name,
        "output_names": list(OUTPUT_NAMES),
        "dynamic_batch": True,
        "tensorrt_ready": not trt,
        "tensorrt_problems": trt,
        "toolchain": {"tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__},
    }
