"""Browser parity: the tablet app's own modules in real headless Chromium against the Python edge path.

Each photo is decoded once in Python (``edge.photo.load_photo``) and its RGB pixels are handed to
both sides, so the comparison covers detection, alignment and the screener, not two JPEG decoders.
The Python side runs the SAME artifact files (the bundle's converted screener and MTCNN networks)
through ``edge`` (``create_screener`` with the matching backend and detector runtime).

Verdict (all must hold): face counts equal on every photo, every box and landmark within
``max_px`` pixels, screening probabilities within one int8 step, flag agreement >= 99 %.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from facescreen.edge.detect import DetectConfig, detect_faces
from facescreen.edge.errors import NoFaceError
from facescreen.edge.photo import load_photo
from facescreen.kiosk.isolation import ISOLATION_HEADERS

from ..tools.browser import Chrome
from .runtimes import browser_runtime

INT8_STEP = 1.0 / 255.0  # one step of an 8-bit probability in [0, 1]
MIN_AGREEMENT = 0.99
MAX_PX = 1.0  # boxes and landmarks are whole pixels on both sides


@dataclass(frozen=True)
class PhotoOutcome:
    name: str
    n_faces_python: int
    n_faces_browser: int
    max_box_px: float
    max_landmark_px: float
    p_python: float | None
    p_browser: float | None
    ms_python: float
    ms_browser: float
    # per stage (detect, align, infer, ...), each side's own timings of this photo's screening
    stages_python: dict = field(default_factory=dict)
    stages_browser: dict = field(default_factory=dict)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        for k, v in ISOLATION_HEADERS.items():  # as the kiosk serves the app: multi-threaded WebAssembly
            self.send_header(k, v)
        super().end_headers()


@contextlib.contextmanager
def static_server(root: Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (a secure context for service workers) in a thread."""
    _QuietHandler.extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".webmanifest": "application/manifest+json",
    }
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()


OPEN_JS = """
const base = new URL('./', location.href);
const { BrowserScreener } = await import(new URL('core/screen.js', base).href);
window.__fs = await BrowserScreener.create(base);
return window.__fs.backendLabel;
"""

SCREEN_JS = """
const [b64, h, w] = arguments;
const bin = atob(b64);
const rgb = new Uint8Array(bin.length);
for (let i = 0; i < bin.length; i++) rgb[i] = bin.charCodeAt(i);
const faces = await window.__fs.detect(rgb, h, w);
const t0 = performance.now();
const r = await window.__fs.screen(rgb, h, w);
return { faces, probability: r.probability ?? null, ms: performance.now() - t0, screen_ms: r.timings_ms ?? null };
"""


def browser_call(chrome: Chrome, body: str, *args):
    """Run an async function body in the page (WebDriver awaits the returned promise)."""
    return chrome.script(f"return (async () => {{ {body} }}).apply(null, arguments);", *args)


def open_in_browser(chrome: Chrome, url: str) -> str:
    chrome.get(url + "harness.html")
    return browser_call(chrome, OPEN_JS)


def screen_in_browser(chrome: Chrome, rgb: np.ndarray) -> dict:
    h, w = rgb.shape[:2]
    return browser_call(chrome, SCREEN_JS, base64.b64encode(np.ascontiguousarray(rgb).tobytes()).decode(), h, w)


def python_reference(bundle_dir: Path, runtime_name: str):
    """The Python edge path on the same artifact files the browser runs."""
    from facescreen.edge import create_screener
    from facescreen.edge.detectors.mtcnn_lite import MtcnnLiteDetector

    rt = browser_runtime(runtime_name)
    det = MtcnnLiteDetector(Path(bundle_dir) / "detector", runtime=rt.python_detector_runtime)
    # the browser detects with the exported DetectConfig() (tablet/export.py), so Python does too
    return create_screener(
        bundle_dir, backend=rt.python_backend, artifact=rt.screener_artifact, detector=det, detect=DetectConfig()
    )


def _face_diffs(py_faces, br_faces) -> tuple[float, float]:
    if len(py_faces) != len(br_faces):
        return float("inf"), float("inf")
    worst_box = worst_lm = 0.0
    for f in py_faces:
        best = min(br_faces, key=lambda g: float(np.abs(np.subtract(f.box, g["box"])).max()))
        worst_box = max(worst_box, float(np.abs(np.subtract(f.box, best["box"])).max()))
        worst_lm = max(worst_lm, float(np.abs(f.landmarks - np.asarray(best["landmarks"])).max()))
    return worst_box, worst_lm


def compare_photos(chrome: Chrome, screener, photos: dict[str, np.ndarray]) -> list[PhotoOutcome]:
    out = []
    for name, rgb in photos.items():
        py_faces = detect_faces(rgb, screener.detector, DetectConfig())
        t0 = time.perf_counter()
        try:
            r = screener.screen(rgb)
            p_py, stages_py = r.probability, dict(r.timings_ms)
        except NoFaceError:
            p_py, stages_py = None, {}
        ms_py = (time.perf_counter() - t0) * 1e3
        got = screen_in_browser(chrome, rgb)
        box_px, lm_px = _face_diffs(py_faces, got["faces"])
        out.append(
            PhotoOutcome(
                name,
                len(py_faces),
                len(got["faces"]),
                box_px,
                lm_px,
                p_py,
                got["probability"],
                ms_py,
                float(got["ms"]),
                stages_py,
                dict(got.get("screen_ms") or {}),
            )
        )
    return out


