"""What the kiosk shows: the live frame with the one instruction, then the result panel; and where
it goes: an OpenCV window, JSON lines (headless), or a folder of overlay frames.

Text is drawn with Pillow (OpenCV's Hershey fonts have no CJK glyphs); a language that needs
glyphs no font on the machine has is an error at start-up, never boxes on the screen.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import math
import re
import sys
from pathlib import Path
from typing import Protocol, TextIO

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from facescreen.edge.result import REFER

from .guidance import GuidanceEvent
from .messages import language, message

LATIN_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
)
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
)
KEYS = {ord("r"): "retake", ord("c"): "consent", ord("x"): "cancel", ord("q"): "quit", 27: "quit"}

OK_RGB, WARN_RGB, OTHER_RGB = (46, 160, 67), (230, 150, 20), (150, 150, 150)
REFER_RGB, NO_FLAG_RGB = (214, 120, 0), (40, 110, 190)  # amber and blue: a flag, not an alarm


class GuiUnavailable(RuntimeError):
    code = "gui_unavailable"


def gui_support() -> tuple[bool, str]:
    """Whether this OpenCV can open a window here, and if not, why (said plainly)."""
    info = cv2.getBuildInformation()
    m = re.search(r"^\s*GUI:\s*(\S+)", info, re.MULTILINE)
    backend = m.group(1) if m else "unknown"
    if backend.upper() == "NONE":
        return False, (
            "this OpenCV is the headless build (cv2.getBuildInformation() says GUI: NONE), which cannot "
            "open a window. Install the GUI build in its own environment (pip install "
            "'facescreen[kiosk,kiosk-gui]' without opencv-python-headless) or run with --headless."
        )
    try:
        cv2.namedWindow("facescreen-probe", cv2.WINDOW_NORMAL)
        cv2.destroyWindow("facescreen-probe")
    except cv2.error as exc:
        return False, f"OpenCV ({backend}) cannot open a window here (no display?): {str(exc).strip()[:200]}"
    return True, backend


def display_size() -> tuple[int, int] | None:
    """The size in pixels of the X screen the kiosk window opens on ($DISPLAY's default screen), or
    None where no X display can be opened.

    Asked of the X server itself through Xlib (``XDisplayWidth``/``XDisplayHeight`` in libX11, loaded
    with ctypes): libX11 is on every machine that can show an OpenCV window (its Qt and GTK builds load
    it), it needs no window manager (a bare ``X :0`` or ``Xvfb``, where Qt's own full screen does not
    happen) and on a Jetson's desktop (GNOME on Xorg) it is the monitor's mode. Not ``xrandr`` or
    ``xdpyinfo`` (x11-xserver-utils is not on a bare image) and not OpenCV, which has no screen query.
    With several monitors side by side it is their joined size: give the kiosk one monitor."""
    lib = ctypes.util.find_library("X11")
    if lib is None:
        return None
    x11 = ctypes.CDLL(lib)
    x11.XOpenDisplay.argtypes, x11.XOpenDisplay.restype = [ctypes.c_char_p], ctypes.c_void_p
    for f in (x11.XDisplayWidth, x11.XDisplayHeight):
        f.argtypes, f.restype = [ctypes.c_void_p, ctypes.c_int], ctypes.c_int
    x11.XDefaultScreen.argtypes, x11.XDefaultScreen.restype = [ctypes.c_void_p], ctypes.c_int
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = x11.XOpenDisplay(None)  # None: $DISPLAY
    if not display:
        return None
    try:
        screen = x11.XDefaultScreen(display)
        return x11.XDisplayWidth(display, screen), x11.XDisplayHeight(display, screen)
    finally:
        x11.XCloseDisplay(display)


def text_unit(width: int, height: int) -> int:
    """The one size every text and mark on the kiosk's screen is a multiple of, in pixels, for a
    picture of ``width`` x ``height``: a 40th of the width, or of the width a 16:9 picture of this
    height would have when this one is wider (a wide, short window keeps its lines on the screen),
    and never under 12 px (read at arm's length). The picture is drawn at the window's size, so text
    follows the window, not the camera's resolution."""
    return max(12, int(min(width, height * 16 / 9)) // 40)


def fit_frame(rgb: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float, tuple[int, int]]:
    """``rgb`` scaled to fit ``size`` (width, height), centred on black: the picture, the scale and
    the (x, y) offset, so that marks in frame coordinates can be placed on it."""
    w, h = size
    fh, fw = rgb.shape[:2]
    k = min(w / fw, h / fh)
    sw, sh = max(1, round(fw * k)), max(1, round(fh * k))
    out = np.zeros((h, w, 3), np.uint8)
    x0, y0 = (w - sw) // 2, (h - sh) // 2
    interpolation = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
    out[y0 : y0 + sh, x0 : x0 + sw] = cv2.resize(rgb, (sw, sh), interpolation=interpolation)
    return out, k, (x0, y0)


def find_font(lang: str, explicit: str | Path | None = None) -> Path | None:
    if explicit:
        p = Path(explicit)
        if not p.is_file():
            raise FileNotFoundError(f"font file {p} does not exist")
        try:  # now, not at the first frame drawn (OSError "cannot open resource" in the middle of a run)
            ImageFont.truetype(str(p), 12)
        except OSError:
            raise ValueError(
                f"{p} is not a font file this kiosk can read (TrueType or OpenType: .ttf, .otf, .ttc)"
            ) from None
        return p
    candidates = CJK_FONTS if language(lang).startswith("zh") else LATIN_FONTS + CJK_FONTS
    return next((Path(c) for c in candidates if Path(c).is_file()), None)


class Renderer:
    """Draws the instruction, the capture progress and the result panel over a frame."""

    def __init__(self, lang: str = "en", font: str | Path | None = None, demo: bool = False) -> None:
        self.lang = language(lang)
        self.font_path = find_font(self.lang, font)
        if self.font_path is None and self.lang != "en":
            raise FileNotFoundError(
                f"no font with {self.lang} glyphs found (looked for {', '.join(CJK_FONTS)}); install one "
                "(Debian: apt-get install fonts-noto-cjk) or pass --font /path/to/font.ttc"
            )
        self.demo = demo
        self._fonts: dict[int, ImageFont.ImageFont] = {}

    def font(self, px: int):
        if px not in self._fonts:
            self._fonts[px] = (
                ImageFont.truetype(str(self.font_path), px) if self.font_path else ImageFont.load_default(px)
            )
        return self._fonts[px]

    def t(self, key: str, **fields) -> str:
        return message(key, self.lang, **fields)

    def render(self, rgb: np.ndarray, event: GuidanceEvent, size: tuple[int, int] | None = None) -> np.ndarray:
        """The frame with its overlay; ``size`` (width, height): drawn at that size (a window's),
        the frame fitted into it, else at the frame's own size."""
        k, (x0, y0) = 1.0, (0, 0)
        if size is not None and size != (rgb.shape[1], rgb.shape[0]):
            rgb, k, (x0, y0) = fit_frame(rgb, size)
        h, w = rgb.shape[:2]
        img = Image.fromarray(rgb).convert("RGBA")
        layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
        d = ImageDraw.Draw(layer)
        unit = text_unit(w, h)
        for i, box in enumerate(event.face_boxes):
            colour = (OK_RGB if event.kind in ("hold", "result") else WARN_RGB) if i == 0 else OTHER_RGB
            placed = [v * k + (x0 if j % 2 == 0 else y0) for j, v in enumerate(box)]
            d.rectangle(placed, outline=colour + (255,), width=max(2, unit // 6))
        banner = [self.t("not_for_clinical_use")] + ([self.t("demo_notice")] if self.demo else [])
        d.rectangle((0, 0, w, int(unit * 1.6)), fill=(0, 0, 0, 150))
        d.text((unit // 2, unit // 4), "  |  ".join(banner), font=self.font(int(unit * 0.8)), fill=(255, 255, 255, 255))
        if event.kind in ("result", "showing_result") and event.result is not None:
            self._result_panel(d, layer, event, w, h, unit)
        elif event.text:
            d.rectangle((0, h - unit * 3, w, h), fill=(0, 0, 0, 170))
            d.text((unit // 2, h - unit * 2.6), event.text, font=self.font(int(unit * 1.3)), fill=(255, 255, 255, 255))
            if event.needed:
                for k in range(event.needed):
                    x = w - unit * (event.needed - k) * 1.2
                    fill = OK_RGB + (255,) if k < event.streak else (90, 90, 90, 255)
                    d.ellipse((x, h - unit * 2.2, x + unit * 0.8, h - unit * 1.4), fill=fill)
        return np.asarray(Image.alpha_composite(img, layer).convert("RGB"))

    def _result_panel(
        self, d: ImageDraw.ImageDraw, layer: Image.Image, ev: GuidanceEvent, w: int, h: int, unit: int
    ) -> None:
        r = ev.result
        x0, y0 = int(w * 0.04), int(unit * 2.2)
        d.rectangle((x0, y0, w - x0, h - unit), fill=(255, 255, 255, 235))
        colour = (REFER_RGB if r.label == REFER else NO_FLAG_RGB) + (255,)
        y = y0 + unit // 2
        d.text((x0 + unit, y), self.t("result_title"), font=self.font(int(unit * 0.9)), fill=(60, 60, 60, 255))
        y += int(unit * 1.4)
        d.text((x0 + unit, y), self.t(r.label), font=self.font(int(unit * 1.5)), fill=colour)
        y += int(unit * 2.2)
        for line in self.card_lines(ev):
            d.text((x0 + unit, y), line, font=self.font(int(unit * 0.75)), fill=(30, 30, 30, 255))
            y += int(unit * 1.1)
        saved, returns = self.card_status(ev)
        d.text((x0 + unit, y + unit // 3), saved, font=self.font(int(unit * 0.8)), fill=OK_RGB + (255,))
        if ev.cam_image is not None:
            side = min(int(h * 0.3), int(w * 0.25))
            cam = Image.fromarray(ev.cam_image).resize((side, side)).convert("RGBA")
            cx, cy = w - x0 - unit - side, int(h - unit * 4.4 - side)
            layer.paste(cam, (cx, cy))
            self._cam_legend(d, cx, cy + side + unit // 5, side, unit)
        d.text((x0 + unit, h - unit * 3.2), returns, font=self.font(int(unit * 0.7)), fill=(80, 80, 80, 255))
        d.text(
            (x0 + unit, h - unit * 2.2),
            self.t("operator_keys"),
            font=self.font(int(unit * 0.7)),
            fill=(80, 80, 80, 255),
        )

    def card_lines(self, ev: GuidanceEvent) -> list[str]:
        """The result card's sentences under the label."""
        r = ev.result
        lines = [
            self.t("refer_advice" if r.label == REFER else "no_flag_advice"),
            self.t("probability", probability=r.probability, threshold=r.threshold),
            self.t("model_line", model_id=r.model_id, version=r.model_version),
            self.t("result_note"),
        ]
        if r.not_for_clinical_use:
            lines.append(self.t("not_for_clinical_use"))
        return lines

    def card_status(self, ev: GuidanceEvent) -> tuple[str, str]:
        """Whether the result is saved (and its photo kept), and when the screen returns to guidance:
        the operator should not have to guess either."""
        if ev.record.get("id"):
            kept = f" · {self.t('consent_recorded')}" if ev.record.get("consent") else ""
            if ev.record.get("photo_not_kept"):  # consent given, the photo not written (a full disk)
                kept = f" · {self.t('kiosk_photo_not_kept')}"
            saved = "✓ " + self.t("kiosk_saved") + kept
        elif ev.record.get("not_saved"):  # the store refused it (a full disk): the reason is in the log
            saved = self.t("kiosk_store_failed")
        else:
            saved = self.t("kiosk_not_saved")
        if ev.result_left_s is None:
            return saved, ""
        return saved, self.t("result_returns_in", seconds=max(0, math.ceil(ev.result_left_s)))

    def _cam_legend(self, d: ImageDraw.ImageDraw, x: int, y: int, side: int, unit: int) -> None:
        """The activation map's colour scale (edge.postprocess.overlay_cam: OpenCV's JET, blue low,
        red high) and what it means."""
        ramp = cv2.applyColorMap(np.linspace(0, 255, side).astype(np.uint8)[None, :], cv2.COLORMAP_JET)[0, :, ::-1]
        bar = max(4, unit // 3)
        for i, (r, g, b) in enumerate(ramp):
            d.line((x + i, y, x + i, y + bar), fill=(int(r), int(g), int(b), 255))
        text, font = self.t("cam_legend"), self.font(int(unit * 0.55))
        right = x + side - d.textlength(text, font=font)  # ends under the map's right edge, inside the card
        d.text((min(x, right), y + bar + 2), text, font=font, fill=(60, 60, 60, 255))


class Output(Protocol):
    # the (width, height) this output shows a picture at, or None: the frame's own size
    canvas_size: tuple[int, int] | None

    def render(self, frame: np.ndarray, event: GuidanceEvent) -> str | None:
        """Show/record one frame; returns an operator action ("retake", "consent", "cancel", "quit") or None."""

    def close(self) -> None: ...


class WindowOutput:
    """An OpenCV window (needs the GUI build of OpenCV and a display), as large as the display
    (display_size), without Qt's toolbar and status bar (WINDOW_GUI_NORMAL); the picture is drawn at
    the window's own size (canvas_size), so its text is sized to the window."""

    def __init__(
        self, title: str = "facescreen kiosk", fullscreen: bool = False, size: tuple[int, int] | None = None
    ) -> None:
        ok, why = gui_support()
        if not ok:
            raise GuiUnavailable(why)
        self.title = title
        # FREERATIO: the picture fills the window (it is drawn at the window's size, letterboxed by us)
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_GUI_NORMAL | cv2.WINDOW_FREERATIO)
        # a bare X server has no window manager to honour full screen (Qt leaves its 400x300 default):
        # the window is placed and sized to the display itself, full screen or not
        screen = size or display_size()
        if screen is not None:
            cv2.moveWindow(title, 0, 0)
            cv2.resizeWindow(title, *screen)
        if fullscreen:
            cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
        cv2.waitKey(1)  # let the GUI apply the size before the first picture is drawn for it

    @property
    def canvas_size(self) -> tuple[int, int] | None:
        """The window's picture area now (a window manager may have changed it), or None."""
        _, _, w, h = cv2.getWindowImageRect(self.title)
        return (w, h) if w > 0 and h > 0 else None

    def render(self, frame: np.ndarray, event: GuidanceEvent) -> str | None:
        cv2.imshow(self.title, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        return KEYS.get(cv2.waitKey(1) & 0xFF)

    def close(self) -> None:
        cv2.destroyWindow(self.title)


class JsonLinesOutput:
    """Headless: one JSON object per line for every change of instruction and every result."""

    canvas_size: tuple[int, int] | None = None  # the frame's own size

    def __init__(self, stream: TextIO = sys.stdout, every_frame: bool = False, include_quality: bool = False) -> None:
        self.stream = stream
        self.every_frame = every_frame
        self.include_quality = include_quality
        self._last: tuple | None = None

    def render(self, frame: np.ndarray | None, event: GuidanceEvent) -> str | None:
        self.write(event)
        return None

    def write(self, event: GuidanceEvent) -> None:
        key = (event.kind, event.message_key)
        if not self.every_frame and key == self._last and event.kind not in ("result", "error"):
            return
        self._last = key
        d = event.to_dict()
        if not self.include_quality and "quality" in d:
            q = d.pop("quality")
            d["failing"] = [m["name"] for m in q["measures"] if not m["passed"]]
        self.stream.write(json.dumps(d, ensure_ascii=False) + "\n")
        self.stream.flush()

    def close(self) -> None:
        pass


class FolderOutput:
    """Writes every rendered frame as a JPEG (a record of what the screen showed, at the window's
    size when there is one)."""

    canvas_size: tuple[int, int] | None = None  # the frame's own size

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def render(self, frame: np.ndarray, event: GuidanceEvent) -> str | None:
        Image.fromarray(frame).save(self.folder / f"{self.n:05d}_{event.kind}.jpg", quality=90)
        self.n += 1
        return None

    def close(self) -> None:
        pass
