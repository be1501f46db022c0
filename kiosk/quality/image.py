"""Photometric measures: the light on the frame when no face is found, then on the inner face (brows
to below the mouth, from the detector's five points): brightness, clipped shadows and highlights,
dynamic range, left/right illumination and its balance, repeated pixels (digital zoom), sharpness."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import cv2
import numpy as np

from .base import Bound, ConfigBound, FrameContext, MeasureBase

SHARPNESS_WIDTH = 128  # the inner face is resized to this width so sharpness does not depend on distance
CRUSHED, BLOWN = 5, 250  # luma at or below / at or above: no detail left (OFIQ's exposure ranges' ends)
DARK, GLARE = (0, CRUSHED), (BLOWN, 255)  # those luma levels, each an inclusive (lowest, highest)
# OFIQ's illumination zones (image_utils.cpp CalculateRegionOfInterest): a square of 0.3 inter-eye
# distances on each cheek, outward of each eye centre, half the eye-to-mouth distance below it
CHEEK_ZONE, CHEEK_DROP = 0.3, 0.5
# a row or column of the inner face counts as a copy of its neighbour when it differs from it by less
# than this fraction of the face's mean row-to-row (column-to-column) difference
REPEAT_FRACTION = 10  # 1/10


def frame_histogram(ctx: FrameContext) -> np.ndarray:
    """The whole frame's 256-bin luma histogram (exact counts), once per frame for both frame measures."""
    return ctx.memo("frame_histogram", lambda: cv2.calcHist([ctx.gray], [0], None, [256], [0, 256]).ravel())


class _FrameClipped(MeasureBase, unit="fraction of frame pixels", needs="frame"):
    """Fraction of the whole frame's pixels at the luma ``levels``, judged only when no face is found.
    With a face, the face's own light measures judge it (a bright wall behind a well-lit child is no
    reason to refuse), so the bound is then the whole range."""

    levels: ClassVar[tuple[int, int]]  # DARK or GLARE

    def raw(self, ctx: FrameContext) -> float:
        lo, hi = self.levels
        return float(frame_histogram(ctx)[lo : hi + 1].sum()) / ctx.gray.size

    def bound(self, ctx: FrameContext) -> Bound:
        return Bound(max=1.0 if ctx.face is not None else ctx.config.max_frame_clipped_fraction)


class FrameOverExposure(_FrameClipped, name="frame_over_exposure", high="less_light"):
    """Blown out to white (luma >= 250): a face washed out by too much light is not found by the
    detector, and "look at the camera" would be the wrong instruction."""

    levels = GLARE


class FrameUnderExposure(_FrameClipped, name="frame_under_exposure", high="more_light"):
    """Crushed to black (luma <= 5): a face lost in the dark needs more light, not "look here"."""

    levels = DARK


class _OfFace(ConfigBound, needs="face"):
    """A measure of the inner face's luma alone: ``of`` takes the crop (uint8) to the raw value."""

    of: Callable[[np.ndarray], float]

    def raw(self, ctx: FrameContext) -> float:
        return float(self.of(ctx.face_gray))


class Brightness(_OfFace, name="brightness", unit="luma 0-255", low="more_light", high="less_light"):
    """Mean luma (0..255) of the inner face."""

    lowest, highest = "min_brightness", "max_brightness"
    of = staticmethod(np.mean)


class _FaceClipped(ConfigBound, unit="fraction of pixels", needs="face"):
    """Fraction of inner-face pixels at the luma ``levels``."""

    highest = "max_clipped_fraction"
    levels: ClassVar[tuple[int, int]]  # DARK or GLARE

    def raw(self, ctx: FrameContext) -> float:
        lo, hi = self.levels
        return float(((ctx.face_gray >= lo) & (ctx.face_gray <= hi)).mean())


class UnderExposure(_FaceClipped, name="under_exposure", high="more_light"):
    """Crushed to black (luma <= 5), as OFIQ's under-exposure prevention."""

    levels = DARK


class OverExposure(_FaceClipped, name="over_exposure", high="avoid_glare"):
    """Blown out to white (luma >= 250): glare or a flash too close."""

    levels = GLARE


def dynamic_range(gray: np.ndarray) -> float:
    """OFIQ's ComputeEntropy: ``-sum p log2 p`` over the 256-bin histogram of ``gray`` (uint8)."""
    if gray.size == 0:
        raise ValueError("the face region is empty")
    p = np.bincount(gray.ravel(), minlength=256) / gray.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


class DynamicRange(_OfFace, name="dynamic_range", unit="bits (histogram entropy)", low="low_contrast"):
    """Entropy, in bits, of the 256-bin luma histogram of the inner face: OFIQ's DynamicRange
    (ISO/IEC 29794-5; OFIQlib/modules/measures/src/DynamicRange.cpp, ``-sum p log2 p`` over the
    face's luminance histogram, 0..8 bits). A washed-out, low-contrast face spans few grey levels.

    Two departures, both said here: the region is the inner face rectangle, not OFIQ's landmarked
    face mask on the aligned crop; and the histogram is of luma (as every other light measure here),
    not OFIQ's linearised luminance (image_utils.cpp GetLuminanceImageFromBGR). Linearising merges
    the dark levels, and a gamma-washed face lifts them apart again: on linear luminance washed faces
    read 6.9-7.4 bits, as high as good ones (6.6 and up); on luma they read 6.0-6.45, the synthetic
    cohorts' photos 6.49 and up (docs/kiosk.md has the figures)."""

    lowest = "min_dynamic_range"
    of = staticmethod(dynamic_range)


