"""Test doubles shared by more than one test folder (importable as ``spies``: tests/ is on sys.path,
as for ``tf_free``)."""

from __future__ import annotations


class CountingDetector:
    """Wraps a detector and counts its calls (how many detections a frame or a capture cost)."""

    def __init__(self, inner):
        self.inner, self.name, self.calls = inner, inner.name, 0

    def detect(self, rgb, min_face_size=None):
        self.calls += 1
        return self.inner.detect(rgb, min_face_size)


class counted:  # lower case: it stands in for a function, counted(align_face)
    """Wraps a function and counts its calls (monkeypatched in place of the real one)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.inner(*args, **kwargs)


class ThreadsAsked:
    """Stands in for a LiteRT runtime (what ``edge.tflite.tflite_runtime()`` returns) and records the
    ``num_threads`` each interpreter is made with, then makes it with the real runtime."""

    def __init__(self, real):
        self.name, self._real, self.asked = real.name, real, []

    def Interpreter(self, **kw):
        self.asked.append(kw.get("num_threads"))
        return self._real.Interpreter(**kw)
