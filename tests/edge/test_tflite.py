"""One TFLite interpreter finder (edge.tflite): its order, its error, and that every .tflite user
(the screener's LiteRT backend, the converted MTCNN networks, both face-mesh landmarkers) takes the
interpreter it finds rather than importing one of its own."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from facescreen.edge.errors import BackendUnavailableError
from facescreen.edge.tflite import TFLITE_MODULES, tflite_installed, tflite_runtime

ASSETS = Path(__file__).resolve().parents[2] / ".cache" / "assets"


@pytest.fixture
def only_tflite_runtime(monkeypatch):
    """A machine where ai-edge-litert's interpreter is missing and tflite_runtime is installed (here
    a stand-in that records each interpreter made, running ai-edge-litert's underneath)."""
    from ai_edge_litert.interpreter import Interpreter as Real

    made: list[str] = []

    class Recording(Real):
        def __init__(self, *args, **kwargs):
            made.append("file" if kwargs.get("model_path") else "bytes")
            super().__init__(*args, **kwargs)

    package = types.ModuleType("tflite_runtime")
    package.interpreter = types.ModuleType("tflite_runtime.interpreter")
    package.interpreter.Interpreter = Recording
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import fails
    monkeypatch.setitem(sys.modules, "tflite_runtime", package)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", package.interpreter)
    return made


def test_ai_edge_litert_comes_first():
    rt = tflite_runtime()
    assert rt.name.startswith("ai_edge_litert ") and tflite_installed()
    assert TFLITE_MODULES == ("ai_edge_litert", "tflite_runtime", "tensorflow")


def test_then_tflite_runtime_for_every_tflite_user(only_tflite_runtime, tmp_path):
    from facescreen.edge.backends.litert import LiteRTBackend
    from facescreen.edge.detectors.mtcnn_nets import LiteRTNet
    from facescreen.edge.errors import BundleError
    from facescreen.kiosk.landmarks import DenseLandmarker

    made = only_tflite_runtime
    assert tflite_runtime().name == "tflite_runtime"
    plain, attention = ASSETS / "face_landmark.tflite", ASSETS / "face_landmark_with_attention.tflite"
    backend = LiteRTBackend(plain, "mesh-as-artifact", 192)
    assert backend.runtime == "tflite_runtime" and made == ["file"]
    DenseLandmarker(plain)
    assert made == ["file", "bytes"]
    DenseLandmarker(attention)  # the attention mesh is cut into two interpreters
    assert made == ["file", "bytes", "bytes", "bytes"]
    net = LiteRTNet(plain, "onet")
    with pytest.raises(BundleError, match="unexpected outputs"):  # a face mesh is no O-Net, but it ran
        net.run(np.zeros((1, 192, 192, 3), np.float32))
    assert net.runtime == "tflite_runtime" and made[-1] == "bytes" and len(made) == 5


def test_no_runtime_at_all_says_what_to_install(monkeypatch):
    for name in ("ai_edge_litert.interpreter", "tflite_runtime", "tflite_runtime.interpreter", "tensorflow"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(BackendUnavailableError, match=r"pip install 'facescreen\[edge\]'"):
        tflite_runtime()
