"""A tiny screener-shaped ONNX graph (input ``image`` [batch, S, S, 3], outputs ``probs`` and ``cam``),
built with onnx.helper, and its Q/DQ int8 version written by the real ``onnx-int8`` converter: real
graphs for the TensorRT stand-in to parse, build and run, at no Keras cost."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np

SIZE = 32


def fp32_model(size: int = SIZE, seed: int = 0):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array((rng.standard_normal((8, 3, 3, 3)) * 0.02).astype(np.float32), "w1"),
        numpy_helper.from_array((rng.standard_normal(8) * 0.1).astype(np.float32), "b1"),
        numpy_helper.from_array((rng.standard_normal((2, 8, 1, 1)) * 0.5).astype(np.float32), "w2"),
        numpy_helper.from_array(np.array([0.05, -0.05], np.float32), "b2"),
    ]
    nodes = [
        helper.make_node("Transpose", ["image"], ["nchw"], name="to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["logit_map"], name="head"),
        helper.make_node("Transpose", ["logit_map"], ["cam"], name="to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("GlobalAveragePool", ["logit_map"], ["pooled"], name="pool"),
        helper.make_node("Flatten", ["pooled"], ["logits"], name="flatten"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", size, size, 3])],
        [
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 2]),
            helper.make_tensor_value_info("cam", TensorProto.FLOAT, ["batch", size, size, 2]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def faces(n: int = 40, size: int = SIZE, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def int8_model_file(work: Path, size: int = SIZE) -> tuple[Path, dict]:
    """The Q/DQ graph ``converters/to_onnx_int8.build`` writes from :func:`fp32_model` (and its record)."""
    import onnx

    from facescreen.converters import to_onnx_int8
    from facescreen.converters.targets import target

    work.mkdir(parents=True, exist_ok=True)
    fp32 = work / "onnx.onnx"
    onnx.save(fp32_model(size), str(fp32))
    batch = faces(size=size)
    ctx = types.SimpleNamespace(
        calibration_faces=lambda t: types.SimpleNamespace(batch=lambda: batch),
        workdir=work / "staging",
        bundle=types.SimpleNamespace(card=types.SimpleNamespace(artifacts={"onnx": {}})),
        artifact_file=lambda name: fp32,
    )
    out = work / "onnx-int8.onnx"
    return out, to_onnx_int8.build(ctx, target("onnx-int8"), out)
