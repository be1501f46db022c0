"""The MTCNN cascade's numpy arithmetic, mirroring the ``mtcnn`` 1.0.0 package step by step.

Each function names the package function it mirrors (``mtcnn/utils/*.py``, ``mtcnn/stages/*.py``).
Where the package deviates from the original MTCNN paper, we follow the package, because the
bundle's training faces were aligned with its output:

- P-Net boxes are ``2 * (x, y) + 1`` to ``2 * (x, y) + 12`` in scaled pixels, so the regression is
  scaled by 11, not by the 12-pixel window, then ``/ scale``;
- its NMS keeps a box unless ANY earlier (higher-scored) box overlaps it above the threshold, even
  one that was itself suppressed (see :func:`suppress`);
- R-Net/O-Net crops are ``tf.image.crop_and_resize`` with the box normalised by the image side
  (not side - 1), bilinear, zero outside the image (see :func:`crop_and_resize`);
- boxes and landmarks are finally rounded to whole pixels (``parse_bbox``/``parse_landmarks``).

Everything here is numpy and OpenCV: no TensorFlow, no network runtime.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

PNET_STRIDE = 2
PNET_CELL = 12


@dataclass(frozen=True)
class CascadeConfig:
    """The package's ``detect_faces`` keyword defaults (see ``mtcnn/mtcnn.py``)."""

    min_face_size: int = 20
    min_size: int = 12
    scale_factor: float = 0.709
    threshold_pnet: float = 0.6
    threshold_rnet: float = 0.7
    threshold_onet: float = 0.8
    nms_pnet1: float = 0.5
    nms_pnet2: float = 0.7
    nms_rnet: float = 0.7
    nms_onet: float = 0.7
    whole_pixels: bool = True  # round boxes and landmarks as the package's JSON output does

    def __post_init__(self) -> None:
        if self.min_face_size < self.min_size:
            raise ValueError(f"min_face_size must be >= {self.min_size} (P-Net's window), got {self.min_face_size}")
        if not 0.0 < self.scale_factor < 1.0:
            raise ValueError(f"scale_factor must be in (0, 1), got {self.scale_factor}")
        for k in (
            "threshold_pnet",
            "threshold_rnet",
            "threshold_onet",
            "nms_pnet1",
            "nms_pnet2",
            "nms_rnet",
            "nms_onet",
        ):
            if not 0.0 <= getattr(self, k) <= 1.0:
                raise ValueError(f"{k} must be in [0, 1], got {getattr(self, k)}")

    def to_dict(self) -> dict:
        return asdict(self)


_NORMALISED = (np.arange(256, dtype=np.float32) - np.float32(127.5)) / np.float32(128.0)


def normalise(rgb: np.ndarray) -> np.ndarray:
    """``normalize_images``: uint8 RGB -> float32 ``(x - 127.5) / 128`` (a 256-entry table: the same
    float32 values, computed once instead of per pixel)."""
    return cv2.LUT(np.ascontiguousarray(rgb, dtype=np.uint8), _NORMALISED)


def scale_pyramid(height: int, width: int, cfg: CascadeConfig) -> np.ndarray:
    """``build_scale_pyramid``: the P-Net scales (the count depends on the image, not on ``m``)."""
    min_dim = min(width, height)
    count = round(-((np.log(min_dim / cfg.min_size) / np.log(cfg.scale_factor)) + 1))
    m = cfg.min_size / cfg.min_face_size
    return m * cfg.scale_factor ** np.arange(max(count, 0))


def scaled_shape(height: int, width: int, scale: float) -> tuple[int, int]:
    """``scale_images``: ``tf.image.resize`` truncates the float target size to integers."""
    return int(height * scale), int(width * scale)


def resize_area(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``tf.image.resize(..., AREA)``; OpenCV's INTER_AREA is the same box filter (|diff| < 1e-4)."""
    h, w = shape
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)


