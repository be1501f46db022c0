"""Eyes open and mouth closed, from the dense landmarks (MediaPipe face-mesh indices).

What is known (README.md (the kiosk section) has the figures): the mouth measure separates the two
sample photos whose state is known (astronaut: lips apart, teeth showing; Grace Hopper: closed)
and a synthetically closed astronaut mouth. The eye measure, on the attention mesh's refined eye
contours (the default model), passes both known-open photos and fails both with the eyelids
painted shut; the plain 468-point mesh keeps a strong open-eye prior and does not (so it is not the
default). Real closed-eye photos have not been available to check it.
"""

from __future__ import annotations

from typing import ClassVar

from .base import Bound, FrameContext

_EYES = (
    ("right_eye_upper", "right_eye_lower", "right_eye_outer", "right_eye_inner"),
    ("left_eye_upper", "left_eye_lower", "left_eye_outer", "left_eye_inner"),
)


class EyesOpen:
    """Eyelid gap over eye width (mesh 159/145 over 33/133 and 386/374 over 263/362), the
    smaller of the two eyes, as in OFIQ's EyesOpen (which also takes the smaller eye)."""

    name: ClassVar[str] = "eyes_open"
    unit: ClassVar[str] = "lid gap / eye width"
    needs: ClassVar[str] = "mesh"
    instructions: ClassVar[dict[str, str]] = {"low": "open_eyes"}

    def raw(self, ctx: FrameContext) -> float:
        m = ctx.mesh
        return min(m.dist(up, low) / m.dist(outer, inner) for up, low, outer, inner in _EYES)

    def bound(self, ctx: FrameContext) -> Bound:
        return Bound(min=ctx.config.min_eye_openness)


class MouthClosed:
    """Inner-lip gap (mesh 13/14) over face height (forehead 10 to chin 152). The source papers
    left open-mouth photos out: an open mouth changes the facial gestalt the model reads."""

    name: ClassVar[str] = "mouth_closed"
    unit: ClassVar[str] = "lip gap / face height"
    needs: ClassVar[str] = "mesh"
    instructions: ClassVar[dict[str, str]] = {"high": "close_mouth"}

    def raw(self, ctx: FrameContext) -> float:
        m = ctx.mesh
        return m.dist("lip_upper_inner", "lip_lower_inner") / m.dist("forehead", "chin")

    def bound(self, ctx: FrameContext) -> Bound:
        return Bound(max=ctx.config.max_mouth_gap)
