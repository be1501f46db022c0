"""The kiosk's engine: one screener (bundle + backend + detector) and one dense landmarker, loaded
once, shared by the guidance loop, the server and the demo. Detector, landmarker and inference
backend are not re-entrant, so every call goes through one lock."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from facescreen.edge.align import align_face
from facescreen.edge.bundle import MODELCARD, Bundle, sha256_file
from facescreen.edge.detect import DetectConfig, Detector
from facescreen.edge.photo import PhotoLimits, PhotoSource, load_photo
from facescreen.edge.postprocess import overlay_cam
from facescreen.edge.result import ScreeningResult
from facescreen.edge.screener import Screener, create_screener

from .landmarks import DenseLandmarker
from .quality import FrameAnalyser, FrameAnalysis, QualityConfig, model_inter_eye_px
from .tracking import FaceTrack, FindConfig


def is_demo_card(card) -> bool:
    """True for a model trained on synthetic data: every result it gives is labelled so (the kiosk
    and the tablet app show the demo notice)."""
    return card.training_data.get("kind") == "synthetic" or "demo" in card.model_id.lower()


class KioskEngine:
    def __init__(
        self,
        screener: Screener,
        landmarker: DenseLandmarker | None,
        quality: QualityConfig = QualityConfig(),
        limits: PhotoLimits = PhotoLimits(),
        find: FindConfig = FindConfig(),
    ) -> None:
        if screener.detector is None:
            raise ValueError("the kiosk needs a screener with a face detector")
        self.screener = screener
        self.landmarker = landmarker
        self.limits = limits
        self.find = find
        # the card as it was loaded, hashed: a FHIR Device's identifier (kiosk/fhir), kept in the store's
        # served_models so that results of this model can be pushed after its bundle is replaced
        self.card_sha256 = sha256_file(screener.bundle.path / MODELCARD)
        self.analyser = FrameAnalyser(
            screener.detector,
            landmarker,
            quality,
            screener.align_config.detect,
            model_iod_px=model_inter_eye_px(screener.align_config),
            find=find,
        )
        # the screener's own photo path honours the same upload limits as the API
        self.screener.align_config = replace(screener.align_config, limits=limits)
        self._lock = threading.Lock()

    @classmethod
    def create(
        cls,
        bundle: Bundle | str | Path,
        backend: str = "auto",
        detector: Detector | str | None = "auto",
        landmarks_model: str | Path | None = None,
        quality: QualityConfig = QualityConfig(),
        limits: PhotoLimits = PhotoLimits(),
        threads: int | None = None,
        find: FindConfig = FindConfig(),
    ) -> KioskEngine:
        """Open the bundle and the landmark model once (program start, not per request)."""
        # the kiosk finds faces with its own settings (FindConfig from the quality's smallest head);
        # DetectConfig() is the base its baseline measures, the whole pyramid
        screener = create_screener(bundle, backend=backend, detector=detector, threads=threads, detect=DetectConfig())
        return cls(screener, DenseLandmarker(landmarks_model, threads=threads), quality, limits, find)

    @property
    def quality(self) -> QualityConfig:
        return self.analyser.config

    def load(self, photo: PhotoSource) -> np.ndarray:
        """Decode an upload with the kiosk's limits (raises edge.errors.PhotoError)."""
        return load_photo(photo, self.limits)

    def analyse(self, rgb: np.ndarray, track: FaceTrack | None = None, capture: bool = True) -> FrameAnalysis:
        """Quality of one frame (see FrameAnalyser.analyse; ``track`` is the caller's own)."""
        with self._lock:
            return self.analyser.analyse(rgb, track, capture)

    def screen(self, rgb: np.ndarray, analysis: FrameAnalysis | None = None) -> ScreeningResult:
        """Screen an RGB frame through edge's one path (prepare_face -> backend -> result).

        With ``analysis`` (this frame's, from a detection), the face its quality was judged on is
        the face screened: one detection per capture. Without it, or with the baseline FindConfig,
        the frame is detected again."""
        found = analysis.finding if analysis is not None and self.find.reuse_capture_detection else None
        with self._lock:
            return self.screener.screen(rgb, found)

    def cam_overlay(self, rgb: np.ndarray, result: ScreeningResult) -> np.ndarray | None:
        """The class activation map over the crop the model saw (the result carries it; the
        baseline FindConfig aligns the frame again, as before)."""
        if result.cam is None or result.detection is None:
            return None
        if self.find.reuse_capture_detection and result.face_crop is not None:
            return overlay_cam(result.face_crop, result.cam)
        a = self.screener.align_config
        crop = align_face(rgb, result.detection.landmarks, a.size, a.template).image
        return overlay_cam(crop, result.cam)

    def model_info(self) -> dict[str, Any]:
        c = self.screener.card
        return {
            "model_id": c.model_id,
            "version": c.version,
            "backend": self.screener.backend_label,
            "backbone": c.backbone,
            "input_size": c.input.size,
            "classes": list(c.classes),
            "positive_classes": list(c.positive_classes),
            "threshold": c.threshold,
            "card_sha256": self.card_sha256,
            "intended_use": c.intended_use,
            "not_for_clinical_use": c.not_for_clinical_use,
            "training_data": c.training_data.get("kind", "unspecified"),
            "detector": getattr(self.screener.detector, "name", type(self.screener.detector).__name__),
            "landmarks_model": str(self.landmarker.path) if self.landmarker else None,
        }

    @property
    def is_demo(self) -> bool:
        return is_demo_card(self.screener.card)
