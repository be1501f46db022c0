"""The kiosk program's loop, in jetson-inference's shape:
``capture -> skip if None -> infer (guidance step) -> overlay -> render``, until the source ends
or the operator quits; the camera is released whatever happens."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from .display import Output, Renderer
from .guidance import GuidanceEvent, GuidanceLoop
from .sources import FrameSource
from .store import ResultsStore, StoreError

log = logging.getLogger(__name__)

NO_CAMERA_FRAME = np.zeros((540, 960, 3), np.uint8)  # what the screen shows under "camera not available"


class KioskApp:
    def __init__(
        self,
        source: FrameSource,
        loop: GuidanceLoop,
        outputs: Sequence[Output],
        renderer: Renderer | None = None,
        store: ResultsStore | None = None,
        kiosk_id: str = "kiosk",
        operator_id: str | None = None,
        on_event: Callable[[GuidanceEvent], None] | None = None,
        idle_sleep_s: float = 0.01,
    ) -> None:
        self.source = source
        self.loop = loop
        self.outputs = list(outputs)
        self.renderer = renderer
        self.store = store
        self.kiosk_id = kiosk_id
        self.operator_id = operator_id
        self.on_event = on_event
        self.idle_sleep_s = idle_sleep_s
        self.events: list[GuidanceEvent] = []
        self.frames_shown = 0  # "camera not available" screens included
        self._quit = False

    def run(self, max_frames: int | None = None) -> list[GuidanceEvent]:
        """Until the source ends, the operator quits or ``max_frames`` frames were shown; a failed
        attempt to open the camera counts as a frame (its "camera not available" screen), so a kiosk
        without a camera stops too."""
        failed_opens = self.source.failed_opens
        try:
            while self.source.is_streaming and not self._quit:
                frame = self.source.capture()
                if frame is None:
                    if self.source.failed_opens == failed_opens:
                        time.sleep(self.idle_sleep_s)  # a camera between retries, or a skipped file
                        continue
                    failed_opens = self.source.failed_opens
                    frame, event = NO_CAMERA_FRAME, self.loop.no_camera()
                else:
                    event = self.loop.step(frame)
                self._show(frame, event)
                self.frames_shown += 1
                if max_frames is not None and self.frames_shown >= max_frames:
                    break
            if self.source.gave_up:
                self._show(NO_CAMERA_FRAME, self.loop.no_camera(gave_up=True))
        finally:
            self.source.close()
            for out in self.outputs:
                try:
                    out.close()
                except Exception:  # closing a window must not hide the loop's own error
                    log.exception("closing an output failed")
        return self.events

    def _show(self, frame: np.ndarray, event: GuidanceEvent) -> None:
        self._handle(event)
        # drawn once, at the size of the first output that has one (a window's), so its text fits it
        size = next((out.canvas_size for out in self.outputs if out.canvas_size is not None), None)
        overlay = self.renderer.render(frame, event, size) if self.renderer else frame
        for out in self.outputs:
            action = out.render(overlay, event)
            if action:
                self.operator(action)

    def _handle(self, event: GuidanceEvent) -> None:
        if event.kind == "result" and self.store is not None:
            event.keep(self.store, kiosk_id=self.kiosk_id, operator_id=self.operator_id, source="kiosk")
        self.events.append(event)
        if self.on_event:
            self.on_event(event)

    def operator(self, action: str) -> GuidanceEvent | None:
        """Operator keys: retake, consent (keep this screening's photo), cancel, quit."""
        last = self.loop.last_result
        rec_id = last.record.get("id") if last else None
        if action == "quit":
            self._quit = True
            return None
        if action == "consent":
            if last is None or last.capture is None or self.store is None or rec_id is None:
                return None
            try:
                self.store.record_consent(rec_id, last.capture)
            except StoreError as exc:  # as for the result itself: said on the card, logged, the kiosk goes on
                log.error("this photo was not kept: %s", exc)
                last.record["photo_not_kept"] = str(exc)
                return None
            last.record["consent"] = True
            return None
        if action in ("retake", "cancel"):
            if rec_id and self.store is not None:
                status = "retaken" if action == "retake" else "cancelled"
                try:
                    self.store.set_status(rec_id, status)
                except StoreError as exc:  # the screen still moves on; the row keeps "completed", logged
                    log.error("screening %s could not be marked %s: %s", rec_id, status, exc)
            event = self.loop.retake() if action == "retake" else self.loop.cancel()
            self._handle(event)
            return event
        raise ValueError(f"unknown operator action {action!r}")
