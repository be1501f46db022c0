"""Kiosk-like frames made from the real sample photos (edge.synthetic), for replay by the demo and
the tests: the face placed in a 640x480 frame at a chosen size, tilt and position, then darkened or
over-exposed, washed out, lit by a light ramp, digitally zoomed, blurred, doubled or removed, so that
each capture-quality measure can be made to fail on its own.

These are real photos under known transformations, not clinical data.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from facescreen.edge.synthetic import SOURCE_LANDMARKS, source_photo

FRAME_SIZE = (640, 480)  # width, height: a common webcam mode
WALL_RGB = (206, 203, 196)


@dataclass(frozen=True)
class Scene:
    """One frame's recipe. ``expect`` is the instruction key the guidance loop should give
    (None: the frame passes every measure)."""

    name: str
    expect: str | None = None
    iod: float = 0.15  # inter-eye distance as a fraction of the frame width
    roll_deg: float = 0.0  # positive: counter-clockwise on screen
    offset: tuple[float, float] = (0.0, -0.05)  # face centre from frame centre, fractions of (w, h)
    gain: float = 1.0  # brightness multiplier
    blur_sigma: float = 0.0  # Gaussian blur, frame pixels
    gamma: float = 1.0  # exponent on [0, 1] pixel values (below 1: shadows lifted)
    lift: float = 0.0  # black raised to this fraction of white, the rest compressed (washed out)
    ramp: float = 0.0  # light falling linearly from the right edge (gain 1) to the left (gain 1 - ramp)
    mirror: bool = False  # the photo mirrored left-right (its own light then falls from the other side)
    zoom: int = 1  # digital zoom: the frame's centre enlarged this many times into blocks of pixels
    second_face: bool = False  # a second person beside the subject
    no_face: bool = False  # nobody in front of the camera
    source: str = "grace_hopper"


def mirrored(rgb: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo mirrored left-right and its five landmarks, still in detector order (the eyes and
    the mouth corners swap sides)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return rgb[:, ::-1].copy(), np.column_stack([rgb.shape[1] - 1 - lm[:, 0], lm[:, 1]])[[1, 0, 2, 4, 3]]


def place_face(
    rgb: np.ndarray,
    landmarks: np.ndarray,
    iod_px: float,
    roll_deg: float,
    centre_xy: tuple[float, float],
    size: tuple[int, int] = FRAME_SIZE,
    canvas: np.ndarray | None = None,
) -> np.ndarray:
    """Warp a photo so its face (eyes-mouth centre) lands at ``centre_xy`` with the given
    inter-eye distance and roll, over ``canvas`` (a plain wall when None)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    centre = (lm[:2].mean(0) + lm[3:].mean(0)) / 2.0
    scale = iod_px / float(np.linalg.norm(lm[1] - lm[0]))
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), roll_deg, scale)
    m[:, 2] += np.asarray(centre_xy) - centre
    w, h = size
    out = canvas.copy() if canvas is not None else np.full((h, w, 3), WALL_RGB, np.uint8)
    warped = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    mask = cv2.warpAffine(np.full(rgb.shape[:2], 255, np.uint8), m, (w, h), flags=cv2.INTER_NEAREST) > 0
    out[mask] = warped[mask]
    return out


