"""Augmentation as in the papers: random rotation, random crop/rescale and horizontal flip, with an
optional RandAugment-style policy (Cubuk et al. 2020: N random operations at magnitude M).

Plain numpy/OpenCV on uint8 crops inside the data pipeline, so it is the same under every Keras
backend (TensorFlow, JAX) and needs no tf.data/tf.image. Every random draw comes from the
``numpy.random.Generator`` the caller passes, so a seed fixes the whole sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from facescreen.edge.registry import Registry

MAX_MAGNITUDE = 10  # RandAugment's integer magnitude scale (as in AutoAugment): 0..10


@dataclass(frozen=True)
class AugmentConfig:
    enabled: bool = True
    rotation_deg: float = 10.0  # uniform in [-r, r]
    scale: tuple[float, float] = (0.9, 1.1)  # random crop/rescale: zoom factor (>1 crops in)
    shift: float = 0.05  # random translation, fraction of the side
    hflip: bool = True
    randaugment_n: int = 0  # 0: off
    randaugment_magnitude: int = 5  # 0..10

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", tuple(float(v) for v in self.scale))
        if not 0 <= self.rotation_deg <= 45:
            raise ValueError(f"rotation_deg must be in [0, 45], got {self.rotation_deg}")
        if len(self.scale) != 2 or not 0.5 <= self.scale[0] <= self.scale[1] <= 2.0:
            raise ValueError(f"scale must be (low, high) with 0.5 <= low <= high <= 2, got {self.scale}")
        if not 0 <= self.shift <= 0.3:
            raise ValueError(f"shift must be in [0, 0.3], got {self.shift}")
        if not 0 <= self.randaugment_n <= len(RANDAUGMENT_OPS.names()):
            raise ValueError(f"randaugment_n must be in [0, {len(RANDAUGMENT_OPS.names())}], got {self.randaugment_n}")
        if not 0 <= self.randaugment_magnitude <= MAX_MAGNITUDE:
            raise ValueError(f"randaugment_magnitude must be in [0, {MAX_MAGNITUDE}], got {self.randaugment_magnitude}")


def geometric_matrix(size: int, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """2x3 affine: rotation about the centre, zoom (crop/rescale), shift, optional mirror."""
    angle = rng.uniform(-cfg.rotation_deg, cfg.rotation_deg)
    zoom = rng.uniform(*cfg.scale)
    c = (size - 1) / 2.0
    m = cv2.getRotationMatrix2D((c, c), angle, zoom)
    m[:, 2] += rng.uniform(-cfg.shift, cfg.shift, 2) * size
    if cfg.hflip and rng.random() < 0.5:
        flip = np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        m = (np.vstack([m, [0, 0, 1]]) @ flip)[:2]
    return m


def augment_image(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """One aligned ``(S, S, 3)`` uint8 crop -> its augmented copy (same shape and dtype)."""
    if not cfg.enabled:
        return img
    size = img.shape[0]
    out = cv2.warpAffine(
        img, geometric_matrix(size, rng, cfg), (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if cfg.randaugment_n:
        level = cfg.randaugment_magnitude / MAX_MAGNITUDE
        for name in rng.choice(RANDAUGMENT_OPS.names(), size=cfg.randaugment_n, replace=False):
            out = RANDAUGMENT_OPS.get(name)(out, level, rng)
    return np.ascontiguousarray(out)


def augment_batch(images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    return np.stack([augment_image(im, rng, cfg) for im in images]) if cfg.enabled else images


# --- RandAugment-style operations: (uint8 image, level in [0, 1], rng) -> uint8 image --------------
Op = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


def _sign(rng: np.random.Generator) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


def _blend(a: np.ndarray, b: np.ndarray, factor: float) -> np.ndarray:
    """PIL ImageEnhance semantics: factor 0 gives ``b``, 1 gives ``a``."""
    return np.uint8(np.clip(b + factor * (a.astype(np.float32) - b), 0, 255))


def _affine(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    s = img.shape[0]
    return cv2.warpAffine(img, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _identity(img, level, rng):
    return img


def _autocontrast(img, level, rng):
    lo = img.reshape(-1, 3).min(0).astype(np.float32)
    hi = img.reshape(-1, 3).max(0).astype(np.float32)
    scale = np.where(hi > lo, 255.0 / np.maximum(hi - lo, 1), 1.0)
    return np.uint8(np.clip((img - np.where(hi > lo, lo, 0)) * scale, 0, 255))


def _equalize(img, level, rng):
    return np.dstack([cv2.equalizeHist(np.ascontiguousarray(img[..., c])) for c in range(3)])


def _brightness(img, level, rng):
    return _blend(img, np.zeros_like(img, dtype=np.float32), 1.0 + _sign(rng) * 0.9 * level)


def _contrast(img, level, rng):
    mean = float(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).mean())
    return _blend(img, np.full(img.shape, mean, np.float32), 1.0 + _sign(rng) * 0.9 * level)


def _colour(img, level, rng):
    grey = np.repeat(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2).astype(np.float32)
    return _blend(img, grey, 1.0 + _sign(rng) * 0.9 * level)


def _sharpness(img, level, rng):
    smooth = cv2.filter2D(img, -1, np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13.0)
    return _blend(img, smooth.astype(np.float32), 1.0 + _sign(rng) * 0.9 * level)


def _posterize(img, level, rng):
    bits = max(1, int(round(8 - 4 * level)))
    return np.uint8(img & np.uint8((0xFF << (8 - bits)) & 0xFF))


def _solarize(img, level, rng):
    threshold = int(round(256 - 256 * level))
    return np.where(img >= threshold, 255 - img, img).astype(np.uint8)


def _rotate(img, level, rng):
    c = (img.shape[0] - 1) / 2.0
    return _affine(img, cv2.getRotationMatrix2D((c, c), _sign(rng) * 30.0 * level, 1.0))


def _shear(axis: int) -> Op:
    def op(img, level, rng):
        k = _sign(rng) * 0.3 * level
        c = (img.shape[0] - 1) / 2.0
        m = (
            np.array([[1.0, k, -k * c], [0.0, 1.0, 0.0]])
            if axis == 0
            else np.array([[1.0, 0.0, 0.0], [k, 1.0, -k * c]])
        )
        return _affine(img, m)

    return op


def _translate(axis: int) -> Op:
    def op(img, level, rng):
        t = np.zeros(2)
        t[axis] = _sign(rng) * 0.15 * level * img.shape[0]
        return _affine(img, np.array([[1.0, 0.0, t[0]], [0.0, 1.0, t[1]]]))

    return op


RANDAUGMENT_OPS: Registry[np.ndarray] = Registry("RandAugment operation")
for _name, _op in (
    ("identity", _identity),
    ("autocontrast", _autocontrast),
    ("equalize", _equalize),
    ("brightness", _brightness),
    ("contrast", _contrast),
    ("colour", _colour),
    ("sharpness", _sharpness),
    ("posterize", _posterize),
    ("solarize", _solarize),
    ("rotate", _rotate),
    ("shear_x", _shear(0)),
    ("shear_y", _shear(1)),
    ("translate_x", _translate(0)),
    ("translate_y", _translate(1)),
):
    RANDAUGMENT_OPS.register(_name, _op)
