"""Run the cross-target benchmark: every artifact this machine can run, the detectors, and the
whole photo-in/flag-out path. Returns data (a dict); report.py prints and writes it."""

from __future__ import annotations

import io
import multiprocessing as mp
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..backends import choose_artifact
from ..bundle import Bundle, load_bundle
from ..detect import DETECTORS
from ..errors import FaceScreenError
from ..metrics import agreement
from ..photo import PHOTO_SUFFIXES, find_photos
from .machine import machine_info, run_context
from .measure import MLPERF_SINGLE_STREAM, matmul_peak_gflops, onnxruntime_gemm_peaks, onnxruntime_op_profile
from .sections import discover_sections
from .targets import BenchSettings, measure_cold_start, measure_detectors, measure_model, measure_pipeline

SCHEMA = "facescreen-bench/2"
# issue 23 §3: an int8 target below this share of the measured int8 GEMM peak gets a per-op profile
INT8_SHARE_TARGET_PCT = 40.0
FRAME_SIZE = (640, 480)  # width, height: a kiosk/tablet camera frame


@dataclass(frozen=True)
class BenchConfig:
    bundle: Path
    photos: Path
    settings: BenchSettings = field(default_factory=BenchSettings)
    artifacts: tuple[str, ...] | None = None  # default: every artifact this machine can run
    n_faces: int = 24
    n_frames: int = 6
    detectors: bool = True
    pipeline: bool = True
    sections: bool = True  # the sections other packages contribute (see sections.py)
    cold_start: bool = True  # time each target from a new process to its first result


def runnable_artifacts(bundle: Bundle) -> tuple[list[str], dict[str, str]]:
    ok, skipped = [], {}
    for name in bundle.card.artifacts:
        try:
            choose_artifact(bundle, artifact=name)
            ok.append(name)
        except FaceScreenError as exc:
            skipped[name] = str(exc)
    return ok, skipped


def bench_photos(folder: str | Path) -> list[Path]:
    """The photos under ``folder`` (sub-folders too), or an error that names the suffixes looked for."""
    files = find_photos(folder)
    if not files:
        raise FaceScreenError(f"no photos ({', '.join(PHOTO_SUFFIXES)}) under {folder}")
    return files


def to_frame(rgb: np.ndarray) -> np.ndarray:
    """Letterbox a photo into a 640x480 camera frame."""
    w, h = FRAME_SIZE
    s = min(w / rgb.shape[1], h / rgb.shape[0])
    small = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA)
    frame = np.full((h, w, 3), 96, np.uint8)
    y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    return frame


def prepare_inputs(cfg: BenchConfig, bundle: Bundle, work: Path) -> dict[str, str]:
    """Aligned faces (the one pipeline), 640x480 frames and their JPEG bytes, saved for the workers."""
    from PIL import Image

    from ..photo import load_photo
    from ..pipeline import AlignConfig, prepare_face
    from ..screener import default_detector

    detector = default_detector(bundle, cfg.settings.threads)
    align = AlignConfig(size=bundle.card.input.size, template=bundle.card.alignment)
    faces, frames = [], []
    for path in bench_photos(cfg.photos):
        if len(faces) >= cfg.n_faces and len(frames) >= cfg.n_frames:
            break
        try:
            faces.append(prepare_face(path, detector, align).aligned.image)
        except FaceScreenError:
            continue
        if len(frames) < cfg.n_frames:
            frames.append(to_frame(load_photo(path)))
    if not faces:
        raise FaceScreenError(f"no face could be aligned from the photos under {cfg.photos}")
    jpegs = []
    for f in frames:
        buf = io.BytesIO()
        Image.fromarray(f).save(buf, "JPEG", quality=90)
        jpegs.append(np.frombuffer(buf.getvalue(), np.uint8))
    paths = {"faces": str(work / "faces.npz"), "frames": str(work / "frames.npz"), "jpegs": str(work / "jpegs.npz")}
    np.savez(paths["faces"], faces=np.stack(faces))
    np.savez(paths["frames"], frames=np.stack(frames))
    longest = max(len(j) for j in jpegs)
    padded = np.stack([np.pad(j, (0, longest - len(j))) for j in jpegs])  # JPEG decoders ignore trailing bytes
    np.savez(paths["jpegs"], jpegs=padded, shape=np.array([FRAME_SIZE[1], FRAME_SIZE[0]]))
    return paths


