"""Photometric measures on the inner face (brows to below the mouth, from the detector's five
points): brightness, clipped shadows and highlights, left/right illumination, sharpness."""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from .base import Bound, FrameContext

SHARPNESS_WIDTH = 128  # the inner face is resized to this width so sharpness does not depend on distance


class Brightness:
    """Mean luma (0..255) of the inner face."""

    name: ClassVar[str] = "brightness"
    unit: ClassVar[str] = "luma 0-255"
    needs: ClassVar[str] = "face"
    instructions: ClassVar[dict[str, str]] = {"low": "more_light", "high": "less_light"}

    def raw(self, ctx: FrameContext) -> float:
        return float(ctx.face_gray.mean())

    def bound(self, ctx: FrameContext) -> Bound:
        return Bound(ctx.config.min_brightness, ctx.config.max_brightness)


class UnderExposure:
    """Fraction of inner-face pixels crushed to black (luma <= 5), as OFIQ's under-exposure prevention."""

    name: ClassVar[str] = "under_exposure"
    unit: ClassVar[str] = "fraction of pixels"
    needs: ClassVar[str] = "face"
    instructions: ClassVar[dict[str, str]] = {"high": "more_light"}

    def raw(self, ctx: FrameContext) -> float:
        return float((ctx.face_gray <= 5).mean())

    def bound(self, ctx: FrameContext) -> Bound:
        return Bound(max=ctx.config.max_clipped_fraction)


class OverExposure:
    """Fraction of inner-face pixels blown out to white (luma >= 250): glare or a flash too close."""

    name: ClassVar[str] = "over_exposure"
    unit: ClassVar[str] = "fraction of pixels"
    needs: ClassVar[str] = "face"
    instructions: ClassVar[dict[str, str]] = {"high": "avoid_glare"}

    def raw(self, ctx: FrameContext) -> float:
        return float((ctx.face_gray >= 250).mean())

    def bound(self, ctx: FrameContext) -> Bound:
        return Bound(max=ctx.config.max_clipped_fraction)


class IlluminationUniformity:
    """Intersection of the luma histograms of the left and right halves of the inner face (split
    at the nose), as OFIQ's illumination uniformity: 1 when both halves are lit alike."""

    name: ClassVar[str] = "illumination_uniformity"
    unit: ClassVar[str] = "histogram intersection 0-1"
    needs: ClassVar[str] = "face"
    instructions: ClassVar[dict[str, str]] = {"low": "even_light"}

    def raw(self, ctx: FrameContext) -> float:
        x1, _, x2, _ = ctx.inner_face
        split = int(round(np.clip(ctx.face.landmarks[2, 0], x1 + 1, x2 - 1))) - x1
        left, right = ctx.face_gray[:, :split], ctx.face_gray[:, split:]
        if left.size == 0 or right.size == 0:
            raise ValueError("the face is cut off at the frame edge")
        hl = np.bincount((left // 8).ravel(), minlength=32) / left.size
        hr = np.bincount((right // 8).ravel(), minlength=32) / right.size
        return float(np.minimum(hl, hr).sum())

    def bound(self, ctx: FrameContext) -> Bound:
        return Bound(min=ctx.config.min_illumination_uniformity)


class Sharpness:
    """Variance of the Laplacian of the inner face resized to a fixed width (focus and motion blur)."""

    name: ClassVar[str] = "sharpness"
    unit: ClassVar[str] = "Laplacian variance"
    needs: ClassVar[str] = "face"
    instructions: ClassVar[dict[str, str]] = {"low": "hold_still"}

    def raw(self, ctx: FrameContext) -> float:
        return ctx.memo("sharpness", lambda: sharpness(ctx.face_gray))

    def bound(self, ctx: FrameContext) -> Bound:
        return Bound(min=ctx.config.min_sharpness)


def sharpness(gray: np.ndarray) -> float:
    if gray.shape[0] < 8 or gray.shape[1] < 8:
        raise ValueError(f"the face region is too small ({gray.shape[1]}x{gray.shape[0]} px)")
    h = max(8, round(gray.shape[0] * SHARPNESS_WIDTH / gray.shape[1]))
    interp = cv2.INTER_AREA if gray.shape[1] > SHARPNESS_WIDTH else cv2.INTER_LINEAR
    small = cv2.resize(gray, (SHARPNESS_WIDTH, h), interpolation=interp)
    return float(cv2.Laplacian(small, cv2.CV_64F).var())
