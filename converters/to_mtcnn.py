"""Targets ``mtcnn-tflite`` and ``mtcnn-onnx``: the mtcnn package's P-Net, R-Net and O-Net, converted
for :class:`edge.detectors.mtcnn_lite.MtcnnLiteDetector`, so a tablet or kiosk needs no TensorFlow.

P-Net is converted ONCE with a dynamic (N, H, W, 3) input rather than one model per pyramid scale:
its scales depend on each photo's size, so per-scale models would have to be rebuilt per photo size
(or the photo resized to a fixed frame, which changes the detections); both LiteRT
(``resize_tensor_input``) and ONNX Runtime run it at any size, and the LiteRT runner keeps one allocated
interpreter per shape (up to a pixel bound) so a fixed camera frame pays the allocation once. R-Net and O-Net take a
dynamic batch of 24x24 / 48x48 crops, so each stage is one call.

The converted cascade is checked against the package on real photos before anything is written.
"""

from __future__ import annotations

import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from facescreen.edge.detect import (  # noqa: F401 (re-exported)
    LANDMARK_NAMES,
    DetectorTolerance,
    FaceDetection,
    box_iou,
    compare_faces,
    faces_agree,
)
from facescreen.edge.detectors.mtcnn_manifest import INPUT_SHAPES, NETS, OUTPUT_ROLES
from facescreen.edge.detectors.mtcnn_nets import RUNTIME_FORMAT
from facescreen.edge.synthetic import verification_photos

FORMAT_RUNTIME = {fmt: runtime for runtime, fmt in RUNTIME_FORMAT.items()}


def package_networks() -> dict:
    """The package's three Keras networks with its shipped weights (``mtcnn/assets/weights``)."""
    from mtcnn.network.onet import ONet
    from mtcnn.network.pnet import PNet
    from mtcnn.network.rnet import RNet
    from mtcnn.utils.tensorflow import load_weights

    nets = {}
    for name, cls in (("pnet", PNet), ("rnet", RNet), ("onet", ONet)):
        model = cls()
        model.build()
        model.set_weights(load_weights(f"{name}.lz4"))
        nets[name] = model
    return nets


def _named_outputs(net: str, model):
    roles = OUTPUT_ROLES[net]

    def fn(image):
        outs = model(image)
        return {roles[int(o.shape[-1])]: o for o in outs}

    return fn


def convert_networks(fmt: str, suffix: str, out_dir: Path, workdir: Path) -> dict[str, Path]:
    """Write ``pnet``/``rnet``/``onet`` in ``fmt`` into ``out_dir``; returns their paths."""
    from .tf_export import onnx_from_function, tflite_converter, write_saved_model
    from .to_onnx import OPSET

    nets = package_networks()
    paths = {}
    for name in NETS:
        model, shape = nets[name], [None if d == -1 else d for d in INPUT_SHAPES[name]]
        fn = _named_outputs(name, model)
        path = out_dir / f"{name}{suffix}"
        if fmt == "tflite":
            sm = write_saved_model(model, fn, shape, workdir / f"{name}_savedmodel")
            path.write_bytes(tflite_converter(sm).convert())
        elif fmt == "onnx":
            import onnx

            proto = onnx_from_function(fn, shape, sorted(OUTPUT_ROLES[name].values()), opset=OPSET)
            onnx.checker.check_model(proto, full_check=True)
            onnx.save(proto, str(path))
        else:
            raise ValueError(f"unknown detector format {fmt!r}; expected one of {sorted(FORMAT_RUNTIME)}")
        paths[name] = path
    return paths


# -- verification against the package -----------------------------------------------------------


