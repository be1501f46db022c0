"""LiteRT (TFLite) backend: ai-edge-litert, else tflite_runtime, else tensorflow.lite."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendUnavailableError
from .base import check_batch, split_outputs


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
        from importlib.metadata import version

        return Interpreter, f"ai_edge_litert {version('ai-edge-litert')}"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite_runtime"
    except ImportError:
        pass
    try:
        import tensorflow as tf

        return tf.lite.Interpreter, f"tensorflow.lite {tf.__version__}"
    except ImportError:
        raise BackendUnavailableError(
            "no TFLite runtime found: install ai-edge-litert (pip install 'facescreen[edge]')"
        ) from None


class LiteRTBackend:
    name = "litert"

    def __init__(self, path: Path, artifact: str, size: int, threads: int | None = None) -> None:
        cls, self.runtime = _interpreter_class()
        self.artifact = artifact
        self.size = size
        self._interp = cls(model_path=str(path), num_threads=threads)
        self._input = self._interp.get_input_details()[0]
        self._batch = int(self._input["shape"][0]) or 1
        self._interp.allocate_tensors()

    def _ensure_batch(self, n: int) -> None:
        if n != self._batch:
            self._interp.resize_tensor_input(self._input["index"], [n, self.size, self.size, 3])
            self._interp.allocate_tensors()
            self._input = self._interp.get_input_details()[0]
            self._batch = n

    def run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = check_batch(images, self.size)
        self._ensure_batch(len(x))
        dtype = self._input["dtype"]
        if dtype in (np.int8, np.uint8):
            scale, zero = self._input["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)
        self._interp.set_tensor(self._input["index"], x)
        self._interp.invoke()
        outs = []
        for d in self._interp.get_output_details():
            o = self._interp.get_tensor(d["index"])
            if d["dtype"] in (np.int8, np.uint8):
                scale, zero = d["quantization"]
                o = (o.astype(np.float32) - zero) * scale
            outs.append(o)
        return split_outputs(outs)