def verdict(outcomes: list[PhotoOutcome], threshold: float, runtime: str) -> dict:
    problems = []
    screened = [o for o in outcomes if o.p_python is not None and o.p_browser is not None]
    count_mismatch = [
        o.name
        for o in outcomes
        if o.n_faces_python != o.n_faces_browser or (o.p_python is None) != (o.p_browser is None)
    ]
    if count_mismatch:
        problems.append(f"different faces found on {count_mismatch[:5]}")
    max_box = max((o.max_box_px for o in outcomes if o.n_faces_python == o.n_faces_browser), default=0.0)
    max_lm = max((o.max_landmark_px for o in outcomes if o.n_faces_python == o.n_faces_browser), default=0.0)
    if max_box > MAX_PX or max_lm > MAX_PX:
        problems.append(f"boxes/landmarks differ by up to {max_box:.1f}/{max_lm:.1f} px (allowed {MAX_PX:.0f})")
    diffs = np.array([abs(o.p_browser - o.p_python) for o in screened]) if screened else np.zeros(0)
    agree = np.array([(o.p_browser >= threshold) == (o.p_python >= threshold) for o in screened], dtype=bool)
    agreement = float(agree.mean()) if len(agree) else 0.0
    if not screened:
        problems.append("no photo was screened on both sides")
    if len(diffs) and diffs.max() > INT8_STEP + 1e-6:
        problems.append(f"max |probability difference| {diffs.max():.5f} exceeds one int8 step ({INT8_STEP:.5f})")
    if agreement < MIN_AGREEMENT:
        problems.append(f"flag agreement {agreement:.1%} is below {MIN_AGREEMENT:.0%}")
    ms_py = [o.ms_python for o in outcomes]
    ms_br = [o.ms_browser for o in outcomes]
    return {
        "runtime": runtime,
        "n_photos": len(outcomes),
        "n_screened": len(screened),
        "flag_agreement": round(agreement, 6),
        "max_abs_prob_diff": round(float(diffs.max()), 6) if len(diffs) else None,
        "int8_step": round(INT8_STEP, 6),
        "max_box_px": max_box,
        "max_landmark_px": max_lm,
        "median_ms_browser": round(float(np.median(ms_br)), 1) if ms_br else None,
        "median_ms_python": round(float(np.median(ms_py)), 1) if ms_py else None,
        "stages_median_ms": stage_medians(outcomes),
        "passed": not problems,
        "verdict": "; ".join(problems) if problems else "parity ok",
    }


def stage_medians(outcomes: list[PhotoOutcome]) -> dict[str, dict]:
    """Each stage both sides time (detect, align, infer), in the same run on the same photos: the
    browser's median, Python's, and browser over Python (issue 23's target: within 2x)."""
    both = [o for o in outcomes if o.stages_python and o.stages_browser]
    keys = [k for k in (both[0].stages_browser if both else {}) if all(k in o.stages_python for o in both)]
    out = {}
    for k in keys:
        br = float(np.median([o.stages_browser[k] for o in both if k in o.stages_browser]))
        py = float(np.median([o.stages_python[k] for o in both]))
        out[k] = {"browser": round(br, 2), "python": round(py, 2), "ratio": round(br / py, 2) if py > 0 else None}
    return out


def verification_set(cohort: Path | None = None, limit: int | None = None) -> dict[str, np.ndarray]:
    """The converters' detector verification photos, plus the photos of a cohort folder (cohort.csv)."""
    from facescreen.converters.to_mtcnn import verification_photos

    photos = verification_photos(n_synthetic=2, seed=21)
    if cohort is not None:
        import csv

        with open(Path(cohort) / "cohort.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows[:limit] if limit else rows:
            photos[row["path"]] = load_photo(Path(cohort) / row["path"])
    return photos


def verify_app(app_dir: Path, app: dict, bundle_dir: Path, photos: dict[str, np.ndarray] | None = None) -> dict:
    """The parity record for an assembled app (see :func:`kiosk.tablet.export.export_app`)."""
    screener = python_reference(bundle_dir, app["runtime"])
    photos = photos if photos is not None else verification_set()
    with static_server(app_dir) as url, Chrome() as chrome:
        try:
            open_in_browser(chrome, url)
        except RuntimeError as exc:  # the runtime cannot even open the artifacts: refused, with the reason
            found = re.search(r"'message': '(?:javascript error: )?(.*?)(?:\\n|')", str(exc))
            why = found.group(1) if found else str(exc)[:400]
            return {
                "runtime": app["runtime"],
                "passed": False,
                "verdict": f"{app['runtime']} could not open the bundle's artifacts in Chromium: {why}",
            }
        outcomes = compare_photos(chrome, screener, photos)
        speed = speed_figures(chrome, screener, photos[SPEED_FRAME]) if SPEED_FRAME in photos else None
    record = verdict(outcomes, screener.card.threshold, app["runtime"])
    record["speed"] = speed
    record["photos"] = [asdict(o) for o in outcomes]
    return record


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
    face mesh and the 14 measures, on a sequence of ``frame`` drifting a few pixels per frame: the
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