def descending(scores: np.ndarray) -> np.ndarray:
    """``sort_by_scores(..., ascending=False)``: argsort reversed (same tie order as the package)."""
    return np.argsort(scores)[::-1]


def pnet_boxes(reg: np.ndarray, prob: np.ndarray, threshold: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``generate_bounding_box`` + ``upscale_bboxes`` for one image at one scale.

    ``reg``: (h, w, 4) box regression, ``prob``: (h, w) face probability. Returns boxes (n, 4)
    x1, y1, x2, y2 in photo pixels and scores (n,), sorted by score, highest first.
    """
    ys, xs = np.nonzero(prob > threshold)
    if len(ys) == 0:
        return np.empty((0, 4)), np.empty((0,))
    r = reg[ys, xs].astype(np.float64)
    x1, y1 = xs * PNET_STRIDE + 1, ys * PNET_STRIDE + 1
    x2, y2 = xs * PNET_STRIDE + PNET_CELL, ys * PNET_STRIDE + PNET_CELL
    size = PNET_CELL - 1
    boxes = np.stack([x1 + r[:, 0] * size, y1 + r[:, 1] * size, x2 + r[:, 2] * size, y2 + r[:, 3] * size], axis=1)
    scores = prob[ys, xs].astype(np.float64)
    order = descending(scores)
    return boxes[order] / scale, scores[order]


def iou_matrix(a: np.ndarray, b: np.ndarray, method: str = "union") -> np.ndarray:
    """``iou``: overlap of every box in ``a`` (rows) with every box in ``b`` (columns); areas
    without the +1 the package leaves out here."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iw = np.maximum(0.0, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]))
    ih = np.maximum(0.0, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]))
    inter = iw * ih
    if method == "union":
        denom = area_a[:, None] + area_b[None, :] - inter
    elif method == "min":
        denom = np.minimum(area_a[:, None], area_b[None, :])
    else:
        raise ValueError(f"method must be 'union' or 'min', got {method!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / denom


def suppress(boxes: np.ndarray, threshold: float, method: str = "union", block: int = 1024) -> np.ndarray:
    """``nms``: indices of the boxes (in their given order) that no EARLIER box overlaps by more
    than ``threshold``. One vectorised pass, in column blocks so memory stays O(n * block)."""
    n = len(boxes)
    keep = np.ones(n, dtype=bool)
    for start in range(0, n, block):
        stop = min(n, start + block)
        ov = iou_matrix(boxes[:stop], boxes[start:stop], method)  # rows: candidates i, columns: j
        earlier = np.arange(stop)[:, None] < np.arange(start, stop)[None, :]
        keep[start:stop] = ~np.any((ov > threshold) & earlier, axis=0)
    return np.nonzero(keep)[0]


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    method: str = "union",
    initial_sort: bool = True,
    extra: np.ndarray | None = None,
):
    """``smart_nms_from_bboxes`` for one image: optional sort by score, then :func:`suppress`.
    ``extra`` (e.g. landmarks) rows travel with their boxes."""
    if initial_sort:
        order = descending(scores)
        boxes, scores = boxes[order], scores[order]
        extra = extra[order] if extra is not None else None
    keep = suppress(boxes, threshold, method)
    return boxes[keep], scores[keep], (extra[keep] if extra is not None else None)


def to_square(boxes: np.ndarray) -> np.ndarray:
    """``resize_to_square``: grow the shorter side about the centre (sizes without +1)."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1 = boxes[:, 0] + w * 0.5 - side * 0.5
    y1 = boxes[:, 1] + h * 0.5 - side * 0.5
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1)


def apply_offsets(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``adjust_bboxes``: refine by the network's offsets times the box size (sizes WITH +1)."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    return boxes + offsets.astype(np.float64) * np.stack([w, h, w, h], axis=1)


def place_landmarks(landmarks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``adjust_landmarks``: O-Net's (n, 10) x1..x5, y1..y5 box fractions -> (n, 5, 2) pixels,
    relative to the boxes O-Net saw (before its own offsets)."""
    lm = landmarks.astype(np.float64)
    w = boxes[:, 2:3] - boxes[:, 0:1] + 1
    h = boxes[:, 3:4] - boxes[:, 1:2] + 1
    xs = w * lm[:, 0:5] + boxes[:, 0:1] - 1
    ys = h * lm[:, 5:10] + boxes[:, 1:2] - 1
    return np.stack([xs, ys], axis=2)


