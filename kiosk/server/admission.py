"""Backpressure in front of inference: a bounded count of admitted photo requests.

A request that carries a photo is admitted before its body is read, or refused at once with 503 and
``Retry-After`` when ``engines + queue_depth`` requests are already in. So memory in flight is
bounded (each admitted request holds at most one upload and one decode-budget reservation) and a
busy clinic gets a fast "try again in N s" instead of a 14 s wait.
"""

from __future__ import annotations

import math
import threading


class InferenceQueue:
    def __init__(self, engines: int, depth: int) -> None:
        self.engines, self.depth = engines, depth
        self._admitted = 0
        self._lock = threading.Lock()
        self._mean_s = 0.5  # running mean of an admitted request's time, for Retry-After
        self.refused = 0

    @property
    def capacity(self) -> int:
        return self.engines + self.depth

    @property
    def admitted(self) -> int:
        return self._admitted

    @property
    def waiting(self) -> int:
        """Admitted requests beyond those the engines can serve at once: the queue's depth now."""
        return max(0, self._admitted - self.engines)

    def try_enter(self) -> bool:
        with self._lock:
            if self._admitted >= self.capacity:
                self.refused += 1
                return False
            self._admitted += 1
            return True

    def leave(self, seconds: float) -> None:
        with self._lock:
            self._admitted -= 1
            self._mean_s += 0.2 * (seconds - self._mean_s)

    def retry_after_s(self) -> int:
        """Seconds until the queue has likely drained by one engine's worth: at least 1."""
        return max(1, math.ceil(self.capacity * self._mean_s / self.engines))

    def snapshot(self) -> dict[str, int]:
        return {
            "admitted": self._admitted,
            "queue_depth": self.waiting,
            "queue_limit": self.depth,
            "engines": self.engines,
            "refused_total": self.refused,
        }
