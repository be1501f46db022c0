"""The browser's distance to native, measured: the bundle's ONNX screener graphs on the same aligned
faces through ONNX Runtime Web in headless Chromium (WebAssembly, and WebGPU where the browser has
an adapter) and through ONNX Runtime in Python, timed, and the answers held to the gate rule.

Why: issue 23 wants each browser stage within 2x of Python. The parity record times the app's own
stages (detect, align, infer); only the same graph on both sides says how much of the infer gap is
the runtime and the instruction set (128-bit WebAssembly SIMD against the machine's AVX-512 or VNNI)
rather than our code. It also says whether an execution provider answers like Python at all: the
app offers a provider only after the gate (kiosk/tablet/export.py), and this is how one is tried.

  python -m facescreen.kiosk.tablet.gap --bundle B [--webgpu swiftshader] [--runs 10] [--json out.json]

``--webgpu swiftshader`` gives Chromium its software WebGPU adapter (no GPU here): it checks the
provider's arithmetic, not its speed. The faces are the converters' verification photos (two
sample photos and synthetic subjects), aligned by the bundle's detector: no clinical photo.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from facescreen.edge import create_screener, load_bundle
from facescreen.edge.backends import backend_spec, open_backend
from facescreen.edge.bench.machine import machine_info
from facescreen.edge.detectors.mtcnn_lite import MtcnnLiteDetector
from facescreen.edge.errors import NoFaceError
from facescreen.edge.metrics import ParityThresholds, agreement
from facescreen.edge.synthetic import verification_photos

from ..tools.browser import Chrome
from .export import WEB_DIR
from .parity import answer_problems, b64_pixels, module_call, recorded_screening_bound, static_server
from .runtimes import browser_runtime, node_modules, package_version

PYTHON_BACKEND = "onnxruntime"
WEB_RUNTIME = "onnxruntime-web"  # kiosk/tablet/runtimes.py's row: the npm package it comes from
# ONNX Runtime Web's builds, by provider: the app's WebAssembly-only build, and the full one with WebGPU
ORT_BUILDS = {"wasm": "ort/ort.wasm.min.mjs", "webgpu": "ort/ort.min.mjs"}
WEBGPU_ADAPTERS = ("default", "swiftshader")
WEBNN_SWITCH = "--enable-features=WebMachineLearningNeuralNetwork"


def aligned_faces(bundle_dir: Path) -> tuple[list[str], np.ndarray]:
    """The verification photos' faces, aligned as the Python edge path aligns them."""
    det = MtcnnLiteDetector(bundle_dir / "detector", runtime=PYTHON_BACKEND)
    screener = create_screener(bundle_dir, backend=PYTHON_BACKEND, detector=det)
    names, crops = [], []
    for name, rgb in verification_photos().items():
        try:
            crops.append(screener.prepare(rgb).aligned.image)
        except NoFaceError:
            continue
        names.append(name)
    return names, np.stack(crops)


def python_side(bundle, artifacts: list[str], faces: np.ndarray, runs: int) -> dict:
    out = {}
    for art in artifacts:
        backend = open_backend(bundle, backend=PYTHON_BACKEND, artifact=art)
        backend.run(faces[:1].astype(np.float32))  # warm-up, as the browser side's
        ms, probs = [], []
        for face in faces:
            x = face[None].astype(np.float32)
            for _ in range(runs):
                t0 = time.perf_counter()
                p, _cam = backend.run(x)
                ms.append((time.perf_counter() - t0) * 1e3)
            probs.append(p[0].tolist())
        out[art] = {"median_ms": statistics.median(ms), "probs": probs, "runtime": backend.runtime}
    return out