def crop_and_resize(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """``extract_patches``: ``tf.image.crop_and_resize(image, boxes / [H, W, H, W], size)``.

    TensorFlow maps a normalised coordinate ``c`` to pixel ``c * (side - 1)``, samples bilinearly,
    and writes 0 (the extrapolation value) where a sample falls outside the image. Vectorised over
    all boxes. ``image``: (H, W, 3) float32; returns (n, size, size, 3) float32.
    """
    n = len(boxes)
    hgt, wid = image.shape[:2]
    if n == 0:
        return np.zeros((0, size, size, 3), np.float32)
    # normalised in float64 as the package does, then float32 as TensorFlow's kernel computes
    norm = (boxes[:, [1, 0, 3, 2]] / np.array([hgt, wid, hgt, wid])).astype(np.float32)
    ny1, nx1, ny2, nx2 = norm.T
    steps = np.arange(size, dtype=np.float32)
    in_y = ny1[:, None] * (hgt - 1) + steps[None, :] * ((ny2 - ny1) * (hgt - 1) / (size - 1))[:, None]
    in_x = nx1[:, None] * (wid - 1) + steps[None, :] * ((nx2 - nx1) * (wid - 1) / (size - 1))[:, None]
    ok_y = (in_y >= 0) & (in_y <= hgt - 1)
    ok_x = (in_x >= 0) & (in_x <= wid - 1)
    top = np.clip(np.floor(in_y), 0, hgt - 1).astype(np.intp)
    bottom = np.clip(np.ceil(in_y), 0, hgt - 1).astype(np.intp)
    left = np.clip(np.floor(in_x), 0, wid - 1).astype(np.intp)
    right = np.clip(np.ceil(in_x), 0, wid - 1).astype(np.intp)
    y_lerp = (in_y - np.floor(in_y))[:, :, None, None]
    x_lerp = (in_x - np.floor(in_x))[:, None, :, None]
    # gather whole RGB pixels by flat index (one take per corner; much faster than 2-D fancy indexing)
    pixels = image.reshape(-1, image.shape[2])
    rows_t, rows_b = (top * wid)[:, :, None], (bottom * wid)[:, :, None]
    cols_l, cols_r = left[:, None, :], right[:, None, :]
    upper = np.take(pixels, rows_t + cols_l, axis=0)
    right_t = np.take(pixels, rows_t + cols_r, axis=0)
    lower = np.take(pixels, rows_b + cols_l, axis=0)
    right_b = np.take(pixels, rows_b + cols_r, axis=0)
    # TensorFlow's order of operations, in place: top = tl + (tr - tl) * x_lerp, etc.
    right_t -= upper
    right_t *= x_lerp
    upper += right_t
    right_b -= lower
    right_b *= x_lerp
    lower += right_b
    lower -= upper
    lower *= y_lerp
    upper += lower
    upper *= (ok_y[:, :, None] & ok_x[:, None, :])[..., None]
    return upper


def fit_to_image(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """``limit_bboxes`` (landmarks are left alone, as with the package's defaults)."""
    out = boxes.copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width - 1)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height - 1)
    return out


def whole_pixels(boxes: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``parse_bbox`` + ``parse_landmarks``: round to whole pixels (numpy's round-half-even)."""
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2 = x1 + (boxes[:, 2] - x1)
    y2 = y1 + (boxes[:, 3] - y1)
    return np.round(np.stack([x1, y1, x2, y2], axis=1)), np.round(landmarks)
