"""Browser parity: the tablet app's own modules in real headless Chromium against the Python edge path,
held to the converters' gate rule (``edge.metrics.gate_problems`` with ``ParityThresholds``, and for
the detector ``edge.detect.faces_agree`` with ``DetectorTolerance``), like every other artifact.

Each photo is decoded once in Python (``edge.photo.load_photo``) and its RGB pixels are handed to
both sides, so the comparison covers detection, alignment and the screener, not two JPEG decoders.
The Python side runs the SAME artifact files (the bundle's converted screener and MTCNN networks)
through ``edge`` (``create_screener`` with the matching backend and detector runtime).

Verdict (all must hold): on every photo the same faces within the detector tolerance, and the
screening flags (class probabilities after the card's temperature, on both sides) through the gate.
Each photo's own screening times are recorded alongside: tablet-export checks, it does not benchmark.
The page side is harness.js (beside harness.html in the app), called through :func:`module_call`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from facescreen.edge.detect import (
    PHOTO_DETECT,
    DetectorTolerance,
    FaceDetection,
    compare_faces,
    detect_faces,
    faces_agree,
)
from facescreen.edge.errors import FaceScreenError, NoFaceError
from facescreen.edge.metrics import ParityThresholds, agreement, gate_problems
from facescreen.edge.photo import PHOTO_SUFFIXES, find_photos, load_photo
from facescreen.edge.spreadsheet import read_table
from facescreen.kiosk.isolation import ISOLATION_HEADERS, MEDIA_TYPES

from ..tools.browser import Chrome, PageError
from .runtimes import browser_runtime


@dataclass(frozen=True)
class PhotoOutcome:
    name: str
    faces: dict  # edge.detect.compare_faces: Python's faces the reference, the browser's the candidate
    probs_python: tuple[float, ...] | None  # class probabilities after the card's temperature
    probs_browser: tuple[float, ...] | None
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
    _QuietHandler.extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MEDIA_TYPES}
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()


# one import and one call: the page's programs live in .js modules (harness.js beside harness.html),
# never in Python strings
MODULE_CALL = "const [m, fn, args] = arguments; return (await import(new URL(m, location.href).href))[fn](...args);"


def browser_call(chrome: Chrome, body: str, *args):
    """Run an async function body in the page (WebDriver awaits the returned promise)."""
    return chrome.script(f"return (async () => {{ {body} }}).apply(null, arguments);", *args)


def module_call(chrome: Chrome, module: str, fn: str, *args):
    """``fn(*args)`` of an ES module of the page (a path relative to it, or a URL), awaited."""
    return browser_call(chrome, MODULE_CALL, module, fn, list(args))


def open_in_browser(chrome: Chrome, url: str) -> str:
    chrome.get(url + "harness.html")
    return module_call(chrome, "harness.js", "open")


def screen_in_browser(chrome: Chrome, rgb: np.ndarray) -> dict:
    h, w = rgb.shape[:2]
    return module_call(chrome, "harness.js", "screen", b64_pixels(rgb), h, w)


def b64_pixels(a: np.ndarray) -> str:
    """An array's bytes as harness.js ``pixels`` reads them."""
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def python_reference(bundle_dir: Path, runtime_name: str):
    """The Python edge path on the same artifact files the browser runs."""
    from facescreen.edge import create_screener
    from facescreen.edge.detectors.mtcnn_lite import MtcnnLiteDetector

    rt = browser_runtime(runtime_name)
    det = MtcnnLiteDetector(Path(bundle_dir) / "detector", runtime=rt.python_detector_runtime)
    # the screener's default detection is the photo path's (edge.detect.PHOTO_DETECT), which the app
    # carries as app.json "detect" (tablet/export.py) and the browser applies to a photo
    return create_screener(bundle_dir, backend=rt.python_backend, artifact=rt.screener_artifact, detector=det)


def _browser_face(f: dict) -> FaceDetection:
    return FaceDetection(tuple(f["box"]), float(f["confidence"]), np.asarray(f["landmarks"]))


# photos screened on both sides, untimed and unrecorded, before the first timed one: the browser's
# JavaScript is compiled as it runs, so its first calls of a stage take up to 15x a later one (the
# align stage: 10-17 ms, then about 1-2 ms); the stages' medians are the steady state, as a benchmark's
WARMUP_PHOTOS = 2


