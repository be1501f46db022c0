"""facescreen-screen: photo in, screening flag out, through a model bundle.

    facescreen-screen BUNDLE photo.jpg [more.jpg ...]      print one result per photo
    facescreen-screen BUNDLE photos/ --csv scores.csv      score a folder into a CSV

A screening flag is a suggestion to refer for genetic evaluation, never a diagnosis.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .backends import AUTO_BACKEND_ORDER
from .errors import FaceScreenError
from .photo import find_photos



def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="facescreen-screen", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", help="model bundle directory (holds modelcard.json)")
    p.add_argument("photos", nargs="+", help="photo files, or one folder of photos")
    p.add_argument("--backend", default="auto", choices=("auto",) + AUTO_BACKEND_ORDER,
                   help="inference backend; auto picks the fastest artifact this machine runs (default: auto)")
    p.add_argument("--artifact", default=None, help="a specific artifact of the bundle, e.g. tflite-int8")
    p.add_argument("--detector", default="auto",
                   help="face detector: auto (the bundle's converted mtcnn-lite if present, else the mtcnn package), "
                        "mtcnn or mtcnn-lite")
    p.add_argument("--threads", type=int, default=None, help="inference threads (default: the runtime's choice)")
    p.add_argument("--json", action="store_true", help="print each result as one JSON line")
    p.add_argument("--csv", type=Path, default=None, help="write one row per photo to this CSV (folders need it)")
    p.add_argument("--cam-dir", type=Path, default=None, help="write a CAM overlay PNG per photo into this folder")
    return p


def _expand(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += find_photos(p, recursive=False) if p.is_dir() else [p]
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .screener import create_screener

    try:
        screener = create_screener(args.bundle, backend=args.backend, artifact=args.artifact,
                                   threads=args.threads, detector=args.detector)
    except FaceScreenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    photos = _expand(args.photos)
    if args.csv:
        n = screener.screen_folder(photos, args.csv)
        print(f"screened {n} of {len(photos)} photos -> {args.csv}")
        return 0 if n == len(photos) else 1
    failures = 0
    for path in photos:
        try:
            prepared = screener.prepare(path)
            result = screener.screen_prepared(prepared)
        except FaceScreenError as exc:
            failures += 1
            print(json.dumps({"photo": str(path), "error": exc.code, "message": str(exc)}) if args.json
                  else f"{path}: cannot screen ({exc.code}): {exc}", file=None if args.json else sys.stderr)
            continue
        if args.cam_dir:
            _write_cam(args.cam_dir, path, prepared.aligned.image, result.cam)
        if args.json:
            print(json.dumps({"photo": str(path), **result.to_dict()}))
        else:
            print(f"== {path}\n{result.summary()}\n   timings (ms): "
                  + ", ".join(f"{k} {v:.1f}" for k, v in result.timings_ms.items()))
    return 1 if failures else 0


def _write_cam(folder: Path, photo: Path, face, cam) -> None:
    import cv2

    from .postprocess import overlay_cam

    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / f"{photo.stem}_cam.png"), overlay_cam(face, cam)[..., ::-1])


if __name__ == "__main__":
    sys.exit(main())
