"""The edge and kiosk path must run where TensorFlow cannot even be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import tf_free

BLOCK_TF = tf_free.blocking_prelude()


def run_blocked(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TF + textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )


def test_blocker_really_blocks():
    proc = run_blocked("import tensorflow")
    assert proc.returncode != 0 and "blocked" in proc.stderr


def test_edge_and_kiosk_import_without_tensorflow():
    proc = run_blocked("""
        import importlib, pkgutil
        import facescreen.edge as edge, facescreen.kiosk as kiosk
        import facescreen.edge.backends.litert, facescreen.edge.backends.onnxruntime, facescreen.edge.pipeline
        for pkg in (edge, kiosk):
            for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
                if m.name.endswith(("backends.keras", "detectors.mtcnn_package", "__main__")):
                    continue  # the reference paths that use TensorFlow on purpose, lazily
                importlib.import_module(m.name)
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")


def test_reference_detector_says_what_it_needs_without_tensorflow():
    proc = run_blocked("""
        from facescreen.edge import create_detector, BackendUnavailableError
        try:
            create_detector("mtcnn")
        except BackendUnavailableError as exc:
            print("clear:", exc)
    """)
    assert "clear:" in proc.stdout and "mtcnn-lite" in proc.stdout, proc.stderr[-2000:]
