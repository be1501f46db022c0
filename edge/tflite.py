"""The one place that finds a TFLite (LiteRT) interpreter.

Every ``.tflite`` file facescreen runs goes through here: the screener's LiteRT backend, the
converted MTCNN networks, both face-mesh landmarkers and the converters' own checks. The order is
ai-edge-litert (the maintained runtime; ``facescreen[edge]``), then tflite_runtime (older Jetson and
Coral images), then ``tensorflow.lite`` (a training machine). No other module imports an interpreter.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from types import ModuleType

from .errors import BackendUnavailableError

# In the order they are tried; also what "is a TFLite runtime installed" looks for.
TFLITE_MODULES = ("ai_edge_litert", "tflite_runtime", "tensorflow")
_INSTALL = "install ai-edge-litert (pip install 'facescreen[edge]')"


@dataclass(frozen=True)
class TFLiteRuntime:
    Interpreter: type  # construct as Interpreter(model_path=... | model_content=..., num_threads=...)
    name: str  # what results and benchmarks record, e.g. "ai_edge_litert 2.3.0"


def tflite_installed() -> bool:
    """Whether one of :data:`TFLITE_MODULES` can be imported (found without importing it)."""
    return any(importlib.util.find_spec(m) is not None for m in TFLITE_MODULES)


def tflite_runtime() -> TFLiteRuntime:
    """The first TFLite interpreter that imports, in the order of :data:`TFLITE_MODULES`."""
    try:
        from importlib.metadata import version

        from ai_edge_litert.interpreter import Interpreter

        return TFLiteRuntime(Interpreter, f"ai_edge_litert {version('ai-edge-litert')}")
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return TFLiteRuntime(Interpreter, "tflite_runtime")
    except ImportError:
        pass
    try:
        import tensorflow as tf

        return TFLiteRuntime(tf.lite.Interpreter, f"tensorflow.lite {tf.__version__}")
    except ImportError:
        raise BackendUnavailableError(f"no TFLite runtime found: {_INSTALL}") from None


def tflite_schema() -> ModuleType:
    """The TFLite flatbuffer schema (``schema_py_generated``), for reading and cutting a model
    file. ai-edge-litert and TensorFlow ship it; tflite_runtime does not."""
    try:
        from ai_edge_litert import schema_py_generated

        return schema_py_generated
    except ImportError:
        pass
    try:
        from tensorflow.lite.python import schema_py_generated

        return schema_py_generated
    except ImportError:
        raise BackendUnavailableError(
            f"reading a .tflite file's structure needs the TFLite schema: {_INSTALL}"
        ) from None
