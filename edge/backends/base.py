"""What every inference backend provides. Backend tensors never leave the backend module:
each converts its own outputs to float32 numpy ``probs (N, K)`` and ``cam (N, h, w, K)``."""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

from ..errors import FaceScreenError


class InferenceBackend(Protocol):
    name: str  # e.g. "litert"
    artifact: str  # e.g. "tflite-int8"
    runtime: str  # the library actually used, e.g. "ai_edge_litert 2.3.0"

    def run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``images``: (N, S, S, 3) float32 RGB pixels in [0, 255]."""


MAX_DEFAULT_THREADS = 4  # the browser's rule too (kiosk/tablet/web/core/runtime.js: min(4, cores))


def usable_cores() -> int:
    """The cores this process may use (its CPU affinity: a container's or taskset's share)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, usable or 1)


def default_threads() -> int:
    """Inference threads when the caller names none: the cores this process may use, at most
    :data:`MAX_DEFAULT_THREADS`. Every runtime gets the same number, so that what ``make bench``
    measures (its ``--threads`` default) is what the kiosk, the server and the command line run:
    left to itself LiteRT runs one thread (half of a 2-core kiosk; the VGG-16 int8 screener took 74 ms
    a face instead of 38) while ONNX Runtime takes every physical core."""
    return min(MAX_DEFAULT_THREADS, usable_cores())


def inference_threads(threads: int | None = None) -> int:
    """The thread count every runtime and detector is given: ``threads`` (1 to the usable cores), or
    :func:`default_threads` for None; anything else is a FaceScreenError. More threads than cores only
    contend for them, and a mistyped count (``--threads 99999``) had the runtimes start threads until
    Python could start none: a traceback, then a segmentation fault."""
    if threads is None:
        return default_threads()
    most = usable_cores()
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= most:
        raise FaceScreenError(
            f"expected a whole number of threads from 1 to {most} (the cores this process may use), got {threads!r}"
        )
    return threads


def split_outputs(outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``probs`` (rank 2) and ``cam`` (rank 4) out of a backend's outputs, whatever their order."""
    probs = [o for o in outputs if o.ndim == 2]
    cams = [o for o in outputs if o.ndim == 4]
    if len(probs) != 1 or len(cams) != 1:
        raise ValueError(f"expected one (N, K) and one (N, h, w, K) output, got shapes {[o.shape for o in outputs]}")
    return probs[0].astype(np.float32, copy=False), cams[0].astype(np.float32, copy=False)


def check_batch(images: np.ndarray, size: int) -> np.ndarray:
    if images.ndim != 4 or images.shape[1:] != (size, size, 3):
        raise ValueError(f"expected images of shape (N, {size}, {size}, 3), got {images.shape}")
    return np.ascontiguousarray(images, dtype=np.float32)
