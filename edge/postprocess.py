"""Backend-independent post-processing: screening probability and the screening CAM."""

from __future__ import annotations

import cv2
import numpy as np

# Probabilities are floored here before the logarithm: a quantised output (int8 LiteRT) gives exact zeros.
_PROB_FLOOR = 1e-7
# A map whose range is within this fraction of its magnitude is flat: float32 resizing of a constant
# map leaves rounding noise (cubic weights do not sum to exactly 1), which scaling to [0, 1] would
# show as a pattern. The browser's port (kiosk/tablet/web/core/cam.js) carries the same constant.
CAM_FLAT_RTOL = 1e-5


def apply_temperature(probs: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Temperature-scaled class probabilities ``softmax(logits / T)``, computed from the softmax
    output itself: ``log p`` differs from the logits by one constant per image, which the softmax
    cancels, so every runtime (whose graphs output probabilities) gets exactly the Keras result.
    ``T == 1`` returns the probabilities unchanged."""
    p = np.asarray(probs, dtype=np.float64)
    if not (temperature > 0 and np.isfinite(temperature)):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    if temperature == 1.0:
        return p
    z = np.log(np.clip(p, _PROB_FLOOR, 1.0)) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def screening_probability(probs: np.ndarray, positive: list[int], temperature: float = 1.0) -> np.ndarray:
    """Summed probability of the positive classes, per image, after the model card's temperature."""
    return np.clip(apply_temperature(probs, temperature)[:, positive].sum(axis=1), 0.0, 1.0)


def flagged(probability, threshold: float):
    """The screening rule, in its one home: a photo is flagged when its screening probability is at
    or above the model card's threshold. A float gives a bool, an array a boolean array. Every Python
    caller uses this; the browser's port (``kiosk/tablet/web/core/screening.js``) is pinned against it
    in Chromium (tests/kiosk/tablet/test_tablet_screening.py)."""
    return probability >= threshold


def representable_scores(
    scale: float, zero_point: int, qmin: int, qmax: int, n_positive: int = 1, temperature: float = 1.0
) -> np.ndarray:
    """Every screening score a model with a quantised probability output can produce (ascending).

    Each class probability is ``(q - zero_point) * scale`` for an integer ``q`` in ``qmin..qmax``;
    the positive classes' sum moves in the same steps. With a temperature the scores are those
    steps mapped through it (the rest of the mass taken as one negative class)."""
    k = np.arange(qmin, qmax + 1) - zero_point
    steps = np.unique(np.clip(np.arange(0, n_positive * int(k.max()) + 1) * scale, 0.0, 1.0))
    if temperature == 1.0:
        return steps
    two = np.column_stack([np.clip(1.0 - steps, 0.0, 1.0), steps])
    return np.unique(apply_temperature(two, temperature)[:, 1])


def threshold_resolution(threshold: float, scores: np.ndarray) -> float:
    """The gap between the representable scores either side of ``threshold``: how far the quantised
    output must move to change a flag there. Raises when no representable score is on one side
    (the quantised output could then never flag, or would flag every photo)."""
    s = np.asarray(scores, dtype=np.float64)
    up = flagged(s, threshold)
    below, above = s[~up], s[up]
    if not len(below) or not len(above):
        raise ValueError(
            f"the quantised output cannot resolve the threshold {threshold:.4f}: its scores run "
            f"from {s.min():.4f} to {s.max():.4f} in steps of {np.diff(s).min():.4f}, so the flag "
            "would never change; keep a float output, or choose a threshold inside that range"
        )
    return float(above.min() - below.max())


def screening_cam(cam: np.ndarray, positive: list[int], size: int) -> np.ndarray:
    """Heat map of evidence for the positive classes over the negative ones, at input size.

    ``cam`` is one image's (h, w, K) class-logit map; for a binary model, the map's spatial mean
    is exactly the positive-vs-negative logit. Scaled to [0, 1] for display.
    """
    negative = [k for k in range(cam.shape[-1]) if k not in positive]
    evidence = cam[..., positive].mean(axis=-1) - cam[..., negative].mean(axis=-1)
    up = cv2.resize(evidence.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(up.min()), float(up.max())
    flat = hi - lo <= max(1e-12, CAM_FLAT_RTOL * max(abs(lo), abs(hi)))
    return np.zeros_like(up) if flat else (up - lo) / (hi - lo)


def overlay_cam(face_rgb: np.ndarray, cam01: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a [0, 1] heat map over an RGB image of the same size (JET colour map)."""
    heat = cv2.applyColorMap(np.uint8(np.clip(cam01, 0, 1) * 255), cv2.COLORMAP_JET)[..., ::-1]
    return np.uint8(np.clip((1 - alpha) * face_rgb + alpha * heat, 0, 255))
