"""Thresholds of the capture-quality measures. Every one is configurable; a misspelt key is an error.

Defaults follow ICAO / ISO/IEC 39794-5 practice where one exists (roll <= 8 degrees) and were
otherwise set on the two sample photos and the synthetic cohort (see README.md (the kiosk section) for
the figures and what they do not show).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from ..configfile import FileConfig


class QualityConfig(FileConfig):
    # faces smaller than this fraction of the largest face's height do not count as a second face
    other_face_min_ratio: float = Field(0.35, gt=0, le=1)
    # None: the inter-eye distance the model's aligned crop holds at its input size, so the crop
    # is never upsampled
    min_inter_eye_px: float | None = Field(None, gt=0)
    min_head_size: float = Field(0.20, gt=0, lt=1)  # face-box height / frame height
    max_head_size: float = Field(0.80, gt=0, le=1.5)
    max_centre_offset: float = Field(0.20, gt=0, le=0.5)  # face-box centre from frame centre, / frame size
    max_roll_deg: float = Field(8.0, gt=0, le=90)
    max_yaw_deg: float = Field(10.0, gt=0, le=90)
    max_pitch_deg: float = Field(10.0, gt=0, le=90)
    pitch_offset_deg: float = Field(0.0, ge=-30, le=30)  # per-camera calibration, added to the estimate
    # judged only when no face is found: frame pixels at <= 5 or >= 250 luma (more or less light, not
    # "look at the camera")
    max_frame_clipped_fraction: float = Field(0.25, ge=0, le=1)
    min_brightness: float = Field(60.0, ge=0, le=255)  # mean luma of the inner face
    max_brightness: float = Field(215.0, ge=0, le=255)
    max_clipped_fraction: float = Field(0.05, ge=0, le=1)  # inner-face pixels at <= 5 or >= 250
    min_dynamic_range: float = Field(6.4, ge=0, le=8)  # bits: entropy of the inner face's luma histogram (OFIQ)
    min_illumination_uniformity: float = Field(0.45, ge=0, le=1)  # left/right histogram intersection
    # darker / brighter cheek's mean luma (OFIQ's zones): the sample photos' faces read 0.893 and up; a
    # 0.5 -> 1 light ramp across the frame 0.81-0.88, milder ones overlap them (docs/kiosk.md: figures)
    min_light_balance: float = Field(0.88, ge=0, le=1)
    max_pixel_repetition: float = Field(1.5, ge=1)  # times each face pixel is repeated (digital zoom)
    min_sharpness: float = Field(30.0, ge=0)  # variance of the Laplacian, inner face at 128 px
    min_eye_openness: float = Field(0.20, ge=0)  # eyelid gap / eye width, the smaller eye
    max_mouth_gap: float = Field(0.04, ge=0)  # inner-lip gap / face height (forehead to chin)

    @model_validator(mode="after")
    def _ranges(self) -> QualityConfig:
        if self.min_head_size >= self.max_head_size:
            raise ValueError(f"min_head_size {self.min_head_size} must be below max_head_size {self.max_head_size}")
        if self.min_brightness >= self.max_brightness:
            raise ValueError(f"min_brightness {self.min_brightness} must be below max_brightness {self.max_brightness}")
        return self
