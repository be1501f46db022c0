"""facescreen-kiosk: guided frontal capture, screening, a local results store and a server.

  facescreen-kiosk --camera 0 --fullscreen          the kiosk (same as `run`)
  facescreen-kiosk run --source frames/ --headless  replay a folder, events as JSON lines
  facescreen-kiosk serve --host 0.0.0.0 --tls-self-signed --token-file TOKEN   phones and tablets
  facescreen-kiosk demo --cache .cache              what `make demo` runs
  facescreen-kiosk export --out results.csv         the results store as CSV
  facescreen-kiosk purge --older-than-days 90       delete old screenings (and kept photos)
  facescreen-kiosk tablet-export --bundle B         the offline tablet app (served at /tablet/)
  facescreen-kiosk doctor --bundle DIR              what this machine can run (OpenCV, runtimes, GPU, cameras)

Every result is a screening flag for referral (refer for genetic evaluation / no referral flag),
never a diagnosis. Exit status: 0 done; 1 the demo produced no result; 2 a user's mistake;
3 something asked for cannot run here (e.g. a window without a GUI build of OpenCV); 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import os
import socket
import sys
from pathlib import Path
from typing import Optional

from facescreen.edge import clikit
from facescreen.edge.backends import AUTO_BACKEND_ORDER
from facescreen.edge.detect import DETECTORS

PROG = "facescreen-kiosk"
COMMANDS = ("run", "serve", "demo", "export", "purge", "tablet-export", "doctor")
DEFAULT_BUNDLE = os.environ.get("FACESCREEN_BUNDLE", ".cache/demo-bundle")
DEFAULT_DATA = os.environ.get("FACESCREEN_DATA", "kiosk-data")
MAX_AGE_DAYS = 36500  # a century: older than any screening; far larger ages overflow the date arithmetic


def _model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument(
        "--bundle",
        default=DEFAULT_BUNDLE,
        help=f"model bundle directory (default: $FACESCREEN_BUNDLE or {DEFAULT_BUNDLE})",
    )
    _runtime_args(g)
    g.add_argument(
        "--landmarks",
        default=None,
        metavar="FILE",
        type=clikit.existing_file,
        help="face-mesh .tflite (default: MediaPipe's attention mesh, fetched by `make assets` into "
        "$FACESCREEN_ASSETS or .cache/assets; the plain 468-point face_landmark.tflite also loads)",
    )
    g.add_argument(
        "--quality-config",
        default=None,
        metavar="JSON",
        help="capture-quality thresholds (keys of kiosk.quality.QualityConfig); unknown keys are errors",
    )
    g.add_argument(
        "--find-config",
        default=None,
        metavar="JSON",
        help="how frames are searched and the face tracked between detections (keys of "
        "kiosk.tracking.FindConfig: min_face_of_min_head, work_face_px, redetect_every, "
        'reuse_capture_detection); speed only, e.g. {"redetect_every": 0} detects every frame',
    )


def _runtime_args(g) -> None:
    g.add_argument(
        "--backend",
        default="auto",
        choices=("auto",) + AUTO_BACKEND_ORDER,
        help="inference backend (default: auto, the fastest artifact this machine runs)",
    )
    g.add_argument(
        "--detector",
        default="auto",
        type=clikit.choice_of(lambda: ["auto", *DETECTORS.names()], "detector"),
        help="face detector: auto (the bundle's mtcnn-lite if it has one, else mtcnn), " + ", ".join(DETECTORS.names()),
    )


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default=DEFAULT_DATA,
        help=f"results store directory (default: $FACESCREEN_DATA or {DEFAULT_DATA})",
    )


def _run_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--source",
        default=None,
        metavar="URI",
        help="frames: camera index (0), v4l2:///dev/video0, csi://0 (Jetson), gst:PIPELINE, a video file, "
        "or a folder of images (replay)",
    )
    src.add_argument("--camera", default=None, metavar="N", help="shorthand for --source N")
    p.add_argument("--width", type=int, default=None, help="ask the camera for this frame width")
    p.add_argument("--height", type=int, default=None, help="ask the camera for this frame height")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--fullscreen", action="store_true", help="full-screen window (needs a GUI build of OpenCV)")
    out.add_argument("--headless", action="store_true", help="no window: log events as JSON lines on stdout")
    p.add_argument("--save-frames", default=None, metavar="DIR", help="also write every displayed frame as JPEG")
    p.add_argument("--lang", default="en", help="language of instructions and results: en, zh-Hans")
    p.add_argument("--font", default=None, help="font file for the window text (needed for zh-Hans without a CJK font)")
    p.add_argument(
        "--frames", type=clikit.positive_int, default=3, help="consecutive passing frames before capture (default 3)"
    )
    p.add_argument("--result-timeout", type=float, default=30.0, help="seconds the result stays up (default 30)")
    p.add_argument("--kiosk-id", default=socket.gethostname(), help="recorded with every screening")
    p.add_argument("--operator", default=None, help="operator id recorded with every screening")
    p.add_argument("--no-store", action="store_true", help="do not record screenings (demonstrations)")
    p.add_argument("--loop", action="store_true", help="replay a folder forever")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    _model_args(p)
    _store_args(p)


def build_parser() -> argparse.ArgumentParser:
    parser = clikit.new_parser(PROG, __doc__)
    sub = clikit.add_subcommands(parser)

    run = clikit.add_subcommand(
        sub,
        "run",
        help="the kiosk: camera or replay, guidance, screening, display",
        description="Guided capture from a camera, video or image folder; the result on screen "
        "(OpenCV window) or as JSON lines (--headless). Keys in the window: "
        "R retake, C consent to keep the photo, X cancel, Q quit.",
    )
    _run_args(run)

    serve = clikit.add_subcommand(
        sub,
        "serve",
        help="HTTP server: API (/docs) and the capture page for phones and tablets",
        description="FastAPI server. Binds to 127.0.0.1 unless --host says otherwise; any other "
        "address needs --token. Phones need https for the live camera: give "
        "--tls-cert/--tls-key or --tls-self-signed (else they upload a photo).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    tok = serve.add_mutually_exclusive_group()
    tok.add_argument(
        "--token-file",
        default=None,
        metavar="FILE",
        help="file holding the bearer token the API requires (mode 0600); required off loopback "
        "unless $FACESCREEN_TOKEN is set",
    )
    tok.add_argument(
        "--token",
        default=None,
        help="the token itself: visible to every local user in `ps`; prefer --token-file or $FACESCREEN_TOKEN",
    )
    serve.add_argument("--tls-cert", default=None, help="TLS certificate (PEM)")
    serve.add_argument("--tls-key", default=None, help="TLS private key (PEM)")
    serve.add_argument(
        "--tls-self-signed",
        action="store_true",
        help="generate (once, under DATA/tls) a self-signed certificate with openssl",
    )
    serve.add_argument("--kiosk-id", default=socket.gethostname())
    serve.add_argument("--lang", default="en", help="default language: en, zh-Hans")
    serve.add_argument("--max-upload-mb", type=float, default=20.0, help="largest accepted upload (default 20 MiB)")
    serve.add_argument("--max-megapixels", type=float, default=50.0, help="largest accepted photo (default 50 MP)")
    serve.add_argument(
        "--queue-depth",
        type=int,
        default=8,
        help="photo requests that may wait for inference; one more gets 503 + Retry-After (default 8)",
    )
    serve.add_argument(
        "--engines",
        type=int,
        default=1,
        help="inference engines, each a full copy of the models (default 1; see README for the cost)",
    )
    serve.add_argument(
        "--decode-budget-mp",
        type=float,
        default=64.0,
        help="decoded megapixels all requests may hold at once (default 64, about 200 MB)",
    )
    serve.add_argument(
        "--sessions-per-client", type=int, default=2, help="capture sessions one phone or tablet may hold (default 2)"
    )
    serve.add_argument("--log-level", default="info")
    _model_args(serve)
    _store_args(serve)

    demo = clikit.add_subcommand(
        sub,
        "demo",
        help="replay a guided capture with the DEMO MODEL (synthetic data); `make demo`",
        description="Builds (once) the demo model under CACHE, replays a frame sequence made from a "
        "sample photo, prints each instruction and the result.",
    )
    demo.add_argument("--cache", default=".cache", help="cache directory (default .cache)")
    demo.add_argument("--lang", default="en", help="en or zh-Hans")
    _runtime_args(demo)
    demo.add_argument("--landmarks", default=None, metavar="FILE", type=clikit.existing_file)
    demo.add_argument("--json", action="store_true", help="events as JSON lines")

    export = clikit.add_subcommand(sub, "export", help="write the results store as CSV")
    _store_args(export)
    export.add_argument("--out", default="-", type=_csv_out, help="CSV file (default: stdout)")
    export.add_argument("--since", default=None, help="only screenings at or after this ISO 8601 time (UTC)")

    purge = clikit.add_subcommand(sub, "purge", help="delete screenings (and any kept photos) by age or id")
    _store_args(purge)
    purge.add_argument(
        "--older-than-days", type=_days, default=None, help="delete screenings older than this many days (0 or more)"
    )
    purge.add_argument("--id", action="append", default=[], dest="ids", help="delete this screening (repeatable)")

    from .tablet import cli as tablet_cli

    tablet_cli.add_parser(sub, DEFAULT_BUNDLE)
    doctor = clikit.add_subcommand(
        sub,
        "doctor",
        help="check Python, numpy, OpenCV, LiteRT, ONNX Runtime, TensorRT, CUDA, cameras, "
        "assets and the bundle's artifacts on this machine",
        description="One line per check: ok, warn, absent (optional part missing) or fail. Exit 0 when nothing failed.",
    )
    doctor.add_argument(
        "--bundle",
        default=DEFAULT_BUNDLE,
        help=f"bundle whose artifacts to check (default: $FACESCREEN_BUNDLE or {DEFAULT_BUNDLE})",
    )
    doctor.add_argument(
        "--assets",
        default=None,
        metavar="DIR",
        help="model assets folder (default: $FACESCREEN_ASSETS or .cache/assets)",
    )
    doctor.add_argument("--json", action="store_true", help="the checks as JSON")
    return parser


def _days(text: str) -> float:
    """A finite age of 0 days or more: `inf` would overflow the date, and `-1` would purge every screening."""
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not math.isfinite(days) or days < 0 or days > MAX_AGE_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of days from 0 to {MAX_AGE_DAYS}")
    return days


def _csv_out(text: str) -> str | Path:
    return text if text == "-" else clikit.writable_file(text)


def _quality(path: Optional[str]):
    from .quality import QualityConfig

    return QualityConfig.from_file(path) if path else QualityConfig()


def _find(path: Optional[str]):
    from .tracking import FindConfig

    return FindConfig.from_file(path) if path else FindConfig()


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
        print(f"{PROG}: error: no window: {exc}", file=sys.stderr)
        return clikit.EXIT_UNAVAILABLE
    renderer = Renderer(args.lang, args.font) if (not args.headless or args.save_frames) else None
    engine = KioskEngine.create(
        args.bundle,
        backend=args.backend,
        detector=args.detector,
        landmarks_model=args.landmarks,
        quality=_quality(args.quality_config),
        find=_find(args.find_config),
    )
    if renderer is not None:
        renderer.demo = engine.is_demo
    if args.headless:
        outputs.append(JsonLinesOutput(sys.stdout))
    if args.save_frames:
        outputs.append(FolderOutput(args.save_frames))
    source = open_source(uri, args.width, args.height, engine.limits, loop=args.loop)
    loop = GuidanceLoop(
        engine, GuidanceConfig(consecutive_frames=args.frames, result_timeout_s=args.result_timeout, language=args.lang)
    )
    store = None if args.no_store else ResultsStore(args.data_dir)
    if engine.is_demo:
        logging.getLogger(__name__).warning(
            "DEMO MODEL on SYNTHETIC data (%s): not for clinical use", engine.screener.card.model_id
        )
    app = KioskApp(source, loop, outputs, renderer, store, kiosk_id=args.kiosk_id, operator_id=args.operator)
    app.run(max_frames=args.max_frames)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .server.run import serve
    from .server.settings import Settings, read_token_file

    try:
        token = (
            read_token_file(args.token_file) if args.token_file else (args.token or os.environ.get("FACESCREEN_TOKEN"))
        )
        settings = Settings(
            bundle=args.bundle,
            backend=args.backend,
            detector=args.detector,
            landmarks_model=args.landmarks,
            data_dir=args.data_dir,
            kiosk_id=args.kiosk_id,
            host=args.host,
            port=args.port,
            token=token,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_self_signed=args.tls_self_signed,
            max_upload_bytes=int(args.max_upload_mb * 2**20),
            max_pixels=int(args.max_megapixels * 1e6),
            language=args.lang,
            quality=_quality(args.quality_config),
            find=_find(args.find_config),
            queue_depth=args.queue_depth,
            engines=args.engines,
            decode_budget_mp=args.decode_budget_mp,
            sessions_per_client=args.sessions_per_client,
        )
    except ValidationError as exc:
        for e in exc.errors():
            print(f"{PROG} serve: error: {e['msg']}", file=sys.stderr)
        return clikit.EXIT_USAGE
    from .server.main import load_engines

    serve(settings, args.log_level, load_engines(settings))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    events = run_demo(args.cache, args.lang, args.detector, args.backend, args.landmarks, as_json=args.json)
    return 0 if any(e.kind == "result" for e in events) else 1


def cmd_export(args: argparse.Namespace) -> int:
    from .store import FILE_MODE, ResultsStore

    store = ResultsStore(args.data_dir)
    if args.out == "-":
        n = store.export_csv(sys.stdout, args.since)
    else:  # health data: readable by its owner only, like the store itself, whatever the umask
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        with open(fd, "w", newline="", encoding="utf-8") as f:
            n = store.export_csv(f, args.since)
    print(f"exported {n} screenings", file=sys.stderr)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from .store import ResultsStore

    if args.older_than_days is None and not args.ids:
        print(f"{PROG} purge: error: purge needs --older-than-days N and/or --id ID", file=sys.stderr)
        return clikit.EXIT_USAGE
    age = dt.timedelta(days=args.older_than_days) if args.older_than_days is not None else None
    n = ResultsStore(args.data_dir).purge(age, args.ids)
    print(f"purged {n} screenings", file=sys.stderr)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import doctor

    return doctor(args.bundle, args.assets, args.json)


def _tablet_export(args: argparse.Namespace) -> int:
    from .tablet import cli as tablet_cli

    return tablet_cli.cmd(args)


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix, printed as one line (a TLS key others can read, a missing file)."""
    from .server.tls import TlsError

    return (FileNotFoundError, ValueError, TlsError)


