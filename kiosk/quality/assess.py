"""One frame in, one quality report out: detect faces, compute the dense landmarks once, run
every measure in priority order on the shared context."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from facescreen.edge.detect import DetectConfig, Detector, detect_faces
from facescreen.edge.pipeline import AlignConfig

from ..landmarks import DenseLandmarker
from .base import FrameContext, Measure, QualityReport, run_measure
from .config import QualityConfig
from .expression import EyesOpen, MouthClosed
from .face import Centred, HeadSize, InterEyeDistance, SingleFace
from .image import Brightness, IlluminationUniformity, OverExposure, Sharpness, UnderExposure
from .pose import Pitch, Roll, Yaw

# Priority order: the first failing measure gives the one instruction. Who and where first, then
# how the head is held, then light and focus, then the transient expression.
DEFAULT_MEASURES: tuple[Measure, ...] = (
    SingleFace(), InterEyeDistance(), HeadSize(), Centred(), Roll(), Yaw(), Pitch(),
    Brightness(), UnderExposure(), OverExposure(), IlluminationUniformity(), Sharpness(),
    EyesOpen(), MouthClosed(),
)
MEASURE_NAMES = tuple(m.name for m in DEFAULT_MEASURES)


def model_inter_eye_px(align: AlignConfig) -> float:
    """Inter-eye distance, in pixels, of the model's aligned input crop."""
    p = align.template.pixels(align.size)
    return float(np.linalg.norm(p[1] - p[0]))


@dataclass(frozen=True)
class FrameAnalysis:
    context: FrameContext
    report: QualityReport

    @property
    def passed(self) -> bool:
        return self.report.passed


class FrameAnalyser:
    """Detector + dense landmarker + measures. Not thread-safe: callers serialise (KioskEngine does)."""

    def __init__(self, detector: Detector, landmarker: Optional[DenseLandmarker],
                 config: QualityConfig = QualityConfig(), detect: DetectConfig = DetectConfig(),
                 model_iod_px: float = 48.0, measures: Sequence[Measure] = DEFAULT_MEASURES) -> None:
        self.detector = detector
        self.landmarker = landmarker
        self.config = config
        self.detect = detect
        self.model_iod_px = model_iod_px
        self.measures = tuple(measures)

    def analyse(self, rgb: np.ndarray) -> FrameAnalysis:
        t0 = time.perf_counter()
        faces = sorted(detect_faces(rgb, self.detector, self.detect), key=lambda f: (f.area, f.confidence),
                       reverse=True)
        t1 = time.perf_counter()
        ctx = FrameContext(rgb=rgb, faces=tuple(faces), config=self.config, model_iod_px=self.model_iod_px)
        if faces:
            if self.landmarker is None:
                ctx.mesh_note = "no dense-landmark model is loaded"
            else:
                try:
                    ctx.mesh = self.landmarker(rgb, faces[0])
                    if ctx.mesh is None:
                        ctx.mesh_note = "the landmark model did not find a whole face in the detected box"
                except Exception as exc:  # recorded, and the measures that need no mesh still run
                    ctx.mesh_note = f"dense landmarks failed: {type(exc).__name__}: {exc}"
        t2 = time.perf_counter()
        results = tuple(run_measure(m, ctx) for m in self.measures)
        t3 = time.perf_counter()
        report = QualityReport(results, {"detect": (t1 - t0) * 1e3, "landmarks": (t2 - t1) * 1e3,
                                         "measures": (t3 - t2) * 1e3})
        return FrameAnalysis(ctx, report)
