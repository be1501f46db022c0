"""facescreen-convert: write quantised TFLite, ONNX and TensorRT artifacts (and the TensorFlow-free
MTCNN detector) into a bundle, each checked against the Keras reference before it is recorded.

    facescreen-convert BUNDLE --to cpu --calib PHOTOS_OR_NPZ
    facescreen-convert BUNDLE --to tensorrt-fp16,tensorrt-int8 --calib faces.npz     # on the Jetson
    facescreen-convert BUNDLE --export-edge OUT --artifacts tflite-int8,mtcnn-tflite  # slim copy for a tablet

Exit status: 0 every target written; 1 a target failed (parity or conversion); 3 a target cannot be
built on this machine (e.g. TensorRT off the Jetson); 2 bad input (bundle, faces, options).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facescreen.edge import clikit
from facescreen.edge.bundle import CONVERSION_RECORD
from facescreen.edge.detect import DETECTORS

from .calibration import MIN_CALIBRATION_FACES, FaceSet, faces_source, held_out_fraction, load_faces, save_faces
from .parity import DEFAULT_MIN_AGREEMENT, ParityThresholds
from .targets import ALIASES, TARGETS, resolve_targets

EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = clikit.EXIT_FAILED, clikit.EXIT_USAGE, clikit.EXIT_UNAVAILABLE
PROG = "facescreen-convert"


def _parser() -> argparse.ArgumentParser:
    p = clikit.new_parser(PROG, __doc__)
    p.add_argument("bundle", nargs="?", help="bundle directory (modelcard.json + model.keras)")
    p.add_argument("--to", help=f"comma-separated targets or aliases ({', '.join(sorted(ALIASES))})")
    p.add_argument(
        "--calib",
        type=clikit.checked(faces_source),
        help="calibration faces: a folder of photos (detected and aligned like training) "
        "or a .npz of aligned faces; a held-out part is split off for the parity check "
        "unless --parity is given",
    )
    p.add_argument(
        "--parity",
        type=clikit.checked(faces_source),
        help="held-out faces for the parity check (folder or .npz); default: part of --calib",
    )
    p.add_argument(
        "--holdout-fraction",
        type=clikit.checked(held_out_fraction),
        default=0.25,
        help="fraction of --calib held out for parity when --parity is not given (default 0.25)",
    )
    p.add_argument(
        "--force-small-calib", action="store_true", help=f"accept fewer than {MIN_CALIBRATION_FACES} calibration faces"
    )
    p.add_argument(
        "--min-agreement",
        type=float,
        default=DEFAULT_MIN_AGREEMENT,
        help=f"required screening-flag agreement with Keras (default {DEFAULT_MIN_AGREEMENT})",
    )
    p.add_argument(
        "--max-prob-diff",
        type=float,
        default=None,
        help="optional extra gate: fail when any |probability difference| exceeds this",
    )
    p.add_argument(
        "--int8-io", choices=("int8", "uint8"), default="int8", help="input/output type of tflite-int8 (default int8)"
    )
    p.add_argument("--max-batch", type=clikit.positive_int, default=8, help="TensorRT profile: batch 1..N (default 8)")
    p.add_argument(
        "--workspace-mb", type=clikit.positive_int, default=1024, help="TensorRT builder workspace limit (default 1024)"
    )
    p.add_argument(
        "--detector",
        default="mtcnn",
        type=clikit.choice_of(DETECTORS.names, "detector"),
        help="detector that aligns a photo folder (default: mtcnn, the reference used in training; "
        "mtcnn-lite: the bundle's converted one)",
    )
    p.add_argument(
        "--save-faces",
        type=_npz_file,
        help="also write the aligned calibration faces to this .npz (reuse with --calib)",
    )
    p.add_argument("--list", action="store_true", help="list the targets and exit")
    p.add_argument(
        "--export-edge",
        metavar="OUT",
        default=None,
        help="write a slim bundle for a tablet or kiosk into the new folder OUT: the model card, the "
        "--artifacts named (verified ones only) and the converted detector, without model.keras",
    )
    p.add_argument(
        "--artifacts",
        default=None,
        metavar="NAMES",
        help="with --export-edge: comma-separated artifacts and detector targets, e.g. tflite-int8,mtcnn-tflite",
    )
    return p


def list_targets() -> str:
    rows = [TARGETS.lookup(n) for n in TARGETS.names()]
    lines = [f"{'target':16} {'format':9} {'precision':13} {'runs on':7} {'needs':6} {'options':24} summary"]
    for t in sorted(rows, key=lambda r: (r.kind, r.device, r.name)):
        opts = ",".join("--" + o.replace("_", "-") for o in t.options)
        lines.append(
            f"{t.name:16} {t.format:9} {t.precision:13} {t.device:7} {'calib' if t.calibrated else '':6} "
            f"{opts:24} {t.summary}"
        )
    lines.append("aliases: " + "; ".join(f"{k} = {','.join(v)}" for k, v in sorted(ALIASES.items())))
    return "\n".join(lines)


def _fmt(v, spec: str) -> str:
    width = int("".join(c for c in spec.split(".")[0] if c.isdigit()) or 1)
    return f"{'-':>{width}}" if v is None else format(v, spec)


def summary_table(results) -> str:
    head = (
        f"{'artifact':16} {'size MB':>8} {'conv s':>7} {'max|dp|':>8} {'mean|dp|':>9} {'flag agree':>10} {'dAUC':>7}"
        "  status"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        p = r.parity
        status = r.status + (f": {r.message}" if r.message else "")
        lines.append(
            f"{r.target:16} {_fmt(r.size_mb, '8.2f')} {_fmt(r.seconds if r.seconds else None, '7.1f')} "
            f"{_fmt(p and p.max_abs_prob_diff, '8.4f')} {_fmt(p and p.mean_abs_prob_diff, '9.5f')} "
            f"{_fmt(p and p.flag_agreement, '10.1%')} {_fmt(p and p.auc_diff, '+7.3f')}  {status}"
        )
    return "\n".join(lines)


def _load(path: str | Path | None, bundle, detector_name: str, detector_cache: dict) -> FaceSet | None:
    if path is None:
        return None
    detector = None
    if Path(path).is_dir():
        if "d" not in detector_cache:
            from facescreen.edge.detect import create_detector

            detector_cache["d"] = create_detector(detector_name, bundle)
        detector = detector_cache["d"]
    print(f"loading faces from {path}" + (f" (detecting and aligning with {detector_name})" if detector else ""))
    faces = load_faces(path, bundle.card, detector)
    print(
        f"  {len(faces)} faces, sha256 {faces.sha256[:16]}..., labels: {'yes' if faces.labels is not None else 'no'}"
        + (f", {len(faces.skipped)} photos left out (no face)" if faces.skipped else "")
    )
    return faces


def main(argv: list[str] | None = None) -> int:
    return clikit.run(PROG, _parser(), _convert, argv, user_errors=(ValueError,))


def _convert(args: argparse.Namespace) -> int:
    if args.list:
        print(list_targets())
        return clikit.EXIT_OK
    if args.export_edge:
        if not args.bundle or args.to:
            raise ValueError("--export-edge takes a BUNDLE and --artifacts, not --to")
        from .export_edge import export_edge

        out = export_edge(args.bundle, args.export_edge, _names(args.artifacts))
        print(f"edge bundle: {out}")
        return clikit.EXIT_OK
    if not args.bundle or not args.to:
        raise ValueError("give a BUNDLE and --to TARGETS (see --list)")
    from facescreen.edge.bundle import load_bundle

    from .convert import ConvertOptions, convert_bundle

    targets = resolve_targets(args.to)
    bundle = load_bundle(args.bundle)
    options = ConvertOptions(
        int8_io=args.int8_io,
        max_batch=args.max_batch,
        workspace_mb=args.workspace_mb,
        parity=ParityThresholds(args.min_agreement, args.max_prob_diff),
        force_small_calib=args.force_small_calib,
    )
    cache: dict = {}
    calib = _load(args.calib, bundle, args.detector, cache)
    if calib is not None and args.save_faces:
        print(f"  aligned faces saved to {save_faces(calib, args.save_faces)}")
    held_out = _load(args.parity, bundle, args.detector, cache)
    if held_out is None and calib is not None:
        calib, held_out = calib.split(args.holdout_fraction)
        print(f"parity check on {len(held_out)} held-out faces; calibration on the other {len(calib)}")
    results = convert_bundle(args.bundle, targets, held_out, calib, options)
    print()
    print(summary_table(results))
    print(f"\nparity figures: {Path(args.bundle) / CONVERSION_RECORD}")
    if any(r.status == "failed" for r in results):
        return EXIT_FAILED
    if any(r.status == "unavailable" for r in results):
        return EXIT_UNAVAILABLE
    return clikit.EXIT_OK


def _npz_file(text: str) -> Path:
    """Where --save-faces writes: a file name ending in .npz (NumPy adds the suffix otherwise, and the
    faces were not where the command said), checked before minutes of detection."""
    path = clikit.writable_file(text)
    if path.suffix != ".npz":
        raise argparse.ArgumentTypeError(
            f"{path}: give a file name ending in .npz (--calib reads it back by its suffix)"
        )
    return path


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


if __name__ == "__main__":
    sys.exit(main())
