"""Runners for the converted MTCNN networks: LiteRT or ONNX Runtime, no TensorFlow.

A runner takes an NHWC float32 batch and returns ``{role: array}`` (roles from
:data:`~edge.detectors.mtcnn_manifest.OUTPUT_ROLES`). Runtime objects are built once and reused:

- LiteRT fixes tensor shapes at ``allocate_tensors``; re-allocating per call costs more than the
  small R-/O-Net themselves. So a runner keeps one allocated interpreter per input shape (LRU),
  and pads R-/O-Net batches up to a bucket (:func:`batch_bucket`) so a handful of shapes serve
  every frame while wasting little compute on padding.
  A kiosk camera has one frame size, so after the first frame nothing is allocated again.
- ONNX Runtime takes any shape per call; one session per network.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import numpy as np

from ..backends import backend_spec
from ..errors import BundleError
from ..registry import Registry
from ..tflite import tflite_runtime
from .mtcnn_manifest import OUTPUT_ROLES


class NetRunner(Protocol):
    runtime: str

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """``x``: (N, H, W, 3) float32; returns each output by role, first dimension N."""


def batch_bucket(n: int) -> int:
    """The padded batch size for ``n`` >= 1 crops: the next power of two up to 16, then the next
    multiple of 16 (of 64 above 256), so padding never adds more than 16/64 crops or doubles a small batch."""
    if n <= 16:
        return 1 << max(0, int(n - 1).bit_length())
    step = 16 if n <= 256 else 64
    return -(-n // step) * step


def _roles(net: str, outputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    roles = OUTPUT_ROLES[net]
    got = {}
    for o in outputs:
        role = roles.get(int(o.shape[-1]))
        if role is None or role in got:
            raise BundleError(f"MTCNN {net}: unexpected outputs {[a.shape for a in outputs]}; "
                              f"expected last dimensions {sorted(roles)}")
        got[role] = o
    if len(got) != len(roles):
        raise BundleError(f"MTCNN {net}: outputs {[a.shape for a in outputs]} lack {set(roles.values()) - set(got)}")
    return got


class LiteRTNet:
    def __init__(self, path: Path, net: str, threads: int | None = None, max_shapes: int = 48) -> None:
        rt = tflite_runtime()
        self._cls, self.runtime = rt.Interpreter, rt.name
        self._model = Path(path).read_bytes()
        self._net = net
        self._threads = threads
        self._max_shapes = max_shapes
        self._interps: OrderedDict[tuple, tuple] = OrderedDict()
        self._pad_batch = net != "pnet"

    def _interpreter(self, shape: tuple[int, ...]):
        entry = self._interps.get(shape)
        if entry is not None:
            self._interps.move_to_end(shape)
            return entry
        it = self._cls(model_content=self._model, num_threads=self._threads)
        inp = it.get_input_details()[0]
        if tuple(inp["shape"]) != shape:
            it.resize_tensor_input(inp["index"], list(shape), strict=True)
        it.allocate_tensors()
        entry = (it, inp["index"], [d["index"] for d in it.get_output_details()])
        self._interps[shape] = entry
        if len(self._interps) > self._max_shapes:
            self._interps.popitem(last=False)
        return entry

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        n = len(x)
        if self._pad_batch and batch_bucket(n) != n:
            x = np.concatenate([x, np.zeros((batch_bucket(n) - n, *x.shape[1:]), x.dtype)])
        it, inp, outs = self._interpreter(tuple(x.shape))
        it.set_tensor(inp, np.ascontiguousarray(x, dtype=np.float32))
        it.invoke()
        return {k: v[:n] for k, v in _roles(self._net, [it.get_tensor(i) for i in outs]).items()}


class OnnxRuntimeNet:
    def __init__(self, path: Path, net: str, threads: int | None = None) -> None:
        from ..backends.onnxruntime import create_session, import_onnxruntime

        ort = import_onnxruntime()
        # no busy-waiting between the many small calls (three networks, dozens of crops a frame)
        self._session = create_session(path, threads, allow_spinning=False)
        self._input = self._session.get_inputs()[0].name
        self._net = net
        self.runtime = f"onnxruntime {ort.__version__}"

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        outs = self._session.run(None, {self._input: np.ascontiguousarray(x, dtype=np.float32)})
        return _roles(self._net, outs)


NET_RUNNERS: Registry[NetRunner] = Registry("MTCNN network runtime")
NET_RUNNERS.register("litert", LiteRTNet)
NET_RUNNERS.register("onnxruntime", OnnxRuntimeNet)
# the networks run on the screener backends of the same name, so they read the same formats
RUNTIME_FORMAT = {name: backend_spec(name).format for name in NET_RUNNERS.names()}
