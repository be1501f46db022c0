"""One frame in, one quality report out: detect faces, compute the dense landmarks once, run
every measure in priority order on the shared context."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facescreen.edge.detect import (
    DetectConfig,
    Detector,
    FaceDetection,
    FaceFinding,
    choose_subject,
    detect_faces,
    subject_first,
)
from facescreen.edge.pipeline import AlignConfig

from ..landmarks import DenseLandmarker, FaceMesh
from ..tracking import FaceTrack, FindConfig
from .base import FrameContext, Measure, QualityReport, run_measure
from .config import QualityConfig
from .expression import EyesOpen, MouthClosed
from .face import Centred, HeadSize, InterEyeDistance, SingleFace
from .image import (
    Brightness,
    DynamicRange,
    FrameOverExposure,
    FrameUnderExposure,
    IlluminationUniformity,
    LightBalance,
    OverExposure,
    PixelRepetition,
    Sharpness,
    UnderExposure,
)
from .pose import Pitch, Roll, Yaw

# Priority order: the first failing measure gives the one instruction. A frame too bright or too dark
# for any face to be found first (judged only when none is), then who and where, then how the head
# is held, then light and focus, then the transient expression.
DEFAULT_MEASURES: tuple[Measure, ...] = (
    FrameOverExposure(),
    FrameUnderExposure(),
    SingleFace(),
    InterEyeDistance(),
    HeadSize(),
    Centred(),
    Roll(),
    Yaw(),
    Pitch(),
    Brightness(),
    UnderExposure(),
    OverExposure(),
    DynamicRange(),
    IlluminationUniformity(),
    LightBalance(),
    PixelRepetition(),
    Sharpness(),
    EyesOpen(),
    MouthClosed(),
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
    tracked: bool = False  # the face was carried from an earlier detection by the mesh, not detected here

    @property
    def passed(self) -> bool:
        return self.report.passed

    @property
    def finding(self) -> FaceFinding:
        """The subject as the detector found it on this frame: what screening this frame uses, so
        quality is judged on the face that is screened. NoFaceError when there is none."""
        if self.tracked:
            raise ValueError("this frame's face was tracked, not detected; analyse it with a detection to screen it")
        return choose_subject(self.context.faces)


class FrameAnalyser:
    """Detector + dense landmarker + measures. Not thread-safe: callers serialise (KioskEngine does)."""

    def __init__(
        self,
        detector: Detector,
        landmarker: DenseLandmarker | None,
        config: QualityConfig = QualityConfig(),
        detect: DetectConfig = DetectConfig(),
        model_iod_px: float = 48.0,
        measures: Sequence[Measure] = DEFAULT_MEASURES,
        find: FindConfig = FindConfig(),
    ) -> None:
        self.detector = detector
        self.landmarker = landmarker
        self.config = config
        self.detect = detect
        self.model_iod_px = model_iod_px
        self.measures = tuple(measures)
        self.find = find

    def faces(self, rgb: np.ndarray, full_size: bool = True) -> tuple[FaceDetection, ...]:
        """Every confident face of the frame, subject first (edge's one selection rule)."""
        cfg = self.find.detect_config(self.detect, self.config, rgb.shape[0], full_size)
        return subject_first(detect_faces(rgb, self.detector, cfg))

    def _mesh(self, rgb: np.ndarray, face: FaceDetection) -> tuple[FaceMesh | None, str]:
        if self.landmarker is None:
            return None, "no dense-landmark model is loaded"
        try:
            mesh = self.landmarker(rgb, face)
        except Exception as exc:  # recorded, and the measures that need no mesh still run
            return None, f"dense landmarks failed: {type(exc).__name__}: {exc}"
        return mesh, "" if mesh is not None else "the landmark model did not find a whole face in the detected box"

    def analyse(self, rgb: np.ndarray, track: FaceTrack | None = None, capture: bool = True) -> FrameAnalysis:
        """Measure one frame. ``capture``: this frame may be screened, so it is detected at full
        size. Otherwise (a guidance frame) the face is followed by the mesh on ``track`` (a guidance
        loop's own) between detections, and detections run on a reduced copy."""
        timings = {"detect": 0.0, "landmarks": 0.0}
        faces: tuple[FaceDetection, ...] = ()
        mesh, note, tracked = None, "", False
        t0 = time.perf_counter()
        if track is not None and not capture and not track.due:
            mesh, note = self._mesh(rgb, track.face)  # read where the face was on the previous frame
            face = track.follow(mesh) if mesh is not None else None
            if face is not None:
                faces, tracked = (face,), True
            else:
                track.lose()
            timings["landmarks"] = (time.perf_counter() - t0) * 1e3
        if not tracked:
            t1 = time.perf_counter()
            faces = self.faces(rgb, full_size=capture)
            t2 = time.perf_counter()
            mesh, note = self._mesh(rgb, faces[0]) if faces else (None, "")
            timings["detect"] = (t2 - t1) * 1e3
            timings["landmarks"] += (time.perf_counter() - t2) * 1e3
            if track is not None:
                track.start(faces[0], mesh) if faces else track.lose()
        t3 = time.perf_counter()
        ctx = FrameContext(
            rgb=rgb, faces=faces, config=self.config, model_iod_px=self.model_iod_px, mesh=mesh, mesh_note=note
        )
        results = tuple(run_measure(m, ctx) for m in self.measures)
        report = QualityReport(results, {**timings, "measures": (time.perf_counter() - t3) * 1e3})
        return FrameAnalysis(ctx, report, tracked)
