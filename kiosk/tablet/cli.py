"""``facescreen-kiosk tablet-export``: the offline tablet app as static files, behind the parity gate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facescreen.edge import clikit


def add_parser(sub, bundle_default: str) -> None:
    p = clikit.add_subcommand(
        sub,
        "tablet-export",
        help="write the offline tablet app (a PWA) as static files, after a parity check in headless Chromium",
        description="Assemble the tablet app from the bundle's verified edge artifacts and the npm "
        "runtime (make tablet), run it in headless Chromium on verification photos against "
        "the Python edge path, and write it only if it passes. Serve the folder from any "
        "web server (https, or localhost) or let `facescreen-kiosk serve` serve "
        "BUNDLE/tablet at /tablet/.",
    )
    p.add_argument("--bundle", default=bundle_default, help=f"model bundle directory (default: {bundle_default})")
    p.add_argument(
        "--out",
        default=None,
        type=clikit.checked(_out_folder),
        help="output folder: new, empty, or an earlier export's (default: BUNDLE/tablet, served at /tablet/)",
    )
    p.add_argument("--runtime", default=None, help="browser runtime: onnxruntime-web (default) or litert-js")
    p.add_argument(
        "--parity",
        default=None,
        metavar="DIR",
        type=clikit.checked(_parity_folder),
        help="also check on a folder of photos (its cohort.csv's when it has one, e.g. .cache/parity-cohort)",
    )
    p.add_argument(
        "--parity-limit", type=clikit.positive_int, default=None, help="check only the first N cohort photos"
    )
    from ..cli import add_config_file_args  # here: the kiosk's CLI imports this module as it builds

    add_config_file_args(p)


def _out_folder(text: str) -> Path:
    from .export import check_out_folder  # checked when parsing too: before minutes in Chromium

    return check_out_folder(Path(text))


def _parity_folder(text: str) -> Path:
    from .parity import cohort_photos  # checked when parsing: before minutes in Chromium

    cohort_photos(text)
    return Path(text)


def cmd(args: argparse.Namespace) -> int:
    import functools

    from ..quality import QualityConfig
    from ..tracking import FindConfig
    from .export import DEFAULT_RUNTIME, TabletExportError, export_app
    from .parity import verification_set, verify_app

    photos = verification_set(args.parity, args.parity_limit)
    verify = functools.partial(verify_app, bundle_dir=Path(args.bundle), photos=photos)
    try:
        out = export_app(
            args.bundle,
            args.out,
            args.runtime or DEFAULT_RUNTIME,
            verify=verify,
            progress=lambda s: print(s, file=sys.stderr),
            quality=QualityConfig.from_file(args.quality_config) if args.quality_config else None,
            find=FindConfig.from_file(args.find_config) if args.find_config else None,
        )
    except TabletExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0
