"""OpenCV is an extra (a Jetson uses JetPack's own build): without any cv2, importing facescreen.edge
says what to install instead of a bare ModuleNotFoundError deep inside a module."""

from __future__ import annotations

import subprocess
import sys

BLOCK_CV2 = "import sys; sys.modules['cv2'] = None; import facescreen.edge"


def test_missing_cv2_is_one_clear_import_error():
    r = subprocess.run([sys.executable, "-c", BLOCK_CV2], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: facescreen needs OpenCV (cv2)")
    assert "facescreen[edge]" in last and "--system-site-packages" in last