def compare_photos(chrome: Chrome, screener, photos: dict[str, np.ndarray]) -> list[PhotoOutcome]:
    for rgb in list(photos.values())[:WARMUP_PHOTOS]:
        screen_in_browser(chrome, rgb)
        with contextlib.suppress(NoFaceError):
            screener.screen(rgb)
    out = []
    for name, rgb in photos.items():
        py_faces = detect_faces(rgb, screener.detector, PHOTO_DETECT)
        t0 = time.perf_counter()
        try:
            r = screener.screen(rgb)
            p_py, probs_py, stages_py = r.probability, r.class_probabilities, dict(r.timings_ms)
        except NoFaceError:
            p_py, probs_py, stages_py = None, None, {}
        ms_py = (time.perf_counter() - t0) * 1e3
        got = screen_in_browser(chrome, rgb)
        faces = compare_faces(py_faces, [_browser_face(f) for f in got["faces"]])
        probs_br = tuple(got["class_probabilities"]) if got["class_probabilities"] is not None else None
        out.append(
            PhotoOutcome(
                name,
                faces,
                probs_py,
                probs_br,
                p_py,
                got["probability"],
                ms_py,
                float(got["ms"]),
                stages_py,
                dict(got.get("screen_ms") or {}),
            )
        )
    return out


def verdict(
    outcomes: list[PhotoOutcome],
    card,
    runtime: str,
    gates: ParityThresholds | None = None,
    tolerance: DetectorTolerance | None = None,
    max_screening_diff: float | None = None,
) -> dict:
    """The converters' gate on the browser against Python: faces by ``tolerance``, flags by ``gates``
    (default: the converters' own defaults), and screening probabilities within ``max_screening_diff``
    (:func:`recorded_screening_bound`): flags alone let a preprocessing slip through whenever the
    verification faces lie far from the threshold."""
    gates = gates or ParityThresholds()
    tolerance = tolerance or DetectorTolerance()
    problems = []
    faces_differ = [o.name for o in outcomes if not faces_agree(o.faces, tolerance)]
    if faces_differ:
        problems.append(
            f"different faces found on {faces_differ[:5]} (allowed: IoU >= {tolerance.min_iou}, landmarks "
            f"within {tolerance.max_landmark_px} px)"
        )
    one_side = [o.name for o in outcomes if (o.p_python is None) != (o.p_browser is None)]
    if one_side:
        problems.append(f"screened on one side only: {one_side[:5]}")
    screened = [o for o in outcomes if o.probs_python is not None and o.probs_browser is not None]
    record: dict = {"runtime": runtime, "n_photos": len(outcomes), "n_screened": len(screened)}
    if not screened:
        problems.append("no photo was screened on both sides")
    else:
        # both sides' probabilities are after the card's temperature already
        a = agreement(
            np.array([o.probs_python for o in screened]),
            np.array([o.probs_browser for o in screened]),
            card.positive_indices,
            card.threshold,
        )
        problems += answer_problems(a, card, gates, max_screening_diff)
        record.update({k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(a).items()})
    ms_py = [o.ms_python for o in outcomes]
    ms_br = [o.ms_browser for o in outcomes]
    record["median_ms_browser"] = round(float(np.median(ms_br)), 1) if ms_br else None
    record["median_ms_python"] = round(float(np.median(ms_py)), 1) if ms_py else None
    record["stages_median_ms"] = stage_medians(outcomes)
    record["min_agreement"] = gates.min_agreement
    record["max_prob_diff_gate"] = gates.max_prob_diff
    record["max_screening_diff_gate"] = max_screening_diff
    record["detector_tolerance"] = asdict(tolerance)
    record["passed"] = not problems
    record["verdict"] = "; ".join(problems) if problems else "parity ok"
    return record


def answer_problems(a, card, gates: ParityThresholds, max_screening_diff: float | None) -> list[str]:
    """Why the browser's answers (``a``: its agreement with Python on the same artifact and faces) fail
    the gate: the converters' flag rule, and the screening bound (:func:`recorded_screening_bound`)."""
    problems = gate_problems(a, gates, card.threshold, reference="Python")
    if max_screening_diff is not None and a.max_abs_screening_diff > max_screening_diff:
        problems.append(
            f"max |screening probability difference| {a.max_abs_screening_diff:.4f} against Python on the "
            f"same artifact exceeds {max_screening_diff:.4f} (twice what the converters' gate recorded for "
            f"the artifact against Keras, plus one rounding step)"
        )
    return problems


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


COHORT_CSV = "cohort.csv"


