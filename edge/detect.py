"""Face detection: a detector registry and :func:`find_face`, which every caller uses.

Landmarks follow MTCNN's order and naming, where left/right are *image* sides:
``left_eye, right_eye, nose, mouth_left, mouth_right``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from .errors import NoFaceError
from .registry import Registry

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass(frozen=True)
class FaceDetection:
    """One face: box ``(x1, y1, x2, y2)`` and five ``(x, y)`` landmarks in photo pixels."""

    box: tuple[float, float, float, float]
    confidence: float
    landmarks: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        lm = np.asarray(self.landmarks, dtype=np.float32)
        if lm.shape != (5, 2):
            raise ValueError(f"landmarks must have shape (5, 2), got {lm.shape}")
        if len(self.box) != 4:
            raise ValueError(f"box must be (x1, y1, x2, y2), got {self.box!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")
        object.__setattr__(self, "landmarks", lm)
        object.__setattr__(self, "box", tuple(float(v) for v in self.box))

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)

    def scaled(self, factor: float) -> "FaceDetection":
        return FaceDetection(tuple(v * factor for v in self.box), self.confidence, self.landmarks * factor)

    def to_dict(self) -> dict:
        return {
            "box": [round(v, 2) for v in self.box],
            "confidence": round(float(self.confidence), 5),
            "landmarks": {n: [round(float(x), 2), round(float(y), 2)] for n, (x, y) in zip(LANDMARK_NAMES, self.landmarks)},
        }


class Detector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        """All faces in an ``(H, W, 3)`` uint8 RGB image, in that image's pixels."""


DETECTORS: Registry[Detector] = Registry("face detector")


@dataclass(frozen=True)
class FaceFinding:
    face: FaceDetection
    n_faces: int
    all_faces: tuple[FaceDetection, ...]


@dataclass(frozen=True)
class DetectConfig:
    max_side: int = 1024          # detect on a copy downscaled to this longest side
    min_confidence: float = 0.90  # faces below this are ignored


def detect_faces(rgb: np.ndarray, detector: Detector, config: DetectConfig = DetectConfig()) -> list[FaceDetection]:
    """Detect on a downscaled copy and return faces in full-resolution photo pixels."""
    h, w = rgb.shape[:2]
    scale = min(1.0, config.max_side / max(h, w))
    # at least 1 px a side: cv2.resize refuses a 0-px target (a 40000x1 strip scaled to 1024 wide)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = rgb if scale == 1.0 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    faces = [f for f in detector.detect(small) if f.confidence >= config.min_confidence]
    return [f.scaled(1.0 / scale) for f in faces] if scale != 1.0 else faces


def find_face(rgb: np.ndarray, detector: Detector, config: DetectConfig = DetectConfig()) -> FaceFinding:
    """The face to screen: the largest confident face, ties broken by confidence."""
    faces = detect_faces(rgb, detector, config)
    if not faces:
        raise NoFaceError(f"no face found with confidence >= {config.min_confidence:.2f}")
    best = max(faces, key=lambda f: (f.area, f.confidence))
    return FaceFinding(face=best, n_faces=len(faces), all_faces=tuple(faces))


def box_iou(a, b) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def compare_faces(reference: list[FaceDetection], candidate: list[FaceDetection]) -> dict:
    """Match each reference face to its best-overlapping candidate; the worst IoU and landmark
    distance over all faces, and the face counts (how two detectors agree on one image)."""
    worst_iou, worst_px = 1.0, 0.0
    for ref in reference:
        if not candidate:
            worst_iou, worst_px = 0.0, float("inf")
            break
        best = max(candidate, key=lambda c: box_iou(ref.box, c.box))
        worst_iou = min(worst_iou, box_iou(ref.box, best.box))
        worst_px = max(worst_px, float(np.linalg.norm(ref.landmarks - best.landmarks, axis=1).max()))
    return {"n_reference": len(reference), "n_converted": len(candidate), "min_iou": round(worst_iou, 4),
            "max_landmark_px": round(worst_px, 3)}


def create_detector(name: str = "mtcnn", **kwargs) -> Detector:
    """``mtcnn`` is the reference package (needs TensorFlow); ``mtcnn-lite`` the converted cascade."""
    return DETECTORS.create(name, **kwargs)


def _mtcnn_package(**kwargs) -> Detector:
    from .detectors.mtcnn_package import MtcnnPackageDetector

    return MtcnnPackageDetector(**kwargs)


def _mtcnn_lite(**kwargs) -> Detector:
    from .detectors.mtcnn_lite import MtcnnLiteDetector

    return MtcnnLiteDetector(**kwargs)


DETECTORS.register("mtcnn", _mtcnn_package)
DETECTORS.register("mtcnn-lite", _mtcnn_lite)
