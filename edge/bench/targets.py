"""Per-target measurements. Each runs in its own spawned process (see runner.py), so peak memory
is that target's and a target that crashes yields a failed row instead of ending the table."""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, dataclass

import numpy as np

from .measure import DEFAULT_MAX_VARIATION_PCT, Timing, peak_rss_mb, time_calls


@dataclass(frozen=True)
class BenchSettings:
    threads: int = 2
    warmup: int = 5
    repeat: int = 50  # single-stream queries, at least
    min_seconds: float = 2.0  # single-stream duration, at least
    batch: int = 8  # the largest batch tried for offline throughput
    max_variation_pct: float = DEFAULT_MAX_VARIATION_PCT

    def to_dict(self) -> dict:
        return asdict(self)


def offline_batches(largest: int) -> list[int]:
    """Batch sizes tried for offline throughput: powers of two up to ``largest``, and ``largest``."""
    sizes = [1]
    while sizes[-1] * 2 <= largest:
        sizes.append(sizes[-1] * 2)
    return sizes if sizes[-1] == largest else sizes + [largest]


def single_stream(timing: Timing, settings: BenchSettings, prefix: str = "") -> dict:
    """A Timing's row fields, with its variation warning (None when steady)."""
    return {
        **timing.to_dict(prefix),
        f"{prefix}variation_warning": timing.variation_warning(settings.max_variation_pct),
    }


