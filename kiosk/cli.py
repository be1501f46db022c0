"""facescreen-kiosk: guided frontal capture, screening, a local results store and a server.

  facescreen-kiosk --camera 0 --fullscreen          the kiosk (same as `run`)
  facescreen-kiosk run --source frames/ --headless  replay a folder, events as JSON lines
  facescreen-kiosk serve --host 0.0.0.0 --tls-self-signed --token-file TOKEN   phones and tablets
  facescreen-kiosk demo --cache .cache              what `make demo` runs
  facescreen-kiosk export --out results.csv         the results store as CSV
  facescreen-kiosk export --fhir --out day.json      ... as a FHIR R4 transaction Bundle
  facescreen-kiosk push --fhir-url URL --token-file F   queued results to a FHIR server
  facescreen-kiosk outcomes import outcomes.csv     what happened after the referrals (CSV or FHIR JSON)
  facescreen-kiosk field-report --out report/       the screener judged in the field (Markdown, JSON, plots)
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
from typing import TextIO

from facescreen.edge import clikit
from facescreen.edge.backends import AUTO_BACKEND_ORDER
from facescreen.edge.detect import DETECTORS

PROG = "facescreen-kiosk"
COMMANDS = ("run", "serve", "demo", "export", "push", "outcomes", "field-report", "purge", "tablet-export", "doctor")
DEFAULT_BUNDLE = os.environ.get("FACESCREEN_BUNDLE", ".cache/demo-bundle")
DEFAULT_DATA = os.environ.get("FACESCREEN_DATA", "kiosk-data")
MAX_AGE_DAYS = 36500  # a century: older than any screening; far larger ages overflow the date arithmetic
CAMERA_TIMEOUT_S = 120.0  # an unplugged camera is retried this long (with backoff) before the kiosk stops
# the catalogue's languages are not loaded to print a help text; tests/kiosk/test_kiosk_i18n.py keeps this line true
LANG_HELP = (
    "a language of the message catalogue (kiosk/locale): en, zh-Hans, es, fr, pt, ar, or a regional tag such as es-MX"
)


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
    add_config_file_args(g)


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


# The configuration files an operator gives the guidance, the same options wherever it runs (run,
# serve, tablet-export: the browser reads the same numbers from app.json).
CONFIG_FILE_OPTIONS = (
    ("--quality-config", "capture-quality thresholds (keys of kiosk.quality.QualityConfig)"),
    (
        "--find-config",
        "how frames are searched and the face tracked between detections (keys of kiosk.tracking.FindConfig: "
        "min_face_of_min_head, work_face_px, redetect_every, reuse_capture_detection); speed only, e.g. "
        '{"redetect_every": 0} detects every frame',
    ),
)


def add_config_file_args(p: argparse._ActionsContainer) -> None:
    for flag, what in CONFIG_FILE_OPTIONS:
        p.add_argument(
            flag, default=None, metavar="JSON", type=clikit.existing_file, help=what + "; unknown keys are errors"
        )


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default=DEFAULT_DATA,
        help=f"results store directory (default: $FACESCREEN_DATA or {DEFAULT_DATA})",
    )


def _token_file_arg(p: argparse._ActionsContainer, help: str) -> None:
    """--token-file: a bearer token kept in a file only its owner reads, not on the command line (`ps`)."""
    p.add_argument("--token-file", default=None, metavar="FILE", help=help)


def _file_token(args: argparse.Namespace) -> str | None:
    """The token in --token-file (refused if others can read the file, or it is empty), or None without one."""
    from .server.settings import read_token_file

    return read_token_file(args.token_file) if args.token_file else None


def _add_run(sub: argparse._SubParsersAction) -> None:
    """The kiosk itself, the default command: its sub-command and options (like tablet-export's add_parser)."""
    p = clikit.add_subcommand(
        sub,
        "run",
        help="the kiosk: camera or replay, guidance, screening, display",
        description="Guided capture from a camera, video or image folder; the result on screen "
        "(OpenCV window) or as JSON lines (--headless). Keys in the window: "
        "R retake, C consent to keep the photo, X cancel, Q quit.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--source",
        default=None,
        metavar="URI",
        help="frames: camera index (0), v4l2:///dev/video0, csi://0 (Jetson), rtsp:// or http:// (a network "
        "camera), gst:PIPELINE, a video file, or a folder of images (replay)",
    )
    src.add_argument("--camera", default=None, metavar="N", help="shorthand for --source N")
    p.add_argument("--width", type=clikit.positive_int, default=None, help="ask the camera for this frame width")
    p.add_argument("--height", type=clikit.positive_int, default=None, help="ask the camera for this frame height")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--fullscreen", action="store_true", help="full-screen window (needs a GUI build of OpenCV)")
    out.add_argument("--headless", action="store_true", help="no window: log events as JSON lines on stdout")
    p.add_argument(
        "--save-frames",
        default=None,
        type=clikit.output_folder,
        metavar="DIR",
        help="also write every displayed frame as JPEG",
    )
    p.add_argument("--lang", default="en", type=LANGUAGE, help="language of instructions and results: " + LANG_HELP)
    p.add_argument(
        "--font",
        default=None,
        type=clikit.existing_file,
        help="font file for the window text (needed for zh-Hans without a CJK font)",
    )
    p.add_argument(
        "--frames", type=clikit.positive_int, default=3, help="consecutive passing frames before capture (default 3)"
    )
    p.add_argument(
        "--result-timeout", type=clikit.seconds, default=30.0, help="seconds the result stays up (default 30)"
    )
    p.add_argument("--kiosk-id", default=socket.gethostname(), help="recorded with every screening")
    p.add_argument("--operator", default=None, help="operator id recorded with every screening")
    p.add_argument("--no-store", action="store_true", help="do not record screenings (demonstrations)")
    p.add_argument(
        "--speech",
        default="off",
        type=clikit.choice_of(_speech_choices, "speech engine"),
        help="say each new instruction aloud with this offline engine (default off; apt-get install espeak-ng)",
    )
    p.add_argument("--loop", action="store_true", help="replay a folder forever")
    p.add_argument(
        "--max-frames",
        type=clikit.positive_int,
        default=None,
        help="stop after this many frames (a failed try to open the camera counts as one)",
    )
    p.add_argument(
        "--camera-timeout",
        type=clikit.seconds_or_zero,
        default=CAMERA_TIMEOUT_S,
        metavar="S",
        help=f"give up (exit 3) when the camera gives no frame for this long (default {CAMERA_TIMEOUT_S:.0f} s; "
        "0: retry for ever)",
    )
    _model_args(p)
    _store_args(p)


def build_parser() -> argparse.ArgumentParser:
    parser, sub = clikit.new_command_parser(PROG, __doc__)
    _add_run(sub)

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
    _token_file_arg(
        tok,
        "file holding the bearer token the API requires (mode 0600); required off loopback "
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
    serve.add_argument("--lang", default="en", type=LANGUAGE, help="default language: " + LANG_HELP)
    serve.add_argument(
        "--max-upload-mb", type=clikit.positive_number, default=20.0, help="largest accepted upload (default 20 MiB)"
    )
    serve.add_argument(
        "--max-megapixels", type=clikit.positive_number, default=50.0, help="largest accepted photo (default 50 MP)"
    )
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
        help="inference engines, each a full copy of the models (default 1; docs/kiosk.md gives the cost)",
    )
    serve.add_argument(
        "--decode-budget-mp",
        type=clikit.positive_number,
        default=64.0,
        help="decoded megapixels all requests may hold at once (default 64, about 200 MB)",
    )
    serve.add_argument(
        "--sessions-per-client", type=int, default=2, help="capture sessions one phone or tablet may hold (default 2)"
    )
    serve.add_argument(
        "--body-timeout-s",
        type=clikit.seconds,
        default=30.0,
        help="seconds a request's body may take to arrive (default 30)",
    )
    serve.add_argument(
        "--header-timeout-s",
        type=clikit.seconds,
        default=10.0,
        help="seconds a request's headers may take (default 10)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        type=clikit.choice_of(_log_levels, "log level"),
        help="the server's log level (default info)",
    )
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
    demo.add_argument("--lang", default="en", type=LANGUAGE, help=LANG_HELP)
    _runtime_args(demo)
    demo.add_argument("--landmarks", default=None, metavar="FILE", type=clikit.existing_file)
    demo.add_argument("--json", action="store_true", help="events as JSON lines")

    export = clikit.add_subcommand(sub, "export", help="write the results store as CSV, or as FHIR R4 (--fhir)")
    _store_args(export)
    export.add_argument("--out", default="-", type=_out_file, help="CSV or JSON file (default: stdout)")
    export.add_argument("--since", type=clikit.checked(_since), default=None, help=SINCE_HELP)
    export.add_argument(
        "--fhir",
        action="store_true",
        help="a FHIR R4 transaction Bundle (Observation, ServiceRequest per flag, Device, Provenance; "
        "photos only with consent) instead of CSV; docs/fhir.md",
    )
    _fhir_args(export)

    push = clikit.add_subcommand(
        sub,
        "push",
        help="send queued results to a FHIR R4 server (one transaction Bundle per batch)",
        description="Results the server has not yet accepted are sent as transaction Bundles of conditional "
        "creates, so a retry never duplicates. A server that is down or refuses a batch leaves it, and every "
        "later one, queued, and the reason is printed. Exit 0 all pushed, 1 some stay queued.",
    )
    _store_args(push)
    push.add_argument(
        "--fhir-url", required=True, type=clikit.checked(_fhir_url), metavar="URL", help="the FHIR server's base URL"
    )
    _token_file_arg(push, "file holding the bearer token (mode 0600)")
    push.add_argument("--since", type=clikit.checked(_since), default=None, help=SINCE_HELP)
    push.add_argument("--batch", type=clikit.positive_int, default=50, help="results per transaction (default 50)")
    push.add_argument("--dry-run", action="store_true", help="print the Bundles; send and mark nothing")
    _fhir_args(push)

    outcomes = clikit.add_subcommand(sub, "outcomes", help="import what happened after the screenings")
    osub = clikit.add_subcommands(outcomes, dest="outcomes_command", metavar="ACTION")
    imp = clikit.add_subcommand(
        osub,
        "import",
        help="import outcomes from a CSV (result_id,outcome,date) or FHIR JSON",
        description="Outcomes: referred, seen, confirmed_syndrome, no_syndrome, lost_to_follow_up. Each row gets "
        "an answer; unknown ids, duplicates and contradictions are refused and nothing stored is changed. "
        "Exit 0 when every row was imported or already known, 1 when some were refused.",
    )
    imp.add_argument("file", type=clikit.existing_file, help="outcomes.csv, or a FHIR Bundle / resource (.json)")
    _store_args(imp)

    report = clikit.add_subcommand(
        sub,
        "field-report",
        help="referral completion, PPV, calibration, score drift and quality refusals per site and model version",
        description="Markdown + JSON + plots under --out. The alarm at the top: field PPV outside what the "
        "model card's validation predicts at the field's prevalence, score drift (PSI >= 0.25), or quality "
        "refusals of the last --recent-days whose 95% interval lies wholly above the earlier weeks'.",
    )
    _store_args(report)
    report.add_argument(
        "--out", default="field-report", type=clikit.output_folder, help="output folder (default field-report)"
    )
    report.add_argument(
        "--bundle",
        action="append",
        default=None,
        metavar="DIR",
        help="model bundle(s) whose card the field is judged against "
        f"(default: $FACESCREEN_BUNDLE or {DEFAULT_BUNDLE})",
    )
    report.add_argument(
        "--fhir-url",
        default=None,
        type=clikit.checked(_fhir_url),
        metavar="URL",
        help="read results and outcomes from this FHIR server (the programme's shared store) instead of --data-dir",
    )
    _token_file_arg(report, "bearer token for --fhir-url (mode 0600)")
    report.add_argument(
        "--prevalence",
        type=float,
        default=None,
        help="the programme's prevalence of syndromes among screened children (default: estimated from the flag rate)",
    )
    from .fieldreport.stats import RECENT_DAYS

    report.add_argument(
        "--recent-days",
        type=clikit.positive_int,
        default=RECENT_DAYS,
        metavar="DAYS",
        help="quality refusals of the last DAYS are compared with those before (default %(default)s)",
    )

    purge = clikit.add_subcommand(sub, "purge", help="delete screenings (and any kept photos) by age or id")
    _store_args(purge)
    purge.add_argument(
        "--older-than-days", type=_days, default=None, help="delete screenings older than this many days (0 or more)"
    )
    purge.add_argument("--id", action="append", default=[], dest="ids", help="delete this screening (repeatable)")
    purge.add_argument(
        "--include-unpushed",
        action="store_true",
        help="with --older-than-days: delete also the screenings a FHIR server this kiosk pushes to has not "
        "accepted yet (by default they are kept, and counted)",
    )

    from .tablet import cli as tablet_cli

    tablet_cli.add_parser(sub, DEFAULT_BUNDLE)
    doctor = clikit.add_subcommand(
        sub,
        "doctor",
        help="check Python, numpy, OpenCV, the inference backends, CUDA, groups, cameras, assets, disk, "
        "clock and the bundle's artifacts on this machine",
        description="One line per check: ok, warn, absent (optional part missing) or fail. Exit 0 when nothing "
        "failed. --json FILE writes them as one first-boot report to send to whoever supports the kiosk.",
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
    doctor.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        type=_out_file,
        metavar="FILE",
        help="write the first-boot report (every check, as JSON) to FILE, or to standard output without FILE",
    )
    doctor.add_argument(
        "--data-dir",
        default=DEFAULT_DATA,
        help=f"results store whose disk is checked (default: $FACESCREEN_DATA or {DEFAULT_DATA})",
    )
    return parser


def _days(text: str) -> float:
    """A finite age of 0 days or more: `inf` would overflow the date, and `-1` would purge every screening."""
    days = clikit.number(text, float, f"{text!r} is not a number of days")
    if not math.isfinite(days) or days < 0 or days > MAX_AGE_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of days from 0 to {MAX_AGE_DAYS}")
    return days


SINCE_HELP = "only screenings at or after this ISO 8601 date or time (UTC unless it has an offset, e.g. +05:30)"


def _fhir_url(text: str) -> str:
    from .fhir.push import check_base_url  # imports httpx: only when the option is given

    return check_base_url(text)


def _since(text: str) -> str:
    from .store import since_time

    return since_time(text)


def _fhir_args(p: argparse.ArgumentParser) -> None:
    from .fhir.codes import DEFAULT_CHILD_ID_SYSTEM

    g = p.add_argument_group("FHIR")
    g.add_argument(
        "--bundle",
        action="append",
        default=None,
        metavar="DIR",
        help="model bundle the results were screened with, for the Device's hash (repeatable; default: "
        f"$FACESCREEN_BUNDLE or {DEFAULT_BUNDLE})",
    )
    g.add_argument(
        "--child-id-system",
        default=DEFAULT_CHILD_ID_SYSTEM,
        type=clikit.checked(_identifier_system),
        metavar="URI",
        help="Identifier.system of the programme's child register; a result's child reference is the "
        f"subject's identifier under it (default {DEFAULT_CHILD_ID_SYSTEM})",
    )


def _identifier_system(text: str) -> str:
    from .fhir.resources import check_identifier_system

    return check_identifier_system(text)


def _out_file(text: str) -> str | Path:
    """``-`` (standard output) or a file this process can write, checked when parsing."""
    return text if text == "-" else clikit.writable_file(text)


def _quality(path: str | None):
    from .quality import QualityConfig

    return QualityConfig.from_file(path) if path else QualityConfig()


def _find(path: str | None):
    from .tracking import FindConfig

    return FindConfig.from_file(path) if path else FindConfig()


def _log_levels() -> list[str]:
    from uvicorn.config import LOG_LEVELS  # the server's own names (a name it lacks was a KeyError traceback)

    return list(LOG_LEVELS)


def _language(text: str) -> str:
    from .messages import language  # the message tables load only when parsing

    return language(text)


LANGUAGE = clikit.checked(_language)  # a language with messages ("es-MX" reads as "es"), checked when parsing


def _speech_choices() -> tuple[str, ...]:
    from .speech import SPEECH_CHOICES

    return SPEECH_CHOICES


def cmd_run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .app import KioskApp
    from .display import FolderOutput, GuiUnavailable, JsonLinesOutput, Renderer, WindowOutput
    from .engine import KioskEngine
    from .guidance import GuidanceConfig, GuidanceLoop
    from .sources import open_source, quiet_opencv
    from .store import ResultsStore, ServedModelRow, check_data_dir

    quiet_opencv(args.verbose)
    if not args.no_store:
        check_data_dir(args.data_dir)  # before the model loads and the window opens
    uri = args.source if args.source is not None else (args.camera if args.camera is not None else "0")
    outputs = []
    try:
        if not args.headless:
            outputs.append(WindowOutput(fullscreen=args.fullscreen))
    except GuiUnavailable as exc:
        print(f"{PROG}: error: no window: {exc}", file=sys.stderr)
        return clikit.EXIT_UNAVAILABLE
    try:  # before the model loads: what the options set is checked first
        guidance = GuidanceConfig(
            consecutive_frames=args.frames, result_timeout_s=args.result_timeout, language=args.lang
        )
    except ValidationError as exc:
        return _invalid_settings(exc, "run")
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
    source = open_source(
        uri, args.width, args.height, engine.limits, loop=args.loop, camera_timeout_s=args.camera_timeout or None
    )
    loop = GuidanceLoop(engine, guidance)
    store = None if args.no_store else ResultsStore(args.data_dir)
    if store is not None:  # a `serve` on this data folder later takes a tablet's results made with it
        store.note_served(ServedModelRow.of_card(engine.model_info()))
    if engine.is_demo:
        logging.getLogger(__name__).warning(
            "DEMO MODEL on SYNTHETIC data (%s): not for clinical use", engine.screener.card.model_id
        )
    from .speech import SpeechUnavailable, create_speaker

    try:
        speaker = create_speaker(args.speech, args.lang)
    except SpeechUnavailable as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return clikit.EXIT_UNAVAILABLE
    app = KioskApp(
        source,
        loop,
        outputs,
        renderer,
        store,
        kiosk_id=args.kiosk_id,
        operator_id=args.operator,
        on_event=speaker.on_event if speaker else None,
    )
    app.run(max_frames=args.max_frames)
    if source.gave_up:
        print(
            f"{PROG}: error: camera {uri} gave no frame for {args.camera_timeout:.0f} s; check that it is connected "
            f"(`{PROG} doctor` lists the cameras it finds), or give --source",
            file=sys.stderr,
        )
        return clikit.EXIT_UNAVAILABLE
    if app.frames_shown == 0:  # a replay that gave no frame (a folder names each file it skipped, above)
        print(f"{PROG}: error: no frame of {uri} could be read", file=sys.stderr)
        return clikit.EXIT_USAGE
    return 0


def _invalid_settings(exc, command: str) -> int:
    """A pydantic ValidationError of the settings a command's options made, one line per mistake
    (pydantic's own text is a block with a web link), and the usage exit status."""
    for e in exc.errors():
        if e["type"] == "value_error":  # our own sentence, without pydantic's "Value error, " before it
            text = str(e["ctx"]["error"])
        else:  # pydantic's, after the setting it is about
            text = ".".join(map(str, e["loc"])) + ": " + e["msg"] if e["loc"] else e["msg"]
        print(f"{PROG} {command}: error: {text}", file=sys.stderr)
    return clikit.EXIT_USAGE


def cmd_serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .server.run import serve
    from .server.settings import Settings
    from .store import check_data_dir

    check_data_dir(args.data_dir)  # before anything is loaded or a URL printed
    try:
        token = _file_token(args) or args.token or os.environ.get("FACESCREEN_TOKEN")
        # an option named as the setting it sets passes through by name (--port, --engines, ...); the
        # others are read or converted here, and win (--token is only one of the token's sources)
        same_named = {k: v for k, v in vars(args).items() if k in Settings.model_fields}
        converted = dict(
            token=token,
            landmarks_model=args.landmarks,
            max_upload_bytes=int(args.max_upload_mb * 2**20),
            max_pixels=int(args.max_megapixels * 1e6),
            language=args.lang,
            quality=_quality(args.quality_config),
            find=_find(args.find_config),
        )
        settings = Settings(**(same_named | converted))
    except ValidationError as exc:
        return _invalid_settings(exc, "serve")
    from .server.main import load_engines
    from .server.run import ListenError, listen_sockets

    try:
        sockets = listen_sockets(settings)  # before the model's seconds: a port in use is said at once
    except ListenError as exc:
        print(f"{PROG} serve: error: {exc}", file=sys.stderr)
        return clikit.EXIT_UNAVAILABLE
    try:
        engine = load_engines(settings)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    serve(settings, args.log_level, engine, sockets)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    events = run_demo(args.cache, args.lang, args.detector, args.backend, args.landmarks, as_json=args.json)
    return 0 if any(e.kind == "result" for e in events) else 1


def _rows(data_dir, since: str | None = None) -> list[dict]:
    """Every stored screening, oldest first (at or after ``since``)."""
    return _stored(data_dir, since)[0]


def _stored(data_dir, since: str | None = None) -> tuple[list[dict], list]:
    """(every stored screening oldest first, at or after ``since``; the models the store records serving)."""
    from .store import ResultsStore, existing_store

    store = ResultsStore(existing_store(data_dir))
    try:
        return store.list(limit=2**62, since=since)[::-1], store.served_models()
    finally:
        store.close()


def _fhir_inputs(args: argparse.Namespace):
    """(rows oldest first, models, options) for export --fhir and push: the bundles given (by default
    the default bundle, where there is one), then the models the store recorded serving."""
    from facescreen.edge.bundle import MODELCARD

    from .fhir.push import models_from
    from .fhir.resources import FhirOptions

    rows, served = _stored(args.data_dir, args.since)
    bundles = args.bundle or ([DEFAULT_BUNDLE] if (Path(DEFAULT_BUNDLE) / MODELCARD).is_file() else [])
    return rows, models_from(bundles, served), FhirOptions(child_id_system=args.child_id_system)


def _open_private(path) -> TextIO:
    """An export file for writing, readable by its owner only whatever the umask: it is health data,
    like the store it comes from (0600)."""
    from .store import FILE_MODE

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return open(fd, "w", newline="", encoding="utf-8")


def _write_json(doc: dict, out) -> None:
    import json

    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if out == "-":
        sys.stdout.write(text)
    else:
        with _open_private(out) as f:
            f.write(text)


def _export_suffix_problem(out: str | Path, fhir: bool) -> str | None:
    """Why ``--out``'s name does not fit what export writes: without --fhir it wrote CSV into
    ``results.json`` (or ``.xlsx``, which a spreadsheet then refused to open), with --fhir a JSON
    Bundle into ``results.csv``."""
    if out == "-":
        return None
    wanted, written = (".json", "a FHIR R4 Bundle (JSON)") if fhir else (".csv", "CSV")
    suffix = Path(out).suffix.lower()
    if suffix == wanted:
        return None
    hint = ""
    if suffix == ".json" and not fhir:
        hint = ", or add --fhir for a FHIR R4 Bundle"
    elif suffix == ".csv" and fhir:
        hint = ", or leave out --fhir for CSV"
    return f"--out {out}: export writes {written}; give a file name ending in {wanted}{hint}"


def cmd_export(args: argparse.Namespace) -> int:
    from .store import ResultsStore, check_data_dir, existing_store

    problem = _export_suffix_problem(args.out, args.fhir)
    if problem:
        print(f"{PROG} export: error: {problem}", file=sys.stderr)
        return clikit.EXIT_USAGE
    existing_store(check_data_dir(args.data_dir))  # the store is opened read-write, also for --fhir
    if args.fhir:
        from .fhir.bundle import exportable, transaction_bundle

        rows, models, opts = _fhir_inputs(args)
        rows = exportable(rows)
        _write_json(transaction_bundle(rows, models, Path(args.data_dir), opts), args.out)
        print(f"exported {len(rows)} screenings as a FHIR R4 transaction Bundle", file=sys.stderr)
        return 0
    store = ResultsStore(args.data_dir)
    if args.out == "-":
        n = store.export_csv(sys.stdout, args.since)
    else:
        with _open_private(args.out) as f:
            n = store.export_csv(f, args.since)
    print(f"exported {n} screenings", file=sys.stderr)
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from .fhir.push import push

    token = _file_token(args)
    rows, models, opts = _fhir_inputs(args)
    report = push(
        rows,
        models,
        Path(args.data_dir),
        args.fhir_url,
        token,
        batch_size=args.batch,
        opts=opts,
        dry_run=(lambda b: _write_json(b, "-")) if args.dry_run else None,
    )
    if args.dry_run:
        print(f"dry run: {report.queued} queued screenings shown, nothing sent", file=sys.stderr)
        return 0
    print(f"pushed {report.pushed} screenings in {report.batches} transactions to {args.fhir_url}", file=sys.stderr)
    for rid, why in report.refused.items():  # each stays queued; the others went
        print(f"{PROG} push: screening {rid} stays queued: {why}", file=sys.stderr)
    if report.error:
        print(f"{PROG} push: error: {report.error}", file=sys.stderr)
    return 0 if report.ok else clikit.EXIT_FAILED


def cmd_outcomes(args: argparse.Namespace) -> int:
    from .outcomes import import_outcomes

    known = {r["id"]: r["created_at"] for r in _rows(args.data_dir)}
    answers = import_outcomes(args.file, args.data_dir, known)
    for a in answers:  # one line per row, in the file's order, on stdout (a script can read them)
        print(f"{a.where}: {a.status}: {a.result_id or '-'}: {a.message}")
    bad = sum(not a.ok for a in answers)
    print(f"{len(answers) - bad} rows imported or already known, {bad} refused", file=sys.stderr)
    return clikit.EXIT_FAILED if bad else 0


def cmd_field_report(args: argparse.Namespace) -> int:
    from facescreen.edge.bundle import load_bundle

    from .fieldreport.render import build_report, write_report
    from .outcomes import OutcomeStore
    from .store import ResultsStore

    if args.prevalence is not None and not 0.0 < args.prevalence < 1.0:
        print(f"{PROG} field-report: error: --prevalence must be in (0, 1), got {args.prevalence}", file=sys.stderr)
        return clikit.EXIT_USAGE
    cards = {}
    for b in args.bundle or [DEFAULT_BUNDLE]:
        card = load_bundle(b, verify=False).card
        cards[(card.model_id, card.version)] = card.metrics
    if args.fhir_url:  # the programme's shared store: every kiosk's and tablet's results
        from .fhir.pull import pull
        from .fhir.push import PushRefused
        from .outcomes import fhir_events, judge, latest_of

        try:
            rows, outcome_doc, left_out = pull(args.fhir_url, _file_token(args))
        except PushRefused as exc:
            print(f"{PROG} field-report: error: {exc}", file=sys.stderr)
            return clikit.EXIT_FAILED
        for why in left_out:
            print(f"{PROG} field-report: screening on the server not used: {why}", file=sys.stderr)
        answers, kept = judge(fhir_events(outcome_doc), {r["id"]: r["created_at"] for r in rows}, {}, args.fhir_url)
        for a in answers:
            if not a.ok:
                print(f"{PROG} field-report: outcome on the server not used: {a.where}: {a.message}", file=sys.stderr)
        outcomes = latest_of((rid, outcome) for rid, outcome, _, _ in kept)
        refusals = None  # a FHIR server holds screenings only
    else:
        rows = _rows(args.data_dir)  # first: a folder without a results store gets no outcome store either
        store = OutcomeStore(args.data_dir)
        try:
            outcomes = store.latest()
        finally:
            store.close()
        results = ResultsStore(args.data_dir)
        try:
            refusals = results.refusals()
        finally:
            results.close()
    report = build_report(rows, outcomes, cards, args.prevalence, refusals, args.recent_days)
    paths = write_report(report, args.out)
    for a in report["alarms"]:
        print(f"ALARM: {a}", file=sys.stderr)
    print(f"wrote {', '.join(map(str, paths))}", file=sys.stderr)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from .fhir.push import unpushed
    from .store import ResultsStore, check_data_dir, existing_store, utc_now

    if args.older_than_days is None and not args.ids:
        print(f"{PROG} purge: error: purge needs --older-than-days N and/or --id ID", file=sys.stderr)
        return clikit.EXIT_USAGE
    age = dt.timedelta(days=args.older_than_days) if args.older_than_days is not None else None
    store = ResultsStore(existing_store(check_data_dir(args.data_dir)))
    try:
        # an id that matches nothing (mistyped, or purged before) is named: a family's request to delete
        # a screening must not end in "purged 0" and status 0
        unknown = sorted(set(args.ids) - store.known(args.ids))
        # a retention purge deleted screenings the programme's record had never received, and said
        # nothing; they are kept (an id asked for is deleted all the same: a family's request)
        now = utc_now()  # one cut-off for what is checked and what is deleted
        aged = () if age is None or args.include_unpushed else store.older_than(age, now)
        queued = unpushed(store.data_dir, [r for r in aged if r["id"] not in args.ids])
        keep = set().union(*queued.values())
        n = store.purge(age, args.ids, keep=keep, now=now)
    finally:
        store.close()
    print(f"purged {n} screenings", file=sys.stderr)
    if keep:
        print(
            f"kept {len(keep)} screenings older than {args.older_than_days:g} days that a FHIR server has not "
            f"accepted yet ({', '.join(f'{s}: {len(ids)}' for s, ids in queued.items())}): push them "
            "(facescreen-kiosk push), or delete them with --include-unpushed",
            file=sys.stderr,
        )
    for sid in unknown:
        print(f"{PROG} purge: no screening has id {sid} (mistyped, or purged before)", file=sys.stderr)
    return clikit.EXIT_FAILED if unknown else 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import doctor

    return doctor(args.bundle, args.assets, args.json, args.data_dir)


def _tablet_export(args: argparse.Namespace) -> int:
    from .tablet import cli as tablet_cli

    return tablet_cli.cmd(args)


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix, printed as one line (a TLS key others can read, a data folder
    this user cannot write or that holds no results store, a missing file)."""
    from .server.tls import TlsError
    from .store import DataDirError, NoStoreError

    return (FileNotFoundError, ValueError, TlsError, DataDirError, NoStoreError)


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


def main(argv: list[str] | None = None) -> int:
    given = None if argv is None else list(argv)
    argv = with_default_command(list(sys.argv[1:] if argv is None else argv))
    handlers = {
        "run": cmd_run,
        "serve": cmd_serve,
        "demo": cmd_demo,
        "export": cmd_export,
        "push": cmd_push,
        "outcomes": cmd_outcomes,
        "field-report": cmd_field_report,
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
