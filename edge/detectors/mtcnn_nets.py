"""Runners for the converted MTCNN networks: LiteRT or ONNX Runtime, no TensorFlow.

A runner takes an NHWC float32 batch and returns ``{role: array}`` (roles from
:data:`~edge.detectors.mtcnn_manifest.OUTPUT_ROLES`). Runtime objects are built once and reused:

- LiteRT fixes tensor shapes at ``allocate_tensors``; re-allocating per call costs more than the
  small R-/O-Net themselves (and as much as the largest P-Net level's own run). So a runner keeps one
  allocated interpreter per input shape, and pads R-/O-Net batches up to a bucket
  (:func:`batch_bucket`) so a handful of shapes serve every frame while wasting little compute on
  padding. A kiosk camera has one frame size, so after the first frame nothing is allocated again.
- What an interpreter holds grows with its input (XNNPACK's buffers: about 55 MB RSS for the first
  P-Net level of a 1024x768 photo, 614x460), so the cache is bounded by the input pixels its shapes
  hold (:data:`SHAPE_CACHE_PIXELS`, least recently used out first), not by a count: every new photo
  size brings a pyramid of new shapes, and a server fed photos of many sizes kept 48 of them (~500 MB).
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


# Input pixels (N x H x W) of the shapes one network keeps allocated: two P-Net pyramids of a
# 1024-px photo (0.57 MP each at the 20-px smallest face), e.g. a phone's portrait and landscape sizes.
SHAPE_CACHE_PIXELS = 1_200_000


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
            raise BundleError(
                f"MTCNN {net}: unexpected outputs {[a.shape for a in outputs]}; "
                f"expected last dimensions {sorted(roles)}"
            )
        got[role] = o
    if len(got) != len(roles):
        raise BundleError(f"MTCNN {net}: outputs {[a.shape for a in outputs]} lack {set(roles.values()) - set(got)}")
    return got


def _pixels(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[:3]))  # N x H x W of an NHWC input


class LiteRTNet:
    def __init__(self, path: Path, net: str, threads: int | None = None, max_pixels: int = SHAPE_CACHE_PIXELS) -> None:
        rt = tflite_runtime()
        self._cls, self.runtime = rt.Interpreter, rt.name
        self._model = Path(path).read_bytes()
        self._net = net
        self._threads = threads
        self.max_pixels = max_pixels
        self._interps: OrderedDict[tuple, tuple] = OrderedDict()
        self._pad_batch = net != "pnet"

    @property
    def cached_shapes(self) -> list[tuple[int, ...]]:
        """The input shapes with an allocated interpreter, least recently used first."""
        return list(self._interps)

    @property
    def cached_pixels(self) -> int:
        return sum(_pixels(s) for s in self._interps)

    def _interpreter(self, shape: tuple[int, ...]):
        entry = self._interps.get(shape)
        if entry is not None:
            self._interps.move_to_end(shape)
            return entry
        # room first, so the old buffers are freed before the new ones are allocated; the shape in
        # use is always kept, even one larger than the whole bound
        while self._interps and self.cached_pixels + _pixels(shape) > self.max_pixels:
            self._interps.popitem(last=False)
        it = self._cls(model_content=self._model, num_threads=self._threads)
        inp = it.get_input_details()[0]
        if tuple(inp["shape"]) != shape:
            it.resize_tensor_input(inp["index"], list(shape), strict=True)
        it.allocate_tensors()
        entry = (it, inp["index"], [d["index"] for d in it.get_output_details()])
        self._interps[shape] = entry
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
