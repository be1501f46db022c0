"""What every inference backend provides. Backend tensors never leave the backend module:
each converts its own outputs to float32 numpy ``probs (N, K)`` and ``cam (N, h, w, K)``."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class InferenceBackend(Protocol):
    name: str  # e.g. "litert"
    artifact: str  # e.g. "tflite-int8"
    runtime: str  # the library actually used, e.g. "ai_edge_litert 2.3.0"

    def run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``images``: (N, S, S, 3) float32 RGB pixels in [0, 255]."""


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
