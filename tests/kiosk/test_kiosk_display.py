"""The kiosk's window and what is drawn in it (kiosk/display.py). Issue 25: under a bare X server the
window was Qt's 400x300 default with its toolbar, also with --fullscreen, and the text, drawn for the
camera's resolution and then shrunk, was unreadable. The window now takes the display's size and the
picture is drawn at the window's size, its text a multiple of text_unit (one rule, tested here without
any X); the real window is opened under Xvfb where it is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from facescreen.kiosk.display import Renderer, display_size, fit_frame, text_unit
from facescreen.kiosk.guidance import GuidanceEvent

REPO = Path(__file__).resolve().parents[2]

# (width, height, unit): the floor on a small window, 16:9 displays from 720p to 4K, 4:3, a portrait
# tablet-like screen, and a wide short window whose lines must stay on it
UNITS = [
    (400, 300, 12),
    (1280, 720, 32),
    (1920, 1080, 48),
    (3840, 2160, 96),
    (1024, 768, 25),
    (1080, 1920, 27),
    (2560, 720, 32),
]


@pytest.mark.parametrize("w,h,unit", UNITS)
def test_text_unit_follows_the_window(w, h, unit):
    assert text_unit(w, h) == unit
    assert text_unit(w * 2, h * 2) >= unit  # a larger window never gets smaller text


def _event(**over) -> GuidanceEvent:
    fields = dict(
        kind="guiding",
        frame_index=0,
        time=0.0,
        message_key="move_closer",
        text="Move closer",
        face_boxes=((100, 50, 300, 250),),
    )
    fields.update(over)
    return GuidanceEvent(**fields)


@pytest.mark.parametrize("size", [(1920, 1080), (800, 600), (1080, 1920)])
def test_the_picture_is_drawn_at_the_windows_size(size):
    """A 640x480 camera frame shown on a display: the picture is the window's size (the frame
    fitted, centred on black), the instruction's band is text_unit of the WINDOW high, and the face's
    box lands where the face is in the fitted frame."""
    frame = np.full((480, 640, 3), 200, np.uint8)
    out = Renderer("en").render(frame, _event(), size)
    w, h = size
    assert out.shape == (h, w, 3)
    _, k, (x0, y0) = fit_frame(frame, size)
    unit = text_unit(w, h)
    # the instruction's dark band: unit * 3 high at the bottom of the picture
    band = out[h - unit * 3 + 2 : h - 2, w // 2]
    assert band.mean() < 120
    # the face box's top-left corner, scaled and offset as the frame was
    bx, by = round(100 * k + x0), round(50 * k + y0)
    assert out[by, bx + 5].tolist() != out[by + 20, bx + 20].tolist()


def test_without_a_window_size_the_frame_keeps_its_own():
    frame = np.full((720, 1280, 3), 90, np.uint8)
    assert Renderer("en").render(frame, _event()).shape == frame.shape


def test_fit_frame_letterboxes():
    frame = np.full((480, 640, 3), 255, np.uint8)
    out, k, (x0, y0) = fit_frame(frame, (1920, 1080))
    assert k == pytest.approx(1080 / 480) and y0 == 0 and x0 == (1920 - 1440) // 2
    assert out[:, : x0 - 1].max() == 0 and out[:, x0 + 1 : x0 + 1439].min() == 255


def test_no_display_is_none(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    assert display_size() is None


def _xvfb_skip_reason() -> str | None:
    if shutil.which("Xvfb") is None:
        return "Xvfb is not installed (Debian: apt-get install xvfb; make browser installs it)"
    return None


@pytest.fixture
def xvfb(tmp_path):
    """An X server with no window manager, 1920x1080, as a kiosk's bare `X :0` is."""
    if _xvfb_skip_reason():
        pytest.skip(_xvfb_skip_reason())
    for n in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    proc = subprocess.Popen(
        ["Xvfb", f":{n}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{n}").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Xvfb :{n} did not start")
            time.sleep(0.1)
        yield f":{n}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_display_size_under_xvfb(xvfb, monkeypatch):
    monkeypatch.setenv("DISPLAY", xvfb)
    assert display_size() == (1920, 1080)


# what a kiosk does: the real window (run in a child, as the GUI build of OpenCV may be another
# environment's), its picture area read back from OpenCV, then one rendered picture shown in it
WINDOW = """
import json, sys
import cv2, numpy as np
from facescreen.kiosk.display import WindowOutput
out = WindowOutput(fullscreen=sys.argv[1] == "1")
for _ in range(20):
    cv2.waitKey(20)
size = out.canvas_size
out.render(np.zeros((size[1], size[0], 3), np.uint8), None)
print(json.dumps({"size": size, "rect": cv2.getWindowImageRect(out.title)}))
out.close()
"""


def _gui_python() -> str | None:
    """A Python whose OpenCV can open a window: FACESCREEN_GUI_PYTHON, or this one when it can."""
    explicit = os.environ.get("FACESCREEN_GUI_PYTHON")
    if explicit:
        return explicit
    from facescreen.kiosk.display import gui_support

    ok, why = gui_support()  # without a display here a GUI build says "cannot open a window": still one
    return sys.executable if ok or "GUI: NONE" not in why else None


@pytest.mark.parametrize("fullscreen", [False, True], ids=["window", "fullscreen"])
def test_the_real_window_fills_a_bare_x_server(xvfb, fullscreen):
    python = _gui_python()
    if python is None:
        pytest.skip(
            "this environment's OpenCV is the headless build (GUI: NONE); set FACESCREEN_GUI_PYTHON to a "
            "Python with facescreen[kiosk,kiosk-gui] installed to open the real window"
        )
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    r = subprocess.run(
        [python, "-c", WINDOW, "1" if fullscreen else "0"], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    import json

    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert tuple(got["size"]) == (1920, 1080), got  # not Qt's 400x300, and no toolbar taking rows
    assert got["rect"][2:] == [1920, 1080], got