def _in_subprocess(fn: Callable, *args) -> dict:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        try:
            return pool.apply(fn, args)
        except Exception as exc:  # the worker died (e.g. a runtime segfault)
            return {"status": "failed", "error": f"worker crashed: {type(exc).__name__}: {exc}"}


def reference_artifact(bundle: Bundle, runnable: list[str]) -> str | None:
    """The Keras model when this machine runs it, else the best fp32 artifact."""
    for name in ["keras"] + [a for a in runnable if bundle.card.artifacts[a].get("precision") == "fp32"]:
        if name in runnable:
            return name
    return None


def parity_note(reference: str | None, n_faces: int | None = None) -> dict:
    """What the parity columns were measured against, and on how many faces, in words for the report:
    an int8 row's agreement below 1 beside "ok" is the bench's few faces, not the converters' gate,
    which decided on its own held-out set."""
    on = (
        f" on the bench's {n_faces} aligned faces ('agree': the share keeping their screening flag; the "
        "converters' gate decided on its own held-out faces)"
        if n_faces
        else ""
    )
    if reference is None:
        return {
            "measured": False,
            "reference": None,
            "note": "parity not measured: no Keras model or fp32 artifact ran",
        }
    if reference != "keras":
        return {
            "measured": True,
            "reference": reference,
            "note": f"parity against {reference} (fp32){on}; parity with the Keras model was not measured (it did "
            "not run)",
        }
    return {"measured": True, "reference": "keras", "note": f"parity against the Keras model{on}"}


def add_parity(rows: list[dict], bundle: Bundle, reference: str | None) -> int | None:
    """Max probability difference and screening-flag agreement of each row against the reference;
    returns the number of faces compared (None when the reference gave no probabilities)."""
    probs = {r["artifact"]: np.asarray(r.pop("probs")) for r in rows if "probs" in r}
    for r in rows:
        r.pop("trace", None)
    if reference not in probs:
        return None
    for r in rows:
        if r["artifact"] in probs:
            a = agreement(probs[reference], probs[r["artifact"]], bundle.card.positive_indices, bundle.card.threshold)
            r.update(reference=reference, max_prob_diff=a.max_abs_prob_diff, flag_agreement=a.flag_agreement)
    return len(probs[reference])