GLOBAL_OPTIONS = ("-v", "--verbose", "-h", "--help", "--version")


def with_default_command(argv: list[str]) -> list[str]:
    """`facescreen-kiosk --camera 0 --fullscreen` is the kiosk itself: `run` is the default command
    when the first word after the global options is an option (or there is none). A first word
    that is not an option must name a command, so a misspelt one is an error listing the valid ones."""
    i = 0
    while i < len(argv) and argv[i] in GLOBAL_OPTIONS:
        i += 1
    if any(a in ("-h", "--help", "--version") for a in argv[:i]):
        return argv
    if i == len(argv) or argv[i].startswith("-"):
        return [*argv[:i], "run", *argv[i:]]
    return argv


def main(argv: Optional[list[str]] = None) -> int:
    given = None if argv is None else list(argv)
    argv = with_default_command(list(sys.argv[1:] if argv is None else argv))
    handlers = {
        "run": cmd_run,
        "serve": cmd_serve,
        "demo": cmd_demo,
        "export": cmd_export,
        "purge": cmd_purge,
        "tablet-export": _tablet_export,
        "doctor": cmd_doctor,
    }
    return clikit.run(
        PROG,
        build_parser(),
        lambda args: handlers[args.command](args),
        argv,
        user_errors=_user_errors,
        log_format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        own_process=given is None,
    )


if __name__ == "__main__":
    sys.exit(main())
