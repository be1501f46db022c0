"""Capture sessions for phones and tablets: the browser sends camera frames, the server runs the
same guidance loop as the kiosk on them (one loop per session, the engine shared)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ..engine import KioskEngine
from ..guidance import GuidanceConfig, GuidanceLoop
from .errors import ApiError


@dataclass
class Session:
    id: str
    loop: GuidanceLoop
    operator_id: str | None
    last_seen: float
    client: str = ""  # who created it: only that client may use it
    lock: threading.Lock = field(default_factory=threading.Lock)


class SessionManager:
    def __init__(
        self,
        engine: KioskEngine,
        config: GuidanceConfig,
        max_sessions: int = 8,
        idle_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        per_client: int = 2,
    ) -> None:
        self.engine, self.config = engine, config
        self.max_sessions, self.idle_s, self.clock, self.per_client = max_sessions, idle_s, clock, per_client
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def _evict_idle(self, now: float) -> None:
        for sid in [s.id for s in self._sessions.values() if now - s.last_seen > self.idle_s]:
            del self._sessions[sid]  # its frames and any unconsented capture go with it

    def create(self, operator_id: str | None = None, language: str | None = None, client: str = "") -> Session:
        now = self.clock()
        cfg = self.config if language is None else self.config.model_copy(update={"language": language})
        cfg = GuidanceConfig.model_validate(cfg.model_dump())  # validates the language
        with self._lock:
            self._evict_idle(now)
            retry = {"Retry-After": str(max(1, round(self.idle_s)))}
            if sum(s.client == client for s in self._sessions.values()) >= self.per_client:
                raise ApiError(
                    429,
                    "too_many_sessions",
                    f"this device already has {self.per_client} capture sessions open; close one "
                    f"(DELETE /v1/sessions/ID) or wait {self.idle_s:.0f} s",
                    headers=retry,
                )
            if len(self._sessions) >= self.max_sessions:
                raise ApiError(
                    429,
                    "too_many_sessions",
                    f"{self.max_sessions} capture sessions are open; close one or wait {self.idle_s:.0f} s",
                    headers=retry,
                )
            s = Session(uuid.uuid4().hex, GuidanceLoop(self.engine, cfg, self.clock), operator_id, now, client=client)
            self._sessions[s.id] = s
            return s

    def _owned(self, sid: str, client: str) -> Session:
        s = self._sessions.get(sid)
        if s is None or s.client != client:  # another device's session looks like no session at all
            raise ApiError(404, "no_session", f"no capture session {sid!r} (it may have timed out); start a new one")
        return s

    def get(self, sid: str, client: str = "", touch: bool = True) -> Session:
        """The client's session; ``touch``: this use keeps it alive (a frame does, a retake does not:
        a session without photos ends after ``idle_s`` whatever else is sent to it)."""
        now = self.clock()
        with self._lock:
            self._evict_idle(now)
            s = self._owned(sid, client)
            if touch:
                s.last_seen = now
            return s

    def close(self, sid: str, client: str = "") -> None:
        with self._lock:
            self._owned(sid, client)
            del self._sessions[sid]

    def __len__(self) -> int:
        return len(self._sessions)