def run_benchmark(cfg: BenchConfig, log: Callable[[str], None] = print) -> dict:
    context = run_context()  # first: the load average before this run adds its own
    bundle = load_bundle(cfg.bundle)
    runnable, skipped = runnable_artifacts(bundle)
    if cfg.artifacts:
        unknown = [a for a in cfg.artifacts if a not in bundle.card.artifacts]
        if unknown:
            raise FaceScreenError(f"bundle has no artifact(s) {unknown}; it has {list(bundle.card.artifacts)}")
        skipped.update({a: "not selected" for a in runnable if a not in cfg.artifacts})
        runnable = [a for a in runnable if a in cfg.artifacts]
    reference = reference_artifact(bundle, runnable)
    ordered = ([reference] if reference else []) + [a for a in runnable if a != reference]
    flops = next((a["flops_per_image"] for a in bundle.card.artifacts.values() if "flops_per_image" in a), None)
    with tempfile.TemporaryDirectory() as tmp:
        log(f"preparing inputs from {cfg.photos} ...")
        inputs = prepare_inputs(cfg, bundle, Path(tmp))
        log("measuring the matmul peak ...")
        peak = matmul_peak_gflops()
        log("measuring ONNX Runtime's fp32 and int8 GEMM peaks ...")
        gemm = onnxruntime_gemm_peaks(threads=cfg.settings.threads)
        rows = []
        for name in ordered:
            log(f"measuring {name} ...")
            row = _in_subprocess(measure_model, str(cfg.bundle), name, inputs["faces"], cfg.settings.to_dict())
            row.setdefault("artifact", name)
            if cfg.cold_start and row.get("status") == "ok":
                log(f"measuring {name}'s cold start ...")
                row.update(measure_cold_start(str(cfg.bundle), name, inputs["faces"], cfg.settings.threads))
            if flops and row.get("status") == "ok":
                row["gflops_per_s"] = flops / (row["p50_ms"] / 1e3) / 1e9
                row["pct_of_matmul_peak"] = 100.0 * row["gflops_per_s"] / peak
                if row.get("precision") == "int8" and gemm.get("int8_gops"):
                    row["pct_of_int8_peak"] = 100.0 * row["gflops_per_s"] / gemm["int8_gops"]
                    if (
                        row["pct_of_int8_peak"] < INT8_SHARE_TARGET_PCT
                        and bundle.card.artifacts[name].get("format") == "onnx"
                    ):
                        log(f"profiling {name} per operator (below {INT8_SHARE_TARGET_PCT:.0f}% of the int8 peak) ...")
                        row["op_profile"] = onnxruntime_op_profile(
                            str(bundle.artifact_path(name)), cfg.settings.threads
                        )
            rows.append(row)
        n_parity_faces = add_parity(rows, bundle, reference)
        detectors = None
        if cfg.detectors:
            names = DETECTORS.names()  # every registered one; one that cannot be built here is a failed row
            log(f"measuring detectors {names} ...")
            detectors = _in_subprocess(
                measure_detectors, inputs["frames"], names, str(cfg.bundle), cfg.settings.to_dict()
            )
        pipeline = []
        if cfg.pipeline:
            int8 = [a for a in ordered if bundle.card.artifacts[a].get("precision") == "int8"]
            for name in int8 or ordered[:1]:
                log(f"measuring photo-in/flag-out with {name} ...")
                pipeline.append(
                    _in_subprocess(measure_pipeline, str(cfg.bundle), name, inputs["jpegs"], cfg.settings.to_dict())
                )
        sections: dict[str, dict] = {}
        if cfg.sections:
            found = discover_sections()
            for name, why in found.errors.items():
                sections[name] = {"status": "failed", "error": f"the section could not be loaded: {why}"}
            for name, section in found.sections.items():
                log(f"measuring the {name} section ...")
                sections[name] = _in_subprocess(section.measure, str(cfg.bundle), inputs, cfg.settings.to_dict())
    return {
        "schema": SCHEMA,
        "machine": machine_info(),
        "context": context,
        "settings": {
            **cfg.settings.to_dict(),
            "artifacts": [r["artifact"] for r in rows],
            "detectors": cfg.detectors,
            "pipeline": cfg.pipeline,
            "sections": sorted(sections),
            "cold_start": cfg.cold_start,
            "photos": str(cfg.photos),
            "n_faces": cfg.n_faces,
            "n_frames": cfg.n_frames,
        },
        "single_stream_rule": {
            "queries_at_least": cfg.settings.repeat,
            "seconds_at_least": cfg.settings.min_seconds,
            "mlperf": MLPERF_SINGLE_STREAM,
            "meets_mlperf": all(
                r.get("n", 0) >= MLPERF_SINGLE_STREAM["min_queries"]
                and r.get("seconds", 0) >= MLPERF_SINGLE_STREAM["min_seconds"]
                for r in rows
                if r.get("status") == "ok"
            ),
        },
        "bundle": {
            "path": str(cfg.bundle),
            "model_id": bundle.card.model_id,
            "backbone": bundle.card.backbone,
            "input_size": bundle.card.input.size,
            "flops_per_image": flops,
            "training_data": bundle.card.training_data.get("kind", "unknown"),
        },
        "matmul_peak_gflops": peak,
        "runtime_gemm_peaks": gemm,
        "reference": reference,
        "parity": parity_note(reference, n_parity_faces),
        "models": rows,
        "skipped": skipped,
        "detectors": detectors,
        "pipeline": pipeline,
        "sections": sections,
    }
