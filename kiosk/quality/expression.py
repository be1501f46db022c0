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

from .base import ConfigBound, FrameContext


class _MeshRatio(ConfigBound, needs="mesh"):
    """A gap over a span, each the distance between two named mesh points (kiosk.landmarks), the
    smallest over ``ratios``: a ratio, so it does not change with the face's distance."""

    ratios: ClassVar[tuple[tuple[str, str, str, str], ...]]  # (gap from, gap to, span from, span to)

    def raw(self, ctx: FrameContext) -> float:
        m = ctx.mesh
        return min(m.dist(a, b) / m.dist(c, d) for a, b, c, d in self.ratios)


class EyesOpen(_MeshRatio, name="eyes_open", unit="lid gap / eye width", low="open_eyes"):
    """Eyelid gap over eye width (mesh 159/145 over 33/133 and 386/374 over 263/362), the
    smaller of the two eyes, as in OFIQ's EyesOpen (which also takes the smaller eye)."""

    lowest = "min_eye_openness"
    ratios = (
        ("right_eye_upper", "right_eye_lower", "right_eye_outer", "right_eye_inner"),
        ("left_eye_upper", "left_eye_lower", "left_eye_outer", "left_eye_inner"),
    )


class MouthClosed(_MeshRatio, name="mouth_closed", unit="lip gap / face height", high="close_mouth"):
    """Inner-lip gap (mesh 13/14) over face height (forehead 10 to chin 152). The source papers
    left open-mouth photos out: an open mouth changes the facial gestalt the model reads."""

    highest = "max_mouth_gap"
    ratios = (("lip_upper_inner", "lip_lower_inner", "forehead", "chin"),)