def browser_side(bundle, artifacts: list[str], faces: np.ndarray, runs: int, ep: str, adapter: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="facescreen-gap-") as tmp:
        root = Path(tmp)
        (root / "ort").symlink_to(node_modules() / browser_runtime(WEB_RUNTIME).package / "dist")
        (root / "gap.js").symlink_to(Path(__file__).with_name("gap.js"))
        (root / "runtime.js").symlink_to(WEB_DIR / "core" / "runtime.js")  # gap.js takes the app's rules from it
        models = {}
        for art in artifacts:
            (root / f"{art}.onnx").symlink_to(bundle.artifact_path(art).resolve())  # make bench names a relative bundle
            models[art] = f"{art}.onnx"
        # WebNN is behind a switch in Chromium; asked for here so that the record says what it offers
        flags = [WEBNN_SWITCH] + ([] if adapter in (None, "default") else [f"--use-webgpu-adapter={adapter}"])
        with static_server(root) as url, Chrome(gpu=ep == "webgpu", flags=flags) as chrome:
            chrome.get(url)  # the folder's listing: a page with the server's isolation headers
            return module_call(
                chrome,
                "gap.js",
                "measure",
                ORT_BUILDS[ep],
                ep,
                models,
                [b64_pixels(f) for f in faces],
                bundle.card.input.size,
                runs,
            )


def compare(bundle, py: dict, br: dict) -> dict:
    """Each graph: browser over Python time, and the browser's answers through the gate rule (flags)
    as the tablet export holds them (:func:`kiosk.tablet.parity.answer_problems`)."""
    card = bundle.card
    rows = {}
    for art, ref in py.items():
        got = br["models"].get(art, {"error": "not run (no adapter)"})
        row = {"python_ms": round(ref["median_ms"], 2), "python_runtime": ref["runtime"]}
        if "error" in got:
            rows[art] = {**row, "error": got["error"]}
            continue
        probs = np.array(ref["probs"]), np.array(got["probs"])
        a = agreement(*probs, card.positive_indices, card.threshold, temperature=card.temperature)
        problems = answer_problems(a, card, ParityThresholds(), recorded_screening_bound(card, art))
        rows[art] = {
            **row,
            "browser_ms": round(got["median_ms"], 2),
            "ratio": round(got["median_ms"] / ref["median_ms"], 2),
            "flag_agreement": a.flag_agreement,
            "max_abs_screening_diff": round(a.max_abs_screening_diff, 6),
            "verdict": "; ".join(problems) if problems else "answers as Python",
        }
    return rows


def run(bundle_dir: Path, runs: int = 10, webgpu: str | None = None) -> dict:
    bundle = load_bundle(bundle_dir)
    artifacts = bundle.artifacts_of(backend_spec(PYTHON_BACKEND).format)
    if not artifacts:
        raise SystemExit(f"error: {bundle_dir} has no ONNX screener artifact (facescreen-convert --to onnx-int8)")
    # the version tablet/package.json pins, or why there is none (run `make tablet`)
    web_version = package_version(browser_runtime(WEB_RUNTIME))
    names, faces = aligned_faces(Path(bundle_dir))
    py = python_side(bundle, artifacts, faces, runs)
    record = {
        "machine": machine_info(),
        "bundle": str(bundle_dir),
        "onnxruntime_web": web_version,
        "faces": names,
        "runs_per_face": runs,
    }
    for ep in ("wasm", "webgpu") if webgpu else ("wasm",):
        br = browser_side(bundle, artifacts, faces, runs, ep, webgpu)
        record[ep] = {
            "threads": br["threads"],
            "cross_origin_isolated": br["isolated"],
            "adapter": br["adapter"],
            "graphs": compare(bundle, py, br),
        }
        record["webnn"] = br["webnn"]
    return record


def graph_said(row: dict) -> str:
    """One graph's row of a record in words (this tool's printout and make bench's [tablet] section)."""
    if "error" in row:
        return f"not run: {row['error']}"
    return f"{row['browser_ms']:.1f} ms vs Python {row['python_ms']:.1f} ms ({row['ratio']:.2f}x); {row['verdict']}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m facescreen.kiosk.tablet.gap", description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", required=True, help="a bundle with ONNX screener artifacts and the converted detector")
    p.add_argument("--runs", type=int, default=10, help="timed runs per face and side (default 10)")
    p.add_argument("--webgpu", choices=WEBGPU_ADAPTERS, default=None, help="also try the WebGPU provider")
    p.add_argument("--json", default=None, metavar="OUT", help="write the record here as well")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    record = run(Path(args.bundle), args.runs, args.webgpu)
    text = json.dumps(record, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    for ep in ("wasm", "webgpu"):
        for art, row in record.get(ep, {}).get("graphs", {}).items():
            print(f"{ep:7s} {art:10s} {graph_said(row)}")
    print(f"webnn   {record['webnn']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
