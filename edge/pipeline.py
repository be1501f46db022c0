"""The one path a photo takes to the model: load -> detect -> align.

Training (alignment cache), the converters (calibration and parity faces), the benchmark and the
kiosk all call :func:`prepare_face`, so preprocessing cannot drift between them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .align import DEFAULT_TEMPLATE, AlignedFace, AlignmentTemplate, align_face
from .detect import DetectConfig, Detector, FaceDetection, FaceFinding, find_face
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


def prepare_face(
    photo: PhotoSource, detector: Detector | None, config: AlignConfig = AlignConfig(), found: FaceFinding | None = None
) -> PreparedFace:
    """Load a photo (path, bytes or RGB array), find its face and return the aligned crop.

    ``found``: the face already found in this very photo (e.g. by the kiosk's quality check): it
    is aligned as it is, and the photo is not detected again.

    Raises :class:`~edge.errors.PhotoError` for an unreadable photo and
    :class:`~edge.errors.NoFaceError` when no confident face is found.
    """
    t0 = time.perf_counter()
    rgb = load_photo(photo, config.limits)
    t1 = time.perf_counter()
    timings = {"decode": (t1 - t0) * 1e3}
    if found is None:
        if detector is None:
            raise ValueError("prepare_face needs a detector or the face already found")
        found = find_face(rgb, detector, config.detect)
        timings["detect"] = (time.perf_counter() - t1) * 1e3
    t2 = time.perf_counter()
    aligned = align_face(rgb, found.face.landmarks, config.size, config.template)
    timings["align"] = (time.perf_counter() - t2) * 1e3
    return PreparedFace(
        aligned=aligned, detection=found.face, n_faces=found.n_faces, photo_shape=rgb.shape[:2], timings_ms=timings
    )


def as_batch(faces: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """Stack aligned uint8 RGB crops into the model's float32 [0, 255] input batch."""
    return np.ascontiguousarray(np.stack(list(faces)) if not isinstance(faces, np.ndarray) else faces, dtype=np.float32)
