"""TensorFlow-side export helpers shared by the TFLite, ONNX and MTCNN targets.

Keras 3 models go out through a SavedModel written by ``keras.export.ExportArchive``: the TFLite
converter's ``from_concrete_functions`` route silently drops the variables of a Keras 3 model (the
weights come out uninitialised), and ``tf2onnx.convert.from_keras`` does not support Keras 3. The
SavedModel route (TFLite) and ``tf2onnx.convert.from_function`` (ONNX) both keep the weights; the
parity check after every conversion proves it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np


def input_signature(shape: list[int | None], name: str = "image"):
    import tensorflow as tf

    return [tf.TensorSpec(shape, tf.float32, name=name)]


def write_saved_model(model, fn: Callable, shape: list[int | None], out_dir: Path) -> Path:
    """A SavedModel with one endpoint ``serve(image) -> dict`` that tracks ``model``'s weights."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", fn, input_signature=input_signature(shape))
    archive.write_out(str(out_dir), verbose=False)
    return out_dir


def tflite_converter(saved_model_dir: Path):
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=["serve"])


def onnx_from_function(fn: Callable, shape: list[int | None], output_names: list[str], opset: int):
    """``tf2onnx.convert.from_function``; graph outputs renamed to ``output_names``, which must be
    the function's dict keys in sorted order (tf.nest flattens dicts by sorted key)."""
    import tensorflow as tf
    import tf2onnx

    spec = input_signature(shape)
    model_proto, _ = tf2onnx.convert.from_function(
        tf.function(fn, input_signature=spec), input_signature=spec, opset=opset
    )
    outs = list(model_proto.graph.output)
    if len(outs) != len(output_names):
        raise RuntimeError(f"tf2onnx produced {len(outs)} outputs, expected {len(output_names)} ({output_names})")
    for out, new in zip(outs, output_names):
        rename_value(model_proto.graph, out.name, new)
    return model_proto


def rename_value(graph, old: str, new: str) -> None:
    """Rename a tensor everywhere in an ONNX graph (producer, consumers, graph outputs)."""
    for node in graph.node:
        node.output[:] = [new if o == old else o for o in node.output]
        node.input[:] = [new if i == old else i for i in node.input]
    for vi in list(graph.output) + list(graph.value_info):
        if vi.name == old:
            vi.name = new


def add_tflite_metadata(model: bytes, name: str, payload: dict) -> bytes:
    """Embed ``payload`` as JSON in the flatbuffer's ``metadata`` table under ``name`` (the same
    place LiteRT keeps ``min_runtime_version``); runtimes ignore entries they do not know."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    buf = schema.BufferT()
    buf.data = np.frombuffer(json.dumps(payload, sort_keys=True).encode(), dtype=np.uint8)
    obj.buffers.append(buf)
    meta = schema.MetadataT()
    meta.name = name.encode()
    meta.buffer = len(obj.buffers) - 1
    obj.metadata = list(obj.metadata or []) + [meta]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))


def read_tflite_metadata(model: bytes, name: str) -> dict | None:
    """The JSON embedded by :func:`add_tflite_metadata`, or None."""
    from tensorflow.lite.tools import flatbuffer_utils

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    for meta in obj.metadata or []:
        if meta.name.decode() == name:
            return json.loads(bytes(obj.buffers[meta.buffer].data).decode())
    return None
