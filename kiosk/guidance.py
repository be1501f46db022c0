"""The guidance loop: per frame, measure quality and give ONE instruction; after N consecutive
passing frames capture the sharpest of them, screen it, show the result, reset after a timeout.

It is driven by frames, whatever their source (camera, video, image folder, a phone's browser),
and by an injectable clock, so replays and tests run it exactly as a kiosk does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from facescreen.edge.errors import FaceScreenError
from facescreen.edge.result import ScreeningResult

from .engine import KioskEngine
from .messages import language, message
from .quality import FrameAnalysis, QualityReport
from .store import ResultsStore, StoreError
from .tracking import FaceTrack

log = logging.getLogger(__name__)

EventKind = Literal[
    "guidance", "hold", "result", "showing_result", "reset", "retake", "cancelled", "error", "no_camera"
]


class GuidanceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    consecutive_frames: int = Field(3, ge=1, le=100)  # passing frames in a row before capture
    result_timeout_s: float = Field(30.0, gt=0)  # the result stays up this long, then reset
    max_frame_gap_s: float = Field(3.0, gt=0)  # a longer gap between frames breaks the streak
    language: str = "en"

    def model_post_init(self, __context: Any) -> None:
        language(self.language)  # raises for a language without a message table


@dataclass
class GuidanceEvent:
    """What the display shows and the headless log records for one frame or operator action."""

    kind: EventKind
    frame_index: int
    time: float
    message_key: str | None = None
    text: str = ""
    streak: int = 0
    needed: int = 0
    report: QualityReport | None = None
    result: ScreeningResult | None = None
    capture: np.ndarray | None = field(default=None, repr=False)  # the screened frame (RAM only)
    cam_image: np.ndarray | None = field(default=None, repr=False)  # CAM over the model's aligned crop
    face_boxes: tuple[tuple[float, float, float, float], ...] = ()  # subject first
    captured_frame: int | None = None  # on a result: which frame of the streak was screened
    error_code: str | None = None
    error: str = ""
    result_left_s: float | None = None  # on a result shown: seconds until the screen returns to guidance
    record: dict[str, Any] = field(default_factory=dict)  # set by whoever stores the result (its id)
    at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="milliseconds"))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "event": self.kind,
            "frame": self.frame_index,
            "at": self.at,
            "message_key": self.message_key,
            "text": self.text,
            "streak": self.streak,
            "needed": self.needed,
        }
        if self.report is not None:
            d["quality"] = self.report.to_dict()
        if self.result is not None:
            d["result"] = self.result.to_dict()
        if self.error_code:
            d["error"] = {"code": self.error_code, "message": self.error}
        if self.record:
            d["record"] = self.record
        if self.captured_frame is not None:
            d["captured_frame"] = self.captured_frame
        return d

    def keep(self, store: ResultsStore, **row: Any) -> None:
        """Store this result (``row``: kiosk_id, source, operator_id, child_ref) and note its id and
        time on the record. Where the store cannot keep it (a full disk), the record says so
        (``not_saved``) and it is logged: the child's result is shown all the same, saying it was not
        kept (the kiosk window's card, the phone page), and the kiosk goes on with the next child.
        The kiosk window and the phone's guided capture store their results here alike: a full disk
        ended the kiosk with the result never shown, and gave the phone a 507 instead of its result."""
        assert self.result is not None and self.report is not None, "only a result event is kept"
        try:
            rec = store.add(self.result, self.report.summary(), **row)
        except StoreError as exc:
            log.error("this result was not stored: %s", exc)
            self.record["not_saved"] = str(exc)
        else:
            self.record.update({"id": rec.id, "created_at": rec.created_at})


class GuidanceLoop:
    """State machine: GUIDING -> (N passing frames) -> RESULT -> (timeout, retake, cancel) -> GUIDING."""

    def __init__(
        self,
        engine: KioskEngine,
        config: GuidanceConfig = GuidanceConfig(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.frame_index = -1
        self.phase: Literal["guiding", "result"] = "guiding"
        self._streak: list[tuple[float, int, np.ndarray, FrameAnalysis]] = []  # (sharpness, index, frame, analysis)
        self.track = FaceTrack(engine.find.redetect_every)  # this loop's face between detections
        self._last_frame_t: float | None = None
        self._result_t = 0.0
        self.last_result: GuidanceEvent | None = None

    # --- frames ------------------------------------------------------------------------------
    def step(self, rgb: np.ndarray) -> GuidanceEvent:
        """Feed one RGB frame; returns the one event it produces."""
        self.frame_index += 1
        now = self.clock()
        if self.phase == "result":
            if now - self._result_t >= self.config.result_timeout_s:
                self._reset()
                return self._event("reset", now, None)
            last = self.last_result
            return self._event(
                "showing_result",
                now,
                last.message_key,
                result=last.result,
                cam_image=last.cam_image,
                record=last.record,
                result_left_s=self.config.result_timeout_s - (now - self._result_t),
            )
        if self._last_frame_t is not None and now - self._last_frame_t > self.config.max_frame_gap_s:
            self._streak.clear()
            self.track.lose()  # after a long gap the face may be anywhere
        self._last_frame_t = now
        # while a passing streak builds, every frame may be the one captured: it is detected at
        # full size, so its quality is judged on exactly the face that would be screened
        analysis = self.engine.analyse(rgb, self.track, capture=bool(self._streak))
        if analysis.passed and analysis.tracked:  # the first frame of a streak: judged again on a detection
            analysis = self.engine.analyse(rgb, self.track, capture=True)
        report = analysis.report
        boxes = tuple(f.box for f in analysis.context.faces)
        if not report.passed:
            self._streak.clear()
            return self._event("guidance", now, report.instruction, report=report, face_boxes=boxes)
        sharp = report["sharpness"].raw if report["sharpness"].raw is not None else 0.0
        self._streak.append((float(sharp), self.frame_index, rgb, analysis))
        if len(self._streak) < self.config.consecutive_frames:
            return self._event("hold", now, "hold", report=report, face_boxes=boxes)
        return self._capture(now, boxes)

    def _capture(self, now: float, boxes: tuple = ()) -> GuidanceEvent:
        _, index, frame, analysis = max(self._streak, key=lambda s: s[0])  # the sharpest passing frame
        report = analysis.report
        self._streak.clear()
        try:
            result = self.engine.screen(frame, analysis)
        except FaceScreenError as exc:  # e.g. the face was lost between measuring and screening
            return self._event("error", now, "try_again", report=report, error_code=exc.code, error=str(exc))
        self.phase = "result"
        self._result_t = now
        ev = self._event(
            "result",
            now,
            result.label,
            report=report,
            result=result,
            capture=frame,
            cam_image=self.engine.cam_overlay(frame, result),
            face_boxes=boxes,
            captured_frame=index,
            result_left_s=self.config.result_timeout_s,
        )
        self.last_result = ev
        return ev

    # --- operator ----------------------------------------------------------------------------
    def retake(self) -> GuidanceEvent:
        self._reset()
        return self._event("retake", self.clock(), None)

    def cancel(self) -> GuidanceEvent:
        self._reset()
        return self._event("cancelled", self.clock(), "cancelled")

    # --- the source --------------------------------------------------------------------------
    def no_camera(self, gave_up: bool = False) -> GuidanceEvent:
        """The camera gives no frame (still retrying, or ``gave_up``): said on screen and in the log,
        and any streak is broken (the child may have moved meanwhile)."""
        self._streak.clear()
        if gave_up:
            return self._event(
                "error", self.clock(), "camera_gave_up", error_code="no_camera", error=message("camera_gave_up")
            )
        return self._event("no_camera", self.clock(), "camera_lost")

    def _reset(self) -> None:
        self.phase = "guiding"
        self._streak.clear()
        self._last_frame_t = None
        self.last_result = None

    def _event(self, kind: EventKind, now: float, key: str | None, **kw: Any) -> GuidanceEvent:
        text = message(key, self.config.language) if key else ""
        return GuidanceEvent(
            kind,
            self.frame_index,
            now,
            key,
            text,
            streak=len(self._streak),
            needed=self.config.consecutive_frames,
            **kw,
        )