def measure_model(bundle_dir: str, artifact: str, faces_npz: str, settings: dict) -> dict:
    """Latency, throughput, memory and outputs of one artifact on aligned faces."""
    s = BenchSettings(**settings)
    row: dict = {"artifact": artifact}
    try:
        from ..backends import open_backend
        from ..bundle import load_bundle
        from ..screener import Screener

        bundle = load_bundle(bundle_dir, verify=False)
        entry = bundle.card.artifacts[artifact]
        faces = np.load(faces_npz)["faces"]
        rss0 = peak_rss_mb()
        t0 = time.perf_counter()
        backend = open_backend(bundle, artifact=artifact, threads=s.threads)
        row.update(
            backend=backend.name,
            runtime=backend.runtime,
            precision=entry.get("precision", "?"),
            size_mb=entry.get("size_bytes", 0) / 2**20,
            load_ms=(time.perf_counter() - t0) * 1e3,
        )
        one = faces[:1].astype(np.float32)
        # compute only: the runtime's own call on a prepared float32 batch of one
        lat = time_calls(lambda: backend.run(one), s.warmup, s.repeat, s.min_seconds)
        # end to end from an aligned crop: conversion, inference, temperature, probability and CAM
        screener = Screener(bundle, backend, detector=None)
        scr = time_calls(lambda: screener.screen_aligned(faces[0]), s.warmup, s.repeat, s.min_seconds)
        offline = {}
        for size in offline_batches(s.batch):
            reps = int(np.ceil(size / len(faces)))
            batch = np.concatenate([faces] * reps)[:size].astype(np.float32)
            thr = time_calls(lambda batch=batch: backend.run(batch), 1, max(3, s.repeat // 10))
            offline[size] = size / (thr.mean_ms / 1e3)
        best = max(offline, key=offline.get)
        probs = np.concatenate([backend.run(faces[i : i + 1].astype(np.float32))[0] for i in range(len(faces))])
        row.update(
            status="ok",
            warmup=s.warmup,
            **single_stream(lat, s),
            **single_stream(scr, s, "e2e_"),
            screener_overhead_pct=100.0 * (scr.p50_ms - lat.p50_ms) / lat.p50_ms,
            batch=best,
            images_per_s=offline[best],
            offline_images_per_s={str(k): v for k, v in offline.items()},
            peak_mem_mb=peak_rss_mb(),
            mem_growth_mb=peak_rss_mb() - rss0,
            probs=probs.tolist(),
        )
    except Exception as exc:  # a failing target is a row with its reason, not a crash of the table
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc(limit=3))
    return row


def measure_detectors(frames_npz: str, names: list[str], bundle_dir: str, settings: dict) -> dict:
    """The mtcnn package and the converted cascade on the same frames: latency and agreement."""
    s = BenchSettings(**settings)
    frames = np.load(frames_npz)["frames"]
    out: dict = {"frame_shape": list(frames.shape[1:3]), "n_frames": len(frames), "rows": []}
    found: dict[str, list] = {}
    for name in names:
        row: dict = {"detector": name}
        try:
            from ..detect import create_detector

            t0 = time.perf_counter()
            det = create_detector(name, bundle_dir, threads=s.threads)
            row["load_ms"] = (time.perf_counter() - t0) * 1e3
            found[name] = [det.detect(f) for f in frames]
            samples = []
            for _ in range(max(1, s.repeat // max(1, len(frames)) // 2)):
                for f in frames:
                    t = time.perf_counter()
                    det.detect(f)
                    samples.append(time.perf_counter() - t)
            row.update(
                status="ok",
                **single_stream(Timing.of(samples), s),
                faces_per_frame=float(np.mean([len(f) for f in found[name]])),
            )
        except Exception as exc:
            row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        out["rows"].append(row)
    if "mtcnn" in found and "mtcnn-lite" in found:
        out["agreement"] = detector_agreement(found["mtcnn"], found["mtcnn-lite"])
    return out


def detector_agreement(ref: list, other: list) -> dict:
    """Per frame, how the converted cascade agrees with the reference (edge.detect.compare_faces)."""
    from ..detect import compare_faces

    per_frame = [compare_faces(r, o) for r, o in zip(ref, other)]
    return {
        "frames": len(per_frame),
        "same_face_count": sum(c["n_reference"] == c["n_converted"] for c in per_frame),
        "min_iou": float(min((c["min_iou"] for c in per_frame), default=0.0)),
        "max_landmark_px": float(max((c["max_landmark_px"] for c in per_frame), default=float("inf"))),
    }


def smallest_face_agreement(detector, photos: list[np.ndarray], config) -> dict:
    """The photo path's detection (``config``, e.g. edge.detect.PHOTO_DETECT) against the whole
    pyramid (DetectConfig(), what every photo got before) on the same photos: the subject each
    screens (IoU, landmark distance), the photos where only one finds a subject, and each one's
    detection time."""
    from ..detect import DetectConfig, box_iou, detect_faces, subject_first

    ious, px, only_full, only_photo, t_full, t_photo = [], [], 0, 0, [], []
    for rgb in photos:
        t0 = time.perf_counter()
        full = subject_first(detect_faces(rgb, detector, DetectConfig()))
        t1 = time.perf_counter()
        mine = subject_first(detect_faces(rgb, detector, config))
        t_full.append(t1 - t0)
        t_photo.append(time.perf_counter() - t1)
        if full and mine:
            ious.append(box_iou(full[0].box, mine[0].box))
            px.append(float(np.linalg.norm(full[0].landmarks - mine[0].landmarks, axis=1).max()))
        only_full += bool(full) and not mine
        only_photo += bool(mine) and not full
    return {
        "photos": len(photos),
        "both_found": len(ious),
        "only_whole_pyramid": only_full,
        "only_photo_config": only_photo,
        "min_iou": float(min(ious, default=0.0)),
        "median_iou": float(np.median(ious)) if ious else None,
        "max_landmark_px": float(max(px, default=float("inf"))),
        "median_landmark_px": float(np.median(px)) if px else None,
        "whole_pyramid": Timing.of(t_full).to_dict(),
        "photo_config": Timing.of(t_photo).to_dict(),
    }


def measure_pipeline(bundle_dir: str, artifact: str, jpegs_npz: str, settings: dict) -> dict:
    """Photo in, flag out: decode + detect (converted cascade) + align + inference + CAM."""
    s = BenchSettings(**settings)
    row: dict = {"artifact": artifact, "detector": "mtcnn-lite"}
    try:
        from ..photo import load_photo
        from ..screener import create_screener

        data = np.load(jpegs_npz, allow_pickle=False)
        jpegs = [bytes(b) for b in data["jpegs"]]
        screener = create_screener(bundle_dir, artifact=artifact, threads=s.threads, detector="auto")
        row["detector"] = screener.detector.name
        for j in jpegs[: s.warmup]:
            screener.screen(j)
        totals, parts = [], []
        for _ in range(max(1, s.repeat // len(jpegs))):
            for j in jpegs:
                t0 = time.perf_counter()
                r = screener.screen(j)
                totals.append(time.perf_counter() - t0)
                parts.append(r.timings_ms)
        row.update(
            status="ok",
            frame=data["shape"].tolist(),
            **single_stream(Timing.of(totals), s),
            breakdown_p50_ms={k: float(np.median([p[k] for p in parts])) for k in parts[0]},
            detect_config=asdict(screener.align_config.detect),
            smallest_face=smallest_face_agreement(
                screener.detector, [load_photo(j) for j in jpegs], screener.align_config.detect
            ),
        )
    except Exception as exc:
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    return row


def measure_cold_start(bundle_dir: str, artifact: str, faces_npz: str, threads: int, timeout_s: float = 600) -> dict:
    """New process to first result (see cold.py): one run, so ``cold_start_n`` is 1."""
    import json
    import subprocess
    import sys
    import tempfile

    cmd = [sys.executable, "-m", "facescreen.edge.bench.cold", bundle_dir, artifact, faces_npz, str(threads)]
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            line = proc.stdout.readline()  # the child prints it the moment its first result exists
            wall_ms = (time.perf_counter() - t0) * 1e3
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return {"cold_start_error": f"no result within {timeout_s:.0f} s"}
        finally:
            proc.stdout.close()
        if proc.returncode != 0 or not line:
            err.seek(0)
            return {"cold_start_error": f"exit {proc.returncode}: {err.read()[-400:].strip()}"}
    parts = json.loads(line)
    parts = {"startup": wall_ms - sum(parts.values()), **parts}  # interpreter and imports
    return {"cold_start_ms": wall_ms, "cold_start_n": 1, "cold_start_parts_ms": parts}
