"""The one path a photo takes to the model: load -> detect -> align.

Training (alignment cache), the converters (calibration and parity faces), the benchmark and the
kiosk all call :func:`prepare_face`, so preprocessing cannot drift between them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .align import AlignedFace, AlignmentTemplate, DEFAULT_TEMPLATE, align_face
from .detect import DetectConfig, Detector, FaceDetection, find_face
from .photo import DEFAULT_LIMITS, PhotoLimits, PhotoSource, load_photo


@dataclass(frozen=True)
class PreparedFace:
    aligned: AlignedFace
    detection: FaceDetection
    n_faces: int
    photo_shape: tuple[int, int]
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AlignConfig:
    size: int = 224
    template: AlignmentTemplate = DEFAULT_TEMPLATE
    detect: DetectConfig = DetectConfig()
    limits: PhotoLimits = DEFAULT_LIMITS


def prepare_face(photo: PhotoSource, detector: Detector, config: AlignConfig = AlignConfig()) -> PreparedFace:
    """Load a photo (path, bytes or RGB array), find its face and return the aligned crop.

    Raises :class:`~edge.errors.PhotoError` for an unreadable photo and
    :class:`~edge.errors.NoFaceError` when no confident face is found.
    """
    t0 = time.perf_counter()
    rgb = load_photo(photo, config.limits)
    t1 = time.perf_counter()
    found = find_face(rgb, detector, config.detect)
    t2 = time.perf_counter()
    aligned = align_face(rgb, found.face.landmarks, config.size, config.template)
    t3 = time.perf_counter()
    return PreparedFace(
        aligned=aligned, detection=found.face, n_faces=found.n_faces, photo_shape=rgb.shape[:2],
        timings_ms={"decode": (t1 - t0) * 1e3, "detect": (t2 - t1) * 1e3, "align": (t3 - t2) * 1e3},
    )


def as_batch(faces: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """Stack aligned uint8 RGB crops into the model's float32 [0, 255] input batch."""
    return np.ascontiguousarray(np.stack(list(faces)) if not isinstance(faces, np.ndarray) else faces, dtype=np.float32)
