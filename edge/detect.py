"""Face detection: a detector registry and :func:`find_face`, which every caller uses.

Landmarks follow MTCNN's order and naming, where left/right are *image* sides:
``left_eye, right_eye, nose, mouth_left, mouth_right``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from .errors import BundleError, NoFaceError
from .registry import Registry

if TYPE_CHECKING:
    from .bundle import Bundle

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

    def scaled(self, factor: float) -> FaceDetection:
        return FaceDetection(tuple(v * factor for v in self.box), self.confidence, self.landmarks * factor)

    def to_dict(self) -> dict:
        return {
            "box": [round(v, 2) for v in self.box],
            "confidence": round(float(self.confidence), 5),
            "landmarks": {
                n: [round(float(x), 2), round(float(y), 2)] for n, (x, y) in zip(LANDMARK_NAMES, self.landmarks)
            },
        }


DEFAULT_MIN_FACE_PX = 20  # the mtcnn package's default smallest face


class Detector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray, min_face_size: int | None = None) -> list[FaceDetection]:
        """All faces of at least ``min_face_size`` pixels (None: the detector's own default) in an
        ``(H, W, 3)`` uint8 RGB image, in that image's pixels."""


DETECTORS: Registry[Detector] = Registry("face detector")


@dataclass(frozen=True)
class FaceFinding:
    face: FaceDetection
    n_faces: int
    all_faces: tuple[FaceDetection, ...]


@dataclass(frozen=True)
class DetectConfig:
    """How a photo is shown to the detector. A P-Net pyramid costs in proportion to the pixels of
    its largest level, which the smallest face sets; so the smallest face worth finding, and the
    fewest pixels it needs, are what make detection cheap."""

    max_side: int = 1024  # detect on a copy downscaled to this longest side
    min_confidence: float = 0.90  # faces below this are ignored
    min_face_px: float | None = None  # smallest face to find, in photo pixels (None: the detector's default, 20)
    # with min_face_px: detect on a copy downscaled until that smallest face spans this many pixels
    # (None: no further downscale). Boxes and landmarks are mapped back to photo pixels.
    work_face_px: int | None = None
    # smallest face to find as a fraction of the photo's shorter side (the larger of this and
    # min_face_px wins); resolution-independent, so one setting serves a phone photo and a frame
    min_face_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.min_face_fraction is not None and not 0 < self.min_face_fraction < 1:
            raise ValueError(f"min_face_fraction must be in (0, 1) (or None), got {self.min_face_fraction}")
        if self.min_face_px is not None and self.min_face_px < DEFAULT_MIN_FACE_PX:
            raise ValueError(f"min_face_px must be >= {DEFAULT_MIN_FACE_PX} (or None), got {self.min_face_px}")
        if self.work_face_px is not None and self.work_face_px < DEFAULT_MIN_FACE_PX:
            raise ValueError(f"work_face_px must be >= {DEFAULT_MIN_FACE_PX} (or None), got {self.work_face_px}")


# Photo in, flag out: the subject of a screening photo fills much of it (a health worker's photo, a
# kiosk capture), so the P-Net pyramid starts at faces of a tenth of the shorter side, not at 20 px:
# 48 px in a 640x480 frame, half the kiosk quality check's smallest head (QualityConfig.min_head_size
# 0.20 x FindConfig.min_face_of_min_head 0.5), so a face the kiosk would accept is always found. The
# pyramid's largest level shrinks (48/20)^2 = 5.8x. A smaller face raises NoFaceError ("no face
# found"): too small to screen, as the kiosk would say "move closer".
PHOTO_MIN_FACE_FRACTION = 0.10
PHOTO_DETECT = DetectConfig(min_face_fraction=PHOTO_MIN_FACE_FRACTION)


def detect_faces(rgb: np.ndarray, detector: Detector, config: DetectConfig = DetectConfig()) -> list[FaceDetection]:
    """Detect on a downscaled copy and return faces in full-resolution photo pixels."""
    h, w = rgb.shape[:2]
    min_face_px = config.min_face_px
    if config.min_face_fraction is not None:
        min_face_px = max(min_face_px or DEFAULT_MIN_FACE_PX, config.min_face_fraction * min(h, w))
    scale = min(1.0, config.max_side / max(h, w))
    if min_face_px is not None and config.work_face_px is not None:
        scale = min(scale, config.work_face_px / min_face_px)
    # at least 1 px a side: cv2.resize refuses a 0-px target (a 40000x1 strip scaled to 1024 wide)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = rgb if scale == 1.0 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    min_face = None if min_face_px is None else max(DEFAULT_MIN_FACE_PX, int(min_face_px * scale))
    faces = [f for f in detector.detect(small, min_face) if f.confidence >= config.min_confidence]
    return [f.scaled(1.0 / scale) for f in faces] if scale != 1.0 else faces


def subject_first(faces: Sequence[FaceDetection]) -> tuple[FaceDetection, ...]:
    """THE face-selection rule, for screening and for quality alike: the largest confident face is
    the subject, ties broken by confidence; the others follow in the same order."""
    return tuple(sorted(faces, key=lambda f: (f.area, f.confidence), reverse=True))


def choose_subject(faces: Sequence[FaceDetection], min_confidence: float = DetectConfig.min_confidence) -> FaceFinding:
    """The subject among ``faces`` (see :func:`subject_first`); NoFaceError when there is none."""
    ranked = subject_first(faces)
    if not ranked:
        raise NoFaceError(f"no face found with confidence >= {min_confidence:.2f}")
    return FaceFinding(face=ranked[0], n_faces=len(ranked), all_faces=ranked)


def find_face(rgb: np.ndarray, detector: Detector, config: DetectConfig = DetectConfig()) -> FaceFinding:
    """The face to screen: the largest confident face, ties broken by confidence."""
    return choose_subject(detect_faces(rgb, detector, config), config.min_confidence)


def box_iou(a, b) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class DetectorTolerance:
    """When two runs of a detector count as finding the same faces: the converters' gate of a
    converted cascade against the package, and the tablet's of the browser against Python."""

    min_iou: float = 0.9
    max_landmark_px: float = 2.0


def faces_agree(cmp: dict, tolerance: DetectorTolerance) -> bool:
    """The rule on a :func:`compare_faces` record: the same number of faces, each within tolerance."""
    return (
        cmp["n_reference"] == cmp["n_converted"]
        and cmp["min_iou"] >= tolerance.min_iou
        and cmp["max_landmark_px"] <= tolerance.max_landmark_px
    )


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
    return {
        "n_reference": len(reference),
        "n_converted": len(candidate),
        "min_iou": round(worst_iou, 4),
        "max_landmark_px": round(worst_px, 3),
    }


def create_detector(
    name: str = "mtcnn", bundle: Bundle | str | Path | None = None, *, threads: int | None = None
) -> Detector:
    """Build a registered detector. Every factory takes the same arguments: ``bundle`` (a
    :class:`~edge.bundle.Bundle` or its directory; ``mtcnn-lite`` is converted into one, the
    ``mtcnn`` package ignores it) and ``threads``. The smallest face is a per-call setting
    (:class:`DetectConfig`), so one detector serves a photo and a camera frame alike."""
    return DETECTORS.create(name, bundle_dir(bundle), threads=threads)


def bundle_dir(bundle: Bundle | str | Path | None) -> Path | None:
    """A bundle's directory, whether given a Bundle, a path or None."""
    if bundle is None:
        return None
    return Path(getattr(bundle, "path", bundle))


def _mtcnn_package(bundle: Path | None, threads: int | None = None) -> Detector:
    from .detectors.mtcnn_package import MtcnnPackageDetector

    return MtcnnPackageDetector()


def _mtcnn_lite(bundle: Path | None, threads: int | None = None) -> Detector:
    from .detectors.mtcnn_lite import MtcnnLiteDetector
    from .detectors.mtcnn_manifest import MANIFEST

    if bundle is None:
        raise BundleError(
            "the 'mtcnn-lite' detector is the converted cascade inside a bundle: give that bundle "
            "(e.g. --detector-bundle BUNDLE); make one with facescreen-convert BUNDLE --to mtcnn-tflite"
        )
    if not (bundle / "detector" / MANIFEST).is_file():
        raise BundleError(
            f"{bundle} carries no converted detector ({bundle / 'detector' / MANIFEST} is missing); "
            f"run facescreen-convert {bundle} --to mtcnn-tflite"
        )
    return MtcnnLiteDetector(model_dir=bundle / "detector", threads=threads)


DETECTORS.register("mtcnn", _mtcnn_package)
DETECTORS.register("mtcnn-lite", _mtcnn_lite)
