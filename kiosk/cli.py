"""facescreen-kiosk: guided frontal capture, screening, a local results store and a server.

  facescreen-kiosk --camera 0 --fullscreen          the kiosk (same as `run`)
  facescreen-kiosk run --source frames/ --headless  replay a folder, events as JSON lines
  facescreen-kiosk serve --host 0.0.0.0 --tls-self-signed --token ...   phones and tablets
  facescreen-kiosk demo --cache .cache              what `make demo` runs
  facescreen-kiosk export --out results.csv         the results store as CSV
  facescreen-kiosk purge --older-than-days 90       delete old screenings (and kept photos)
  facescreen-kiosk doctor --bundle DIR              what this machine can run (OpenCV, runtimes, GPU, cameras)

Every result is a screening flag for referral (refer for genetic evaluation / no referral flag),
never a diagnosis.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import socket
import sys
from typing import Optional

COMMANDS = ("run", "serve", "demo", "export", "purge", "doctor")
DEFAULT_BUNDLE = os.environ.get("FACESCREEN_BUNDLE", ".cache/demo-bundle")
DEFAULT_DATA = os.environ.get("FACESCREEN_DATA", "kiosk-data")


def _model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--bundle", default=DEFAULT_BUNDLE,
                   help=f"model bundle directory (default: $FACESCREEN_BUNDLE or {DEFAULT_BUNDLE})")
    g.add_argument("--backend", default="auto", help="inference backend: auto, litert, onnxruntime, tensorrt, keras")
    g.add_argument("--detector", default="auto",
                   help="face detector: auto (the bundle's mtcnn-lite if it has one, else mtcnn), mtcnn, mtcnn-lite")
    g.add_argument("--landmarks", default=None, metavar="FILE",
                   help="face_landmark.tflite (default: $FACESCREEN_ASSETS or .cache/assets, fetched by `make assets`)")
    g.add_argument("--quality-config", default=None, metavar="JSON",
                   help="capture-quality thresholds (keys of kiosk.quality.QualityConfig); unknown keys are errors")


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=DEFAULT_DATA, help=f"results store directory (default: $FACESCREEN_DATA or {DEFAULT_DATA})")


def _run_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--source", default=None, metavar="URI",
                     help="frames: camera index (0), v4l2:///dev/video0, csi://0 (Jetson), gst:PIPELINE, a video file, "
                          "or a folder of images (replay)")
    src.add_argument("--camera", default=None, metavar="N", help="shorthand for --source N")
    p.add_argument("--width", type=int, default=None, help="ask the camera for this frame width")
    p.add_argument("--height", type=int, default=None, help="ask the camera for this frame height")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--fullscreen", action="store_true", help="full-screen window (needs a GUI build of OpenCV)")
    out.add_argument("--headless", action="store_true", help="no window: log events as JSON lines on stdout")
    p.add_argument("--save-frames", default=None, metavar="DIR", help="also write every displayed frame as JPEG")
    p.add_argument("--lang", default="en", help="language of instructions and results: en, zh-Hans")
    p.add_argument("--font", default=None, help="font file for the window text (needed for zh-Hans without a CJK font)")
    p.add_argument("--frames", type=int, default=3, help="consecutive passing frames before capture (default 3)")
    p.add_argument("--result-timeout", type=float, default=30.0, help="seconds the result stays up (default 30)")
    p.add_argument("--kiosk-id", default=socket.gethostname(), help="recorded with every screening")
    p.add_argument("--operator", default=None, help="operator id recorded with every screening")
    p.add_argument("--no-store", action="store_true", help="do not record screenings (demonstrations)")
    p.add_argument("--loop", action="store_true", help="replay a folder forever")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    _model_args(p)
    _store_args(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facescreen-kiosk", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="the kiosk: camera or replay, guidance, screening, display",
                         description="Guided capture from a camera, video or image folder; the result on screen "
                                     "(OpenCV window) or as JSON lines (--headless). Keys in the window: "
                                     "R retake, C consent to keep the photo, X cancel, Q quit.")
    _run_args(run)

    serve = sub.add_parser("serve", help="HTTP server: API (/docs) and the capture page for phones and tablets",
                           description="FastAPI server. Binds to 127.0.0.1 unless --host says otherwise; any other "
                                       "address needs --token. Phones need https for the live camera: give "
                                       "--tls-cert/--tls-key or --tls-self-signed (else they upload a photo).")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--token", default=os.environ.get("FACESCREEN_TOKEN"),
                       help="bearer token required by the API (default: $FACESCREEN_TOKEN); required off loopback")
    serve.add_argument("--tls-cert", default=None, help="TLS certificate (PEM)")
    serve.add_argument("--tls-key", default=None, help="TLS private key (PEM)")
    serve.add_argument("--tls-self-signed", action="store_true",
                       help="generate (once, under DATA/tls) a self-signed certificate with openssl")
    serve.add_argument("--kiosk-id", default=socket.gethostname())
    serve.add_argument("--lang", default="en", help="default language: en, zh-Hans")
    serve.add_argument("--max-upload-mb", type=float, default=20.0, help="largest accepted upload (default 20 MiB)")
    serve.add_argument("--max-megapixels", type=float, default=50.0, help="largest accepted photo (default 50 MP)")
    serve.add_argument("--log-level", default="info")
    _model_args(serve)
    _store_args(serve)

    demo = sub.add_parser("demo", help="replay a guided capture with the DEMO MODEL (synthetic data); `make demo`",
                          description="Builds (once) the demo model under CACHE, replays a frame sequence made from a "
                                      "sample photo, prints each instruction and the result.")
    demo.add_argument("--cache", default=".cache", help="cache directory (default .cache)")
    demo.add_argument("--lang", default="en", help="en or zh-Hans")
    demo.add_argument("--detector", default="auto")
    demo.add_argument("--backend", default="auto")
    demo.add_argument("--landmarks", default=None, metavar="FILE")
    demo.add_argument("--json", action="store_true", help="events as JSON lines")

    export = sub.add_parser("export", help="write the results store as CSV")
    _store_args(export)
    export.add_argument("--out", default="-", help="CSV file (default: stdout)")
    export.add_argument("--since", default=None, help="only screenings at or after this ISO 8601 time (UTC)")

    purge = sub.add_parser("purge", help="delete screenings (and any kept photos) by age or id")
    _store_args(purge)
    purge.add_argument("--older-than-days", type=float, default=None, help="delete screenings older than this")
    purge.add_argument("--id", action="append", default=[], dest="ids", help="delete this screening (repeatable)")

    doctor = sub.add_parser("doctor", help="check Python, numpy, OpenCV, LiteRT, ONNX Runtime, TensorRT, CUDA, cameras, "
                                           "assets and the bundle's artifacts on this machine",
                            description="One line per check: ok, warn, absent (optional part missing) or fail. "
                                        "Exit 0 when nothing failed.")
    doctor.add_argument("--bundle", default=DEFAULT_BUNDLE,
                        help=f"bundle whose artifacts to check (default: $FACESCREEN_BUNDLE or {DEFAULT_BUNDLE})")
    doctor.add_argument("--assets", default=None, metavar="DIR",
                        help="model assets folder (default: $FACESCREEN_ASSETS or .cache/assets)")
    doctor.add_argument("--json", action="store_true", help="the checks as JSON")
    return parser


def _quality(path: Optional[str]):
    from .quality import QualityConfig

    return QualityConfig.from_file(path) if path else QualityConfig()


def cmd_run(args: argparse.Namespace) -> int:
    from .app import KioskApp
    from .display import FolderOutput, GuiUnavailable, JsonLinesOutput, Renderer, WindowOutput
    from .engine import KioskEngine
    from .guidance import GuidanceConfig, GuidanceLoop
    from .sources import open_source
    from .store import ResultsStore

    uri = args.source if args.source is not None else (args.camera if args.camera is not None else "0")
    outputs = []
    try:
        if not args.headless:
            outputs.append(WindowOutput(fullscreen=args.fullscreen))
    except GuiUnavailable as exc:
        print(f"error: no window: {exc}", file=sys.stderr)
        return 2
    renderer = Renderer(args.lang, args.font) if (not args.headless or args.save_frames) else None
    engine = KioskEngine.create(args.bundle, backend=args.backend, detector=args.detector,
                                landmarks_model=args.landmarks, quality=_quality(args.quality_config))
    if renderer is not None:
        renderer.demo = engine.is_demo
    if args.headless:
        outputs.append(JsonLinesOutput(sys.stdout))
    if args.save_frames:
        outputs.append(FolderOutput(args.save_frames))
    source = open_source(uri, args.width, args.height, engine.limits, loop=args.loop)
    loop = GuidanceLoop(engine, GuidanceConfig(consecutive_frames=args.frames, result_timeout_s=args.result_timeout,
                                               language=args.lang))
    store = None if args.no_store else ResultsStore(args.data_dir)
    if engine.is_demo:
        logging.getLogger(__name__).warning("DEMO MODEL on SYNTHETIC data (%s): not for clinical use",
                                            engine.screener.card.model_id)
    app = KioskApp(source, loop, outputs, renderer, store, kiosk_id=args.kiosk_id, operator_id=args.operator)
    app.run(max_frames=args.max_frames)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .server.run import serve
    from .server.settings import Settings

    try:
        settings = Settings(
            bundle=args.bundle, backend=args.backend, detector=args.detector, landmarks_model=args.landmarks,
            data_dir=args.data_dir, kiosk_id=args.kiosk_id, host=args.host, port=args.port, token=args.token,
            tls_cert=args.tls_cert, tls_key=args.tls_key, tls_self_signed=args.tls_self_signed,
            max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=int(args.max_megapixels * 1e6),
            language=args.lang, quality=_quality(args.quality_config))
    except ValidationError as exc:
        for e in exc.errors():
            print(f"error: {e['msg']}", file=sys.stderr)
        return 2
    serve(settings, args.log_level)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    events = run_demo(args.cache, args.lang, args.detector, args.backend, args.landmarks, as_json=args.json)
    return 0 if any(e.kind == "result" for e in events) else 1


def cmd_export(args: argparse.Namespace) -> int:
    from .store import ResultsStore

    store = ResultsStore(args.data_dir)
    if args.out == "-":
        n = store.export_csv(sys.stdout, args.since)
    else:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            n = store.export_csv(f, args.since)
    print(f"exported {n} screenings", file=sys.stderr)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from .store import ResultsStore

    if args.older_than_days is None and not args.ids:
        print("error: purge needs --older-than-days N and/or --id ID", file=sys.stderr)
        return 2
    age = dt.timedelta(days=args.older_than_days) if args.older_than_days is not None else None
    n = ResultsStore(args.data_dir).purge(age, args.ids)
    print(f"purged {n} screenings", file=sys.stderr)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import doctor

    return doctor(args.bundle, args.assets, args.json)


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `facescreen-kiosk --camera 0 --fullscreen` is the kiosk itself: `run` is the default command
    if not any(a in COMMANDS for a in argv[:1]) and not any(a in ("-h", "--help") for a in argv):
        argv = ["run", *argv]
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from facescreen.edge.errors import FaceScreenError

    handlers = {"run": cmd_run, "serve": cmd_serve, "demo": cmd_demo, "export": cmd_export, "purge": cmd_purge,
                "doctor": cmd_doctor}
    try:
        return handlers[args.command](args)
    except (FaceScreenError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
