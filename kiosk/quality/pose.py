"""Head pose (roll, yaw, pitch in degrees) from the dense landmarks' 3-D coordinates.

The face mesh gives ``(x, y, z)`` per point with ``z`` in the same pixel scale as ``x`` (a weak
perspective reconstruction). The face's own axes are read off it: the left-right axis from four
symmetric point pairs (outer and inner eye corners, mouth corners, cheek contour), the up axis from
chin to forehead made orthogonal to it. In MediaPipe's canonical face model the forehead-chin line
lies within a degree of the image plane for a frontal face, so no 3-D face model is needed.

Sign conventions (image coordinates, x right, y down, z away from the camera):
roll  > 0: the eye line falls towards the image's right (head tilted clockwise on screen);
yaw   > 0: the face turned towards the image's right (the subject's left);
pitch > 0: chin up; < 0: chin down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..landmarks import FaceMesh
from .base import ConfigBound, FrameContext

# (subject's left, subject's right) point pairs: image-right minus image-left for a frontal face
_SYMMETRIC_PAIRS = ((263, 33), (362, 133), (291, 61), (454, 234))
_FOREHEAD, _CHIN = 10, 152


@dataclass(frozen=True)
class HeadPose:
    roll: float
    yaw: float
    pitch: float


def head_pose(mesh: FaceMesh) -> HeadPose:
    p = mesh.points
    x = sum(p[a] - p[b] for a, b in _SYMMETRIC_PAIRS)
    x = x / np.linalg.norm(x)
    up = p[_FOREHEAD] - p[_CHIN]
    up = up - (up @ x) * x
    up = up / np.linalg.norm(up)
    roll = np.degrees(np.arctan2(x[1], x[0]))
    yaw = np.degrees(np.arcsin(np.clip(x[2], -1.0, 1.0)))
    pitch = np.degrees(np.arcsin(np.clip(up[2], -1.0, 1.0))) + mesh.pitch_bias_deg
    return HeadPose(float(roll), float(yaw), float(pitch))


def _pose(ctx: FrameContext) -> HeadPose:
    return ctx.memo("head_pose", lambda: head_pose(ctx.mesh))


class _Angle(ConfigBound, unit="deg", needs="mesh"):
    """One angle of the head pose (computed once per frame, shared by the three)."""

    angle: ClassVar[str]  # the HeadPose field

    def raw(self, ctx: FrameContext) -> float:
        return getattr(_pose(ctx), self.angle)


class Roll(_Angle, name="head_roll", low="head_level", high="head_level"):
    """In-plane tilt of the eye line (ICAO: at most 8 degrees)."""

    angle, within = "roll", "max_roll_deg"


class Yaw(_Angle, name="head_yaw", low="look_straight", high="look_straight"):
    """Turn of the head to either side."""

    angle, within = "yaw", "max_yaw_deg"


class Pitch(_Angle, name="head_pitch", low="raise_chin", high="lower_chin"):
    """Chin up or down, plus the per-camera ``pitch_offset_deg`` (a camera mounted above or below
    eye level adds a constant)."""

    angle, within = "pitch", "max_pitch_deg"

    def raw(self, ctx: FrameContext) -> float:
        return super().raw(ctx) + ctx.config.pitch_offset_deg