def cohort_photos(folder: str | Path) -> dict[str, Path]:
    """The photos of a ``--parity`` folder by their names in it: its cohort.csv's, in that order, when
    it has one (the synthetic cohort's layout), else every photo under it (as the converters'
    ``--parity`` reads a folder). A FaceScreenError when it is no folder or holds no photo: checked
    when parsing (a missing folder was ``[Errno 2] ... cohort.csv``, a plain photo folder the same)."""
    root = Path(folder)
    if (root / COHORT_CSV).is_file():
        return {r["path"]: root / r["path"] for _, r in read_table(root / COHORT_CSV, ("path",)).rows}
    found = find_photos(root)
    if not found:
        raise FaceScreenError(f"{root} holds neither {COHORT_CSV} nor photos ({', '.join(PHOTO_SUFFIXES)})")
    return {p.relative_to(root).as_posix(): p for p in found}


def verification_set(cohort: Path | None = None, limit: int | None = None) -> dict[str, np.ndarray]:
    """The converters' detector verification photos, plus the first ``limit`` (all: None) photos of a
    cohort folder (:func:`cohort_photos`)."""
    from facescreen.edge.synthetic import verification_photos

    photos = verification_photos(n_synthetic=2, seed=21)
    if cohort is not None:
        named = list(cohort_photos(cohort).items())
        for name, path in named[:limit] if limit else named:
            photos[name] = load_photo(path)
    return photos


# float32 arithmetic in two runtimes (WASM vs native kernels) on an fp32 artifact, whose recorded
# difference from Keras can be 0 to the printed digits
FLOAT32_SLACK = 1e-4
# one step of an 8-bit probability: two runtimes of one int8 graph compute the same integer products
# but may round a requantised activation to neighbouring steps, and no int8 runtime resolves the
# screening probability finer than this (tflite-int8's int8 output has scale 1/256)
INT8_ROUNDING_SLACK = 1.0 / 256


def recorded_screening_bound(card, artifact: str) -> float | None:
    """How far the browser may be from Python on the same artifact: twice what the converters' gate
    recorded for it against Keras (``max_abs_screening_diff``), plus one rounding step of its precision
    (:data:`INT8_ROUNDING_SLACK`, :data:`FLOAT32_SLACK`).

    Why that figure: the runtime matrix (tests/test_runtime_matrix.py) holds every runtime of an artifact,
    the browser's included, within the recorded figure of Keras on the gate's faces, so any two lie within
    twice it of each other there. That holds for int8 only because both runtimes compute the same integer
    products: an ``onnx-int8`` whose weights could saturate the int16 pair sums of ONNX Runtime's x86
    kernels without VNNI answered differently on such a CPU than in WebAssembly (converters/to_onnx_int8.py
    now refuses to write one). On other photos (the verification set) the recorded figure is no bound on
    rounding, which is what is left between two exact runtimes: 0.00076 on the tablet tests' photos with a
    recorded figure of 0.00031 (2x + 1e-4 = 0.00072 refused it), hence the one-step slack. A preprocessing
    slip moves probabilities by far more (the planted double normalisation: 0.35).
    None for an artifact converted before the figure was recorded (the flag gate still holds)."""
    entry = card.artifacts.get(artifact, {})
    recorded = (entry.get("parity") or {}).get("max_abs_screening_diff")
    if recorded is None or recorded != recorded:  # absent, or nan for a target with no Keras reference
        return None
    slack = INT8_ROUNDING_SLACK if entry.get("precision") == "int8" else FLOAT32_SLACK
    return 2.0 * float(recorded) + slack


def verify_app(app_dir: Path, app: dict, bundle_dir: Path, photos: dict[str, np.ndarray] | None = None) -> dict:
    """The parity record for an assembled app (see :func:`kiosk.tablet.export.export_app`)."""
    screener = python_reference(bundle_dir, app["runtime"])
    photos = photos if photos is not None else verification_set()
    with static_server(app_dir) as url, Chrome() as chrome:
        try:
            open_in_browser(chrome, url)
        except PageError as exc:  # the runtime cannot even open the artifacts: refused, with the reason
            return {
                "runtime": app["runtime"],
                "passed": False,
                "verdict": f"{app['runtime']} could not open the bundle's artifacts in Chromium: {exc}",
            }
        outcomes = compare_photos(chrome, screener, photos)
    bound = recorded_screening_bound(screener.card, screener.backend.artifact)
    record = verdict(outcomes, screener.card, app["runtime"], max_screening_diff=bound)
    record["photos"] = [asdict(o) for o in outcomes]
    return record
