"""Measures of the face's presence, size and place in the frame (from the detector's box and five points)."""

from __future__ import annotations

from .base import Bound, ConfigBound, FrameContext, MeasureBase


class SingleFace(MeasureBase, name="single_face", unit="faces", needs="frame", low="no_face", high="one_face_only"):
    """Exactly one face: the subject. Faces much smaller than the largest (posters, people far
    behind) are not counted, so a busy clinic background does not block capture."""

    def raw(self, ctx: FrameContext) -> float:
        if not ctx.faces:
            return 0.0
        height = lambda f: f.box[3] - f.box[1]  # noqa: E731
        ref = height(ctx.faces[0])
        return float(sum(1 for f in ctx.faces if height(f) >= ctx.config.other_face_min_ratio * ref))

    def bound(self, ctx: FrameContext) -> Bound:
        return Bound(1.0, 1.0)


class InterEyeDistance(
    MeasureBase, name="inter_eye_distance", unit="px", needs="face", low="move_closer", high="move_back"
):
    """Eye-centre distance in pixels (ISO/IEC 29794-5 inter-eye distance): enough pixels on the
    face that the model's aligned crop is never an upsampled one."""

    def raw(self, ctx: FrameContext) -> float:
        return ctx.inter_eye

    def bound(self, ctx: FrameContext) -> Bound:
        return Bound(min=ctx.config.min_inter_eye_px or ctx.model_iod_px)


class HeadSize(
    ConfigBound, name="head_size", unit="fraction of frame height", needs="face", low="move_closer", high="move_back"
):
    """Face-box height as a fraction of the frame height: too small -> closer, too big -> back."""

    lowest, highest = "min_head_size", "max_head_size"

    def raw(self, ctx: FrameContext) -> float:
        x1, y1, x2, y2 = ctx.face.box
        return (y2 - y1) / ctx.shape[0]


class Centred(ConfigBound, name="centred", unit="fraction of frame", needs="face", high="move_to_centre"):
    """Offset of the face-box centre from the frame centre, the larger of the horizontal and
    vertical offsets, each as a fraction of the frame's width or height."""

    highest = "max_centre_offset"

    def raw(self, ctx: FrameContext) -> float:
        x1, y1, x2, y2 = ctx.face.box
        h, w = ctx.shape
        return max(abs((x1 + x2) / 2 - w / 2) / w, abs((y1 + y2) / 2 - h / 2) / h)
