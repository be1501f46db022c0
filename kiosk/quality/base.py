"""The pieces every quality measure shares: the per-frame context, bounds, scores and results.

Modelled on ISO/IEC 29794-5 / BSI OFIQ: each measure is one small unit that yields a raw value
(in its own unit), a score in [0, 100], the threshold it was judged against and, when it fails,
the instruction that would fix it. A measure that cannot be assessed on a frame (no face, no
dense landmarks, an error inside it) says so and why, while the other measures still run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Literal, Protocol

import cv2
import numpy as np

from facescreen.edge.detect import FaceDetection

from ..landmarks import FaceMesh
from .config import QualityConfig

Needs = Literal["frame", "face", "mesh"]
Side = Literal["low", "high"]


@dataclass(frozen=True)
class Bound:
    """Where a raw value passes: ``min <= raw <= max`` (either end may be open)."""

    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if self.min is None and self.max is None:
            raise ValueError("a bound needs a min, a max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"bound min {self.min} is above max {self.max}")

    def side(self, raw: float) -> Side | None:
        """None when ``raw`` passes, else which side of the bound it fell on."""
        if self.min is not None and raw < self.min:
            return "low"
        if self.max is not None and raw > self.max:
            return "high"
        return None

    def score(self, raw: float) -> int:
        """0..100, 50 exactly at a threshold, higher is better: ``100 / (1 + r^2)`` with ``r`` the
        distance from the ideal measured in units of the allowed distance."""
        lo, hi = self.min, self.max
        if lo is not None and hi is not None:
            if hi == lo:
                return 100 if raw == lo else 0
            r = abs(raw - (lo + hi) / 2.0) / ((hi - lo) / 2.0)
        elif lo is not None:  # higher is better
            r = (lo / raw) if raw > 0 else math.inf
        else:  # lower is better
            r = raw / hi if hi > 0 else (0.0 if raw <= 0 else math.inf)
        return int(round(100.0 / (1.0 + r * r))) if math.isfinite(r) else 0

    def to_dict(self) -> dict[str, float | None]:
        return {"min": self.min, "max": self.max}


@dataclass(frozen=True)
class MeasureResult:
    """One measure on one frame. ``passed`` is None when it could not be assessed."""

    name: str
    assessed: bool
    passed: bool | None
    raw: float | None
    unit: str
    score: int | None
    threshold: dict[str, float | None]
    instruction: str | None = None  # a message key (kiosk.messages) when failing or not assessed
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "assessed": self.assessed,
            "passed": self.passed,
            "raw": None if self.raw is None else round(float(self.raw), 4),
            "unit": self.unit,
            "score": self.score,
            "threshold": self.threshold,
            "instruction": self.instruction,
            "detail": self.detail,
        }


@dataclass(eq=False)
class FrameContext:
    """Everything measures read, computed once per frame and shared by all of them."""

    rgb: np.ndarray
    faces: tuple[FaceDetection, ...]  # confident faces, largest first
    config: QualityConfig
    mesh: FaceMesh | None = None
    mesh_note: str = ""  # why there is no mesh, when there is a face but none
    model_iod_px: float = 48.0  # inter-eye distance the model's aligned crop holds
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A value derived once per frame and shared by several measures (e.g. the head pose)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def face(self) -> FaceDetection | None:
        return self.faces[0] if self.faces else None

    @property
    def shape(self) -> tuple[int, int]:
        return self.rgb.shape[0], self.rgb.shape[1]

    @cached_property
    def gray(self) -> np.ndarray:
        return cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)

    @cached_property
    def inter_eye(self) -> float:
        lm = self.face.landmarks
        return float(np.linalg.norm(lm[1] - lm[0]))

    @cached_property
    def inner_face(self) -> tuple[int, int, int, int]:
        """The inner face (brows to below the mouth, outer eye corners plus half an eye's width),
        from the five detector landmarks, clipped to the frame: ``(x1, y1, x2, y2)``."""
        lm = self.face.landmarks
        d = self.inter_eye
        eyes_y = float(lm[:2, 1].mean())
        mouth_y = float(lm[3:, 1].mean())
        x1, x2 = float(lm[:, 0].min()) - 0.45 * d, float(lm[:, 0].max()) + 0.45 * d
        y1, y2 = eyes_y - 0.45 * d, mouth_y + 0.30 * d
        h, w = self.shape
        return (max(0, int(x1)), max(0, int(y1)), min(w, int(math.ceil(x2))), min(h, int(math.ceil(y2))))

    @cached_property
    def face_gray(self) -> np.ndarray:
        x1, y1, x2, y2 = self.inner_face
        return self.gray[y1:y2, x1:x2]


class Measure(Protocol):
    """One quality measure. ``raw`` may raise: the runner records the measure as not assessed."""

    name: ClassVar[str]
    unit: ClassVar[str]
    needs: ClassVar[Needs]
    instructions: ClassVar[dict[str, str]]  # side ("low"/"high") -> message key

    def raw(self, ctx: FrameContext) -> float: ...

    def bound(self, ctx: FrameContext) -> Bound: ...


class MeasureBase:
    """What a measure states about itself, given as class keywords where the class is made: ``name``,
    ``unit``, ``needs``, and the message key said when the raw value is too ``low`` or too ``high``
    (its ``instructions``). A keyword left out is inherited, so a family of measures states what its
    members share (a unit, what they need) once, on its base."""

    name: ClassVar[str]
    unit: ClassVar[str]
    needs: ClassVar[Needs]
    instructions: ClassVar[dict[str, str]]  # side ("low"/"high") -> message key

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        unit: str | None = None,
        needs: Needs | None = None,
        low: str | None = None,
        high: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        for attr, value in (("name", name), ("unit", unit), ("needs", needs)):
            if value is not None:
                setattr(cls, attr, value)
        sides = {side: key for side, key in (("low", low), ("high", high)) if key is not None}
        if sides:
            cls.instructions = sides


class ConfigBound(MeasureBase):
    """The bound most measures have: QualityConfig's fields, named. ``lowest`` and ``highest`` name the
    fields holding the least and the most a raw value may be (``None``: that end is open); ``within``,
    the field holding how far it may be either side of zero. A misspelt name fails when the measure's
    class is made, not on the first frame."""

    lowest: ClassVar[str | None] = None
    highest: ClassVar[str | None] = None
    within: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for f in (cls.lowest, cls.highest, cls.within):
            if f is not None and f not in QualityConfig.model_fields:
                raise TypeError(f"{cls.__name__} names {f!r} as a threshold; QualityConfig has no such field")

    def bound(self, ctx: FrameContext) -> Bound:
        def read(f: str | None) -> float | None:
            return None if f is None else getattr(ctx.config, f)

        if self.within is not None:
            most = getattr(ctx.config, self.within)
            return Bound(-most, most)
        return Bound(read(self.lowest), read(self.highest))


NOT_ASSESSED_INSTRUCTION = {"face": "no_face", "mesh": "show_whole_face"}
# What a measure may legitimately fail with on a frame it cannot judge (too few pixels, a degenerate
# geometry, OpenCV refusing an empty crop). Anything else (TypeError, AttributeError, ...) is a bug in
# the measure and is raised, not turned into an instruction to the child.
MEASURE_FAILURES: tuple[type[BaseException], ...] = (ValueError, ArithmeticError, cv2.error)


def run_measure(measure: Measure, ctx: FrameContext) -> MeasureResult:
    """Assess one measure; a frame it cannot judge (:data:`MEASURE_FAILURES`) gives a result that
    names the measure as not assessed, and never stops the others."""

    def not_assessed(detail: str, instruction: str | None) -> MeasureResult:
        return MeasureResult(measure.name, False, None, None, measure.unit, None, {}, instruction, detail)

    if measure.needs in ("face", "mesh") and ctx.face is None:
        return not_assessed("no face in the frame", NOT_ASSESSED_INSTRUCTION["face"])
    if measure.needs == "mesh" and ctx.mesh is None:
        return not_assessed(ctx.mesh_note or "no dense landmarks for this face", NOT_ASSESSED_INSTRUCTION["mesh"])
    try:
        raw = float(measure.raw(ctx))
        bound = measure.bound(ctx)
    except MEASURE_FAILURES as exc:  # this frame defeats this measure: the others still run
        return not_assessed(
            f"{measure.name} could not be assessed: {type(exc).__name__}: {exc}", NOT_ASSESSED_INSTRUCTION["mesh"]
        )
    if not math.isfinite(raw):
        return not_assessed(f"{measure.name} is undefined on this frame", NOT_ASSESSED_INSTRUCTION["mesh"])
    side = bound.side(raw)
    return MeasureResult(
        measure.name,
        True,
        side is None,
        raw,
        measure.unit,
        bound.score(raw),
        bound.to_dict(),
        None if side is None else measure.instructions[side],
    )


@dataclass(frozen=True)
class QualityReport:
    """All measures on one frame, in priority order, and the one instruction to give."""

    results: tuple[MeasureResult, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def first_failure(self) -> MeasureResult | None:
        return next((r for r in self.results if not r.passed), None)

    @property
    def instruction(self) -> str | None:
        """Exactly one message key: the highest-priority failing (or unassessable) measure's."""
        f = self.first_failure
        return None if f is None else f.instruction

    def __getitem__(self, name: str) -> MeasureResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no measure {name!r}; measures: {[r.name for r in self.results]}")

    def summary(self) -> dict[str, Any]:
        """Compact per-measure record (what the results store keeps)."""
        return {
            r.name: {"raw": None if r.raw is None else round(float(r.raw), 4), "passed": r.passed, "score": r.score}
            for r in self.results
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "instruction": self.instruction,
            "measures": [r.to_dict() for r in self.results],
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }
