"""facescreen-screen: photo in, screening flag out, through a model bundle.

    facescreen-screen BUNDLE photo.jpg [more.jpg ...]      print one result per photo
    facescreen-screen BUNDLE photos/ --csv scores.csv      score a folder (and its sub-folders) into a CSV

A screening flag is a suggestion to refer for genetic evaluation, never a diagnosis.
Exit status: 0 every photo screened; 1 some photo could not be screened (its row says why);
2 a user's mistake (nothing screened); 3 the backend or artifact asked for cannot run here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from . import clikit
from .backends import AUTO_BACKEND_ORDER
from .detect import DETECTORS
from .errors import FaceScreenError
from .folder import FolderStats, screen_many
from .photo import PHOTO_SUFFIXES, photos_named

PROG = "facescreen-screen"


def build_parser() -> argparse.ArgumentParser:
    p = clikit.new_parser(PROG, __doc__)
    p.add_argument("bundle", help="model bundle directory (holds modelcard.json)")
    p.add_argument("photos", nargs="+", help="photo files, or folders of photos (searched through sub-folders)")
    p.add_argument(
        "--backend",
        default="auto",
        choices=("auto",) + AUTO_BACKEND_ORDER,
        help="inference backend; auto picks the fastest artifact this machine runs (default: auto)",
    )
    p.add_argument("--artifact", default=None, help="a specific artifact of the bundle, e.g. tflite-int8")
    p.add_argument(
        "--detector",
        default="auto",
        type=clikit.choice_of(lambda: ["auto", *DETECTORS.names()], "detector"),
        help="face detector: auto (the bundle's converted mtcnn-lite if present, else the mtcnn package), "
        f"{', '.join(DETECTORS.names())}",
    )
    p.add_argument(
        "--threads",
        type=clikit.thread_count,
        default=None,
        help="inference threads (default: min(4, cores), as the kiosk and make bench)",
    )
    p.add_argument("--json", action="store_true", help="print each result as one JSON line")
    p.add_argument("--csv", type=clikit.writable_file, default=None, help="write one row per photo to this CSV")
    p.add_argument(
        "--cam-dir",
        type=clikit.output_folder,
        default=None,
        help="write a CAM overlay PNG per screened photo into this folder (sub-folders mirrored)",
    )
    p.add_argument(
        "--no-overlap",
        action="store_true",
        help="screen one photo after another instead of decoding and detecting the next photos while "
        "one is inferred (the results are the same; for measuring each stage alone)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    return clikit.run(PROG, build_parser(), _screen, argv)


def _screen(args: argparse.Namespace) -> int:
    photos = _photos(args.photos)
    if args.cam_dir is not None:
        try:
            args.cam_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FaceScreenError(f"cannot create --cam-dir {args.cam_dir}: {exc.strerror}") from None
    from .screener import ResultsCsv, create_screener

    screener = create_screener(
        args.bundle, backend=args.backend, artifact=args.artifact, threads=args.threads, detector=args.detector
    )
    names = _cam_names(args.photos, photos)
    stats = FolderStats()
    done = clikit.progress(
        screen_many(screener, photos, overlap=not args.no_overlap, stats=stats), len(photos), "screening"
    )
    with contextlib.ExitStack() as stack:
        rows = None
        if args.csv:
            rows = ResultsCsv(stack.enter_context(open(args.csv, "w", newline="", encoding="utf-8")), screener)
        failures = 0
        for d in done:
            if d.error is not None:
                failures += 1
                if rows is not None:
                    rows.failed(d.path, d.error)
                else:
                    _print_failure(d.path, d.error, args.json)
                continue
            prepared, result = d.unwrap()
            if args.cam_dir is not None:
                _write_cam(args.cam_dir / names[d.path], prepared.aligned.image, result.cam)
            if rows is not None:
                rows.screened(d.path, result)
            elif args.json:
                print(json.dumps({"photo": str(d.path), **result.to_dict()}))
            else:
                print(
                    f"== {d.path}\n{result.summary()}\n   timings (ms): "
                    + ", ".join(f"{k} {v:.1f}" for k, v in result.timings_ms.items())
                )
    if args.csv:
        print(f"screened {len(photos) - failures} of {len(photos)} photos -> {args.csv}")
    if len(photos) > 1:
        print(folder_summary(stats), file=sys.stderr)
    return clikit.EXIT_FAILED if failures else clikit.EXIT_OK


def _print_failure(path: Path, exc: FaceScreenError, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"photo": str(path), "error": exc.code, "message": str(exc)}))
    else:
        print(f"{path}: cannot screen ({exc.code}): {exc}", file=sys.stderr)


def folder_summary(stats: FolderStats) -> str:
    """Throughput against the slowest stage (each stage's busy time in this run) and peak memory:
    what a research group screening an archive wants to know."""
    import resource

    rates = ", ".join(f"{k} {v:.1f}/s" for k, v in stats.stage_rates.items())
    ratio = stats.of_slowest_stage
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return (
        f"{stats.photos} photos in {stats.wall_s:.1f} s: {stats.photos_per_s:.2f} photos/s "
        f"({'decode+detect overlapped with inference' if stats.overlapped else 'one photo after another'}); "
        f"stages {rates}"
        + (f" -> {ratio:.2f}x the slowest stage" if ratio is not None else "")
        + f"; peak memory {peak_mb:.0f} MB"
    )


def _photos(given: list[str]) -> list[Path]:
    """The photos to screen; a folder without any is a mistake, found before the model loads."""
    for folder in (Path(g) for g in given):
        if folder.is_dir() and not photos_named([folder]):
            raise FaceScreenError(f"no photos ({', '.join(PHOTO_SUFFIXES)}) in {folder} or its sub-folders")
    photos = photos_named(given)
    if any(Path(g).is_dir() for g in given):
        print(f"found {len(photos)} photo(s) to screen", file=sys.stderr)
    return photos


def _cam_names(given: list[str], photos: list[Path]) -> dict[Path, Path]:
    """Each photo's CAM file name: its path under the folder given (so photos/a/1.jpg and
    photos/b/1.jpg do not overwrite each other), or its own name for a file given."""
    names: dict[Path, Path] = {}
    folders = [Path(g) for g in given if Path(g).is_dir()]
    for photo in photos:
        rel = next((photo.relative_to(f) for f in folders if photo.is_relative_to(f)), Path(photo.name))
        names[photo] = rel.with_name(f"{rel.stem}_cam.png")
    return names


def _write_cam(out: Path, face, cam) -> None:
    import cv2

    from .postprocess import overlay_cam

    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), overlay_cam(face, cam)[..., ::-1])


if __name__ == "__main__":
    sys.exit(main())