def compose(scene: Scene, size: tuple[int, int] = FRAME_SIZE, photo: np.ndarray | None = None) -> np.ndarray:
    """Render ``scene`` as an RGB uint8 frame."""
    w, h = size
    rng = np.random.default_rng(zlib.crc32(scene.name.encode()))
    wall = np.clip(np.full((h, w, 3), WALL_RGB, np.float32) + rng.normal(0, 2.0, (h, w, 1)), 0, 255).astype(np.uint8)
    if scene.no_face:
        frame = wall
    else:
        rgb = source_photo(scene.source) if photo is None else photo
        lm = SOURCE_LANDMARKS[scene.source]
        if scene.mirror:
            rgb, lm = mirrored(rgb, lm)
        iod = scene.iod * w
        if scene.second_face:
            frame = place_face(
                rgb, lm, iod, scene.roll_deg, (w * (0.5 - 0.22), h * (0.5 + scene.offset[1])), size, wall
            )
            frame = place_face(
                *mirrored(rgb, lm),
                iod * 0.95,
                -scene.roll_deg,
                (w * (0.5 + 0.24), h * (0.5 + scene.offset[1])),
                size,
                frame,
            )
        else:
            frame = place_face(
                rgb, lm, iod, scene.roll_deg, (w * (0.5 + scene.offset[0]), h * (0.5 + scene.offset[1])), size, wall
            )
    if scene.zoom > 1:  # as a camera's digital zoom: nearest-neighbour, each pixel repeated zoom x zoom
        ch, cw = h // scene.zoom, w // scene.zoom
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        frame = cv2.resize(frame[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_NEAREST)
    if scene.gain != 1.0:
        frame = np.clip(frame.astype(np.float32) * scene.gain, 0, 255).astype(np.uint8)
    if scene.ramp:
        gain = np.linspace(1.0 - scene.ramp, 1.0, w, dtype=np.float32)[None, :, None]
        frame = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    if scene.gamma != 1.0 or scene.lift:
        f = (frame.astype(np.float32) / 255.0) ** scene.gamma
        frame = np.uint8(np.clip((scene.lift + (1.0 - scene.lift) * f) * 255.0 + 0.5, 0, 255))
    if scene.blur_sigma > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), scene.blur_sigma)
    return frame


# One measure failing at a time, then good frames (slightly different focus, so the loop has a
# sharpest one to choose).
FAILING_SCENES: tuple[Scene, ...] = (
    Scene("no_face", "no_face", no_face=True),
    Scene("two_faces", "one_face_only", iod=0.1, second_face=True),
    Scene("too_far", "move_closer", iod=0.045),
    Scene("too_close", "move_back", iod=0.3, offset=(0.0, 0.0)),
    Scene("off_centre", "move_to_centre", iod=0.11, offset=(0.3, 0.0)),
    Scene("tilted", "head_level", roll_deg=20.0),
    Scene("too_dark", "more_light", gain=0.3),
    Scene("blurred", "hold_still", blur_sigma=4.0),
    # the four that the measures missed before (issue 20): a face so over-exposed that no face is
    # found, and a frame so dark; a washed-out face; a light ramp; a small face digitally zoomed
    Scene("over_exposed", "less_light", gain=3.0),
    Scene("pitch_dark", "more_light", gain=0.05),
    Scene("washed_out", "low_contrast", gamma=0.6, lift=0.4),
    Scene("light_ramp", "even_light", ramp=0.4),  # gain 0.6 at the left edge, 1 at the right
    Scene("digital_zoom", "no_zoom", iod=0.05, offset=(0.0, -0.02), zoom=3),
)
GOOD_SCENES: tuple[Scene, ...] = (
    Scene("good_a", None, blur_sigma=0.9),
    Scene("good_b", None),
    Scene("good_c", None, blur_sigma=0.6),
)
DEMO_SCENES: tuple[Scene, ...] = (
    tuple(s for s in FAILING_SCENES if s.name in ("too_far", "tilted", "off_centre", "too_dark")) + GOOD_SCENES
)


def write_sequence(out_dir: str | Path, scenes: Sequence[Scene], size: tuple[int, int] = FRAME_SIZE) -> list[Path]:
    """Write the scenes as numbered PNGs (an image-folder source replays them in order)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    photos = {s.source: source_photo(s.source) for s in scenes if not s.no_face}
    paths = []
    for i, s in enumerate(scenes):
        p = out / f"{i:03d}_{s.name}.png"
        Image.fromarray(compose(s, size, photos.get(s.source))).save(p)
        paths.append(p)
    return paths
