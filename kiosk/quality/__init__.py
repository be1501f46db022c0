"""Capture-quality measures modelled on ISO/IEC 29794-5 (BSI OFIQ): one small unit per measure."""

from .assess import DEFAULT_MEASURES, MEASURE_NAMES, FrameAnalyser, FrameAnalysis, model_inter_eye_px
from .base import Bound, FrameContext, Measure, MeasureResult, QualityReport, run_measure
from .config import QualityConfig
from .pose import HeadPose, head_pose

__all__ = [
    "Bound",
    "DEFAULT_MEASURES",
    "FrameAnalyser",
    "FrameAnalysis",
    "FrameContext",
    "HeadPose",
    "MEASURE_NAMES",
    "Measure",
    "MeasureResult",
    "QualityConfig",
    "QualityReport",
    "head_pose",
    "model_inter_eye_px",
    "run_measure",
]
