"""The one result type. It travels from :mod:`edge` to the kiosk store and the API unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .detect import FaceDetection
from .postprocess import flagged

REFER = "refer for genetic evaluation"
NO_FLAG = "no referral flag"


@dataclass(frozen=True)
class ScreeningResult:
    """A screening flag, never a diagnosis.

    ``probability`` is the summed probability of the model's positive classes; ``flag`` is
    ``probability >= threshold`` (:func:`edge.postprocess.flagged`). ``cam`` is the class activation
    map (positive vs negative classes) at the model's input resolution, in [0, 1], in the aligned crop's pixels;
    ``align_matrix`` maps photo pixels to those crop pixels, and ``face_crop`` is that crop.
    """

    probability: float
    threshold: float
    class_names: tuple[str, ...]
    class_probabilities: tuple[float, ...]
    positive_classes: tuple[str, ...]
    model_id: str
    model_version: str
    backend: str
    intended_use: str
    not_for_clinical_use: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    detection: FaceDetection | None = None
    n_faces: int = 1
    cam: np.ndarray | None = field(default=None, repr=False)
    align_matrix: np.ndarray | None = field(default=None, repr=False)
    # the aligned crop the model saw (uint8 RGB), so a CAM overlay never aligns again; in memory
    # only: to_dict leaves it out
    face_crop: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0 + 1e-6:
            raise ValueError(f"probability must be in [0, 1], got {self.probability}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if len(self.class_names) != len(self.class_probabilities):
            raise ValueError(
                f"expected one probability per class ({len(self.class_names)}), got {len(self.class_probabilities)}"
            )
        unknown = set(self.positive_classes) - set(self.class_names)
        if not self.positive_classes or unknown:
            raise ValueError(
                f"positive classes {sorted(unknown) or '[]'} are not among the classes {list(self.class_names)}"
            )
        if self.cam is not None and (self.cam.ndim != 2 or self.cam.shape[0] != self.cam.shape[1]):
            raise ValueError(f"cam must be a square (H, W) map, got shape {self.cam.shape}")
        if self.align_matrix is not None and np.asarray(self.align_matrix).shape != (2, 3):
            raise ValueError(f"align_matrix must be 2x3, got {np.asarray(self.align_matrix).shape}")

    @property
    def flag(self) -> bool:
        return bool(flagged(self.probability, self.threshold))

    @property
    def label(self) -> str:
        return REFER if self.flag else NO_FLAG

    @property
    def class_probability_map(self) -> dict[str, float]:
        return dict(zip(self.class_names, self.class_probabilities))

    def to_dict(self, include_cam: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "flag": self.flag,
            "label": self.label,
            "probability": round(float(self.probability), 6),
            "threshold": round(float(self.threshold), 6),
            "class_probabilities": {k: round(float(v), 6) for k, v in self.class_probability_map.items()},
            "positive_classes": list(self.positive_classes),
            "model": {"id": self.model_id, "version": self.model_version, "backend": self.backend},
            "intended_use": self.intended_use,
            "not_for_clinical_use": self.not_for_clinical_use,
            "n_faces": self.n_faces,
            "detection": self.detection.to_dict() if self.detection else None,
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }
        if include_cam and self.cam is not None:
            d["cam"] = np.round(self.cam, 4).tolist()
            d["align_matrix"] = np.asarray(self.align_matrix).tolist() if self.align_matrix is not None else None
        return d

    def summary(self) -> str:
        lines = [
            f"Result: {self.label.upper()}  "
            f"(screening probability {self.probability:.3f}, threshold {self.threshold:.3f})",
            f"Model:  {self.model_id} v{self.model_version} via {self.backend}",
        ]
        if self.not_for_clinical_use:
            lines.append(f"NOT FOR CLINICAL USE: {self.intended_use}")
        lines.append("This is a screening flag for referral, not a diagnosis.")
        return "\n".join(lines)
