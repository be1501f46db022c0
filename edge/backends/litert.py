"""LiteRT (TFLite) backend, on the interpreter :func:`edge.tflite.tflite_runtime` finds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..tflite import tflite_runtime
from .base import check_batch, inference_threads, split_outputs


class LiteRTBackend:
    name = "litert"

    def __init__(self, path: Path, artifact: str, size: int, threads: int | None = None) -> None:
        rt = tflite_runtime()
        self.runtime = rt.name
        self.artifact = artifact
        self.size = size
        self._interp = rt.Interpreter(model_path=str(path), num_threads=inference_threads(threads))
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