def median_ms(fn, arg, repeats: int) -> float:
    fn(arg)  # warm-up (first-shape allocation)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def verify_cascade(
    model_dir: Path,
    fmt: str,
    reference,
    photos: dict[str, np.ndarray],
    tolerance: DetectorTolerance,
    timing_repeats: int = 5,
) -> dict:
    """Run the converted cascade through the real edge detector and compare it with ``reference``
    (the package detector) photo by photo; latency on the 640x480 frame for both."""
    from facescreen.edge.detectors.mtcnn_lite import MtcnnLiteDetector

    lite = MtcnnLiteDetector(model_dir, runtime=FORMAT_RUNTIME[fmt])
    per_photo, ok = {}, True
    for name, rgb in photos.items():
        cmp = compare_faces(reference.detect(rgb), lite.detect(rgb))
        cmp["ok"] = faces_agree(cmp, tolerance) and cmp["n_reference"] > 0
        ok &= cmp["ok"]
        per_photo[name] = cmp
    frame = photos.get("astronaut_640x480")
    timing = {}
    if frame is not None and timing_repeats:
        timing = {
            "frame": "640x480",
            "package_ms": round(median_ms(reference.detect, frame, timing_repeats), 2),
            "converted_ms": round(median_ms(lite.detect, frame, timing_repeats), 2),
            "runtime": lite.runtime,
        }
        timing["speedup"] = round(timing["package_ms"] / timing["converted_ms"], 2)
    return {
        "ok": ok,
        "runtime": lite.runtime,
        "tolerance": {"min_iou": tolerance.min_iou, "max_landmark_px": tolerance.max_landmark_px},
        "photos": per_photo,
        "latency": timing,
        "landmark_order": list(LANDMARK_NAMES),
    }


def source_info() -> dict:
    from importlib.resources import files

    from facescreen.edge.bundle import sha256_file

    weights = files("mtcnn.assets.weights")
    return {
        "package": "mtcnn",
        "version": version("mtcnn"),
        "weights_sha256": {n: sha256_file(Path(str(weights / f"{n}.lz4"))) for n in NETS},
    }


# -- the target: build, verify, commit ----------------------------------------------------------


def build(ctx, target, stage: Path) -> dict:
    """Convert the three networks into ``stage`` with a staging manifest (files and SHA-256)."""
    from facescreen.edge.detectors.mtcnn_manifest import MtcnnManifest, net_file, save_manifest

    paths = convert_networks(target.format, target.suffix, stage, ctx.workdir / f"{target.name}-tf")
    formats = {target.format: {n: net_file(stage, p.name, INPUT_SHAPES[n]) for n, p in paths.items()}}
    save_manifest(stage, MtcnnManifest(formats=formats))
    return {"size_bytes": sum(p.stat().st_size for p in paths.values())}


def verify(stage: Path, target, options) -> dict:
    """The staged cascade (through the edge detector) against the mtcnn package, photo by photo."""
    from facescreen.edge.detect import create_detector

    check = verify_cascade(
        stage,
        target.format,
        create_detector("mtcnn"),
        verification_photos(options.detector_photos),
        DetectorTolerance(),
        options.detector_timing_repeats,
    )
    check["summary"] = {
        "min_iou": min(v["min_iou"] for v in check["photos"].values()),
        "max_landmark_px": max(v["max_landmark_px"] for v in check["photos"].values()),
        **check["latency"],
    }
    return check


def commit(stage: Path, dest: Path, target, check: dict) -> Path:
    """Move the verified networks into ``dest`` and merge their entry into its manifest (another
    format already there stays)."""
    import datetime as _dt
    import os

    from facescreen.edge.bundle import software_version
    from facescreen.edge.detectors.mtcnn_cascade import CascadeConfig
    from facescreen.edge.detectors.mtcnn_manifest import MANIFEST, MtcnnManifest, load_manifest, save_manifest

    staged = load_manifest(stage)
    dest.mkdir(parents=True, exist_ok=True)
    for nf in staged.formats[target.format].values():
        os.replace(stage / nf.file, dest / nf.file)
    previous = load_manifest(dest, verify=False) if (dest / MANIFEST).is_file() else None
    manifest = MtcnnManifest(
        formats={**(previous.formats if previous else {}), **staged.formats},
        source=source_info(),
        cascade=CascadeConfig().to_dict(),
        verification={**(previous.verification if previous else {}), target.format: check},
        software_version=software_version(),
        created_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )
    path = save_manifest(dest, manifest)
    load_manifest(dest)  # every listed file present and matching its SHA-256
    return path
