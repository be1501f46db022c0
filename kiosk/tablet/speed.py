"""Guidance speed of the tablet app in headless Chromium against the kiosk's engine in Python, for the
README's figures and the benchmark. Not part of tablet-export: the export checks, it does not time.
A page opened by :func:`kiosk.tablet.parity.open_in_browser` is what it drives."""

from __future__ import annotations

import base64
import time

import numpy as np

from ..tools.browser import Chrome
from .parity import browser_call

SPEED_FRAME = "astronaut_640x480"  # a camera-sized frame from the verification photos
SPEED_FRAMES = 24  # the drifting guidance sequence: two detections at the default interval
SPEED_WARMUP = 2
PUSH_FRAME_JS = """
const [b64] = arguments;
const bin = atob(b64);
const rgb = new Uint8Array(bin.length);
for (let i = 0; i < bin.length; i++) rgb[i] = bin.charCodeAt(i);
(window.__frames = window.__frames || []).push(rgb);
return window.__frames.length;
"""
GUIDANCE_SPEED_JS = """
const [h, w, finds, warmup] = arguments;
const { FaceTrack } = await import(new URL('core/track.js', location.href).href);
const s = window.__fs, frames = window.__frames;
// one screener per configuration, sharing the opened networks, each reading its own FindConfig
const runs = {};
for (const [k, find] of Object.entries(finds)) {
  const scr = Object.assign(Object.create(Object.getPrototypeOf(s)), s, { app: { ...s.app, find: { ...s.app.find, ...find } } });
  runs[k] = { scr, track: new FaceTrack(scr.app.find), ms: [], detected: 0 };
}
const labels = Object.keys(runs);
for (const f of frames.slice(0, warmup)) for (const k of labels) await runs[k].scr.analyse(f, h, w, runs[k].track, false);
for (const k of labels) runs[k].track.lose();
for (let i = 0; i < frames.length; i++) {
  for (const k of (i % 2 ? [...labels].reverse() : labels)) {  // taking turns: a changing load slows both alike
    const r = runs[k], t = performance.now();
    const a = await r.scr.analyse(frames[i], h, w, r.track, false);
    r.ms.push(performance.now() - t); r.detected += a.tracked ? 0 : 1;
  }
}
// capture to flag: the captured frame detected again (before) or its analysis's face screened (after)
const cap = {};
for (const k of labels) cap[k] = [];
const a = await runs.after.scr.analyse(frames[0], h, w);
for (let i = 0; i < 3; i++) for (const k of (i % 2 ? [...labels].reverse() : labels)) {
  const t = performance.now();
  await runs[k].scr.screen(frames[0], h, w, a);
  cap[k].push(performance.now() - t);
}
window.__frames = [];
return Object.fromEntries(labels.map((k) => [k, { ms: runs[k].ms, detected: runs[k].detected, capture_ms: cap[k] }]));
"""


def speed_figures(chrome: Chrome, screener, frame: np.ndarray) -> dict:
    """Guidance frames/s as the app's guidance runs it (detection or mesh tracking, the subject's
    face mesh and every quality measure, on a sequence of ``frame`` drifting a few pixels per frame: the
    kiosk bench's), BEFORE (``FindConfig.baseline()``: every frame detected, whole pyramid) and
    AFTER (the default FindConfig), browser and Python (the kiosk's engine on the same plain mesh
    and artifact files) in the same run, the configurations taking turns frame by frame; and
    capture to flag (detected again, or the analysed face screened). Figures for the README; never
    asserted (machines are noisy)."""
    from facescreen.edge.assets import FACE_LANDMARK, asset_path

    from ..bench import measure_guidance, moving_sequence
    from ..engine import KioskEngine
    from ..landmarks import DenseLandmarker
    from ..tracking import FindConfig

    finds = {"before": FindConfig.baseline(), "after": FindConfig()}
    sequence = moving_sequence(frame[None], SPEED_FRAMES)
    h, w = frame.shape[:2]
    for f in sequence:
        browser_call(chrome, PUSH_FRAME_JS, base64.b64encode(np.ascontiguousarray(f).tobytes()).decode())
    got = browser_call(chrome, GUIDANCE_SPEED_JS, h, w, {k: f.model_dump() for k, f in finds.items()}, SPEED_WARMUP)
    mesh = DenseLandmarker(asset_path(FACE_LANDMARK.name))
    engines = {k: KioskEngine(screener, mesh, find=f) for k, f in finds.items()}
    py = measure_guidance(engines, sequence, SPEED_WARMUP)
    analysis = engines["after"].analyse(sequence[0])
    py_cap: dict[str, list[float]] = {k: [] for k in finds}
    for i in range(3):
        for k in list(finds) if i % 2 == 0 else list(finds)[::-1]:
            t0 = time.perf_counter()
            engines[k].screen(sequence[0], analysis)
            py_cap[k].append((time.perf_counter() - t0) * 1e3)
    med = lambda v: float(np.median(v))  # noqa: E731
    out: dict = {"frame": f"{w}x{h}", "sequence_frames": len(sequence)}
    for k in finds:
        out[k] = {
            "browser_guidance_fps": round(1e3 / med(got[k]["ms"]), 2),
            "browser_guidance_fps_mean": round(1e3 / float(np.mean(got[k]["ms"])), 2),
            "python_guidance_fps": round(py[k]["fps_p50"], 2),
            "python_guidance_fps_mean": round(py[k]["fps_mean"], 2),
            "browser_detected_fraction": round(got[k]["detected"] / len(got[k]["ms"]), 3),
            "python_detected_fraction": round(py[k]["detected_fraction"], 3),
            "browser_capture_to_flag_ms": round(med(got[k]["capture_ms"]), 1),
            "python_capture_to_flag_ms": round(med(py_cap[k]), 1),
        }
    return out
