"""Backend-independent post-processing: screening probability and the screening CAM."""
from __future__ import annotations

import cv2
import numpy as np


def screening_probability(probs: np.ndarray, positive: list[int]) -> np.ndarray:
    """Summed probability of the positive classes, per image."""
    return np.clip(probs[:, positive].sum(axis=1), 0.0, 1.0)


def screening_cam(cam: np.ndarray, positive: list[int], size: int) -> np.ndarray:
    """Heat map of evidence for the positive classes over the negative ones, at input size.

    ``cam`` is one image's (h, w, K) class-logit map; for a binary model, the map's spatial mean
    is exactly the positive-vs-negative logit. Scaled to [0, 1] for display.
    """
    negative = [k for k in range(cam.shape[-1]) if k not in positive]
    evidence = cam[..., positive].mean(axis=-1) - cam[..., negative].mean(axis=-1)
    up = cv2.resize(evidence.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(up.min()), float(up.max())
    return (up - lo) / (hi - lo) if hi - lo > 1e-12 else np.zeros_like(up)


def overlay_cam(face_rgb: np.ndarray, cam01: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a [0, 1] heat map over an RGB image of the same size (JET colour map)."""
    heat = cv2.applyColorMap(np.uint8(np.clip(cam01, 0, 1) * 255), cv2.COLORMAP_JET)[..., ::-1]
    return np.uint8(np.clip((1 - alpha) * face_rgb + alpha * heat, 0, 255))