class IlluminationUniformity(
    ConfigBound, name="illumination_uniformity", unit="histogram intersection 0-1", needs="face", low="even_light"
):
    """Intersection of the luma histograms of the left and right halves of the inner face (split
    at the nose), as OFIQ's illumination uniformity: 1 when both halves are lit alike."""

    lowest = "min_illumination_uniformity"

    def raw(self, ctx: FrameContext) -> float:
        x1, _, x2, _ = ctx.inner_face
        split = int(round(np.clip(ctx.face.landmarks[2, 0], x1 + 1, x2 - 1))) - x1
        left, right = ctx.face_gray[:, :split], ctx.face_gray[:, split:]
        if left.size == 0 or right.size == 0:
            raise ValueError("the face is cut off at the frame edge")
        hl = np.bincount((left // 8).ravel(), minlength=32) / left.size
        hr = np.bincount((right // 8).ravel(), minlength=32) / right.size
        return float(np.minimum(hl, hr).sum())


def cheek_zones(landmarks: np.ndarray, shape: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """OFIQ's two illumination zones ``(x1, y1, x2, y2)``, image-left cheek first, placed along the
    eye line so that they stay on the cheeks of a tilted head, clipped to the frame."""
    lm = np.asarray(landmarks, dtype=np.float64)
    eye_l, eye_r = lm[0], lm[1]
    iod = float(np.hypot(*(eye_r - eye_l)))
    if iod <= 0:
        raise ValueError("the eyes coincide")
    u = (eye_r - eye_l) / iod
    v = np.array([-u[1], u[0]])  # down the face
    drop = CHEEK_DROP * float(np.hypot(*(lm[3:].mean(0) - (eye_l + eye_r) / 2)))
    z = max(2, int(round(CHEEK_ZONE * iod)))
    h, w = shape
    zones = []
    for eye, outward in ((eye_l, -1.0), (eye_r, 1.0)):
        c = eye + u * (outward * z / 2) + v * (drop + z / 2)
        x0, y0 = int(round(float(c[0]) - z / 2)), int(round(float(c[1]) - z / 2))
        zones.append((max(0, x0), max(0, y0), min(w, x0 + z), min(h, y0 + z)))
    return zones


class LightBalance(
    ConfigBound, name="light_balance", unit="darker / brighter cheek luma", needs="face", low="even_light"
):
    """Mean luma of the darker cheek over the brighter one, in OFIQ's illumination zones: 1 when both
    cheeks are lit alike. The histogram intersection above compares the shapes of two broad
    histograms and barely moves under a smooth left-to-right light ramp; a ramp scales one cheek
    against the other, which this ratio reads directly. A face's own light is rarely even (the sample
    photos' cheeks differ by 3-11%), so a ramp that darkens the side its light already favours is
    partly cancelled: no comparison of the two sides tells that frame from a good one."""

    lowest = "min_light_balance"

    def raw(self, ctx: FrameContext) -> float:
        means = []
        for x1, y1, x2, y2 in cheek_zones(ctx.face.landmarks, ctx.shape):
            if x2 <= x1 or y2 <= y1:
                raise ValueError("a cheek is outside the frame")
            means.append(float(ctx.gray[y1:y2, x1:x2].mean()))
        if max(means) <= 0:
            raise ValueError("both cheeks are black")
        return min(means) / max(means)


def pixel_repetition(gray: np.ndarray) -> float:
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        raise ValueError(f"the face region is too small ({gray.shape[1]}x{gray.shape[0]} px)")
    g = gray.astype(np.int32)
    copied = []
    for axis in (1, 0):  # columns, then rows
        d = np.abs(np.diff(g, axis=axis)).sum(axis=1 - axis)  # one total per neighbour pair, exact
        copied.append(float((d * REPEAT_FRACTION * d.size < d.sum()).mean()))
    return 1.0 / (1.0 - (copied[0] + copied[1]) / 2.0)


class PixelRepetition(_OfFace, name="pixel_repetition", unit="times each pixel is repeated", high="no_zoom"):
    """How many times each pixel of the inner face is repeated: ``1 / (1 - f)``, ``f`` the share of
    its rows and columns that copy their neighbour (they differ from it by less than a tenth of the
    face's mean row-to-row or column-to-column difference). 1 for a camera's own pixels; about ``k``
    for a face enlarged ``k`` times into blocks (digital zoom), whose many frame pixels carry only
    the detail of a small, far face and pass a Laplacian sharpness on the blocks' edges."""

    highest = "max_pixel_repetition"
    of = staticmethod(pixel_repetition)


def sharpness(gray: np.ndarray) -> float:
    if gray.shape[0] < 8 or gray.shape[1] < 8:
        raise ValueError(f"the face region is too small ({gray.shape[1]}x{gray.shape[0]} px)")
    h = max(8, round(gray.shape[0] * SHARPNESS_WIDTH / gray.shape[1]))
    interp = cv2.INTER_AREA if gray.shape[1] > SHARPNESS_WIDTH else cv2.INTER_LINEAR
    small = cv2.resize(gray, (SHARPNESS_WIDTH, h), interpolation=interp)
    return float(cv2.Laplacian(small, cv2.CV_64F).var())


class Sharpness(_OfFace, name="sharpness", unit="Laplacian variance", low="hold_still"):
    """Variance of the Laplacian of the inner face resized to a fixed width (focus and motion blur)."""

    lowest = "min_sharpness"
    of = staticmethod(sharpness)
