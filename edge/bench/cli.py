"""facescreen-bench: latency of every target this machine can run, the detectors, and the whole
photo-in/flag-out path; prints a table and writes bench.json, bench.csv and bench.png.

    facescreen-bench BUNDLE --photos DIR [--out DIR]
    facescreen-bench --compare A.json B.json

Exit status: 0 every target measured; 1 a target failed (its row says why, the others are measured);
2 a user's mistake; 3 something asked for cannot run here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import clikit
from ..backends.base import default_threads
from ..errors import FaceScreenError
from .measure import DEFAULT_MAX_VARIATION_PCT, MLPERF_SINGLE_STREAM, TRTEXEC_UNSTABLE_COV_PCT

PROG = "facescreen-bench"


def photo_folder(text: str) -> Path:
    """``--photos``: a folder that holds photos, checked when parsing (they are first read after the
    bundle has loaded)."""
    from .runner import bench_photos  # OpenCV's import, only when --photos is given

    bench_photos(text)
    return Path(text)


def build_parser() -> argparse.ArgumentParser:
    p = clikit.new_parser(PROG, __doc__)
    p.add_argument("bundle", nargs="?", type=Path, help="model bundle directory")
    p.add_argument(
        "--photos",
        type=clikit.checked(photo_folder),
        help="folder of photos to align for the faces and frames measured",
    )
    p.add_argument("--out", type=clikit.output_folder, default="bench-out", help="output folder (default: bench-out)")
    p.add_argument("--artifacts", default=None, help="comma-separated artifacts (default: all runnable here)")
    p.add_argument(
        "--threads",
        type=clikit.thread_count,
        default=default_threads(),
        help="inference threads (fixed; default: the kiosk's, min(4, cores))",
    )
    p.add_argument("--warmup", type=clikit.count, default=5, help="untimed runs before timing (default: 5)")
    p.add_argument(
        "--repeat",
        type=clikit.positive_int,
        default=50,
        help="single-stream queries (batch 1, one after another), at least (default: 50)",
    )
    p.add_argument(
        "--min-seconds", type=clikit.seconds_or_zero, default=2.0, help="time each target for at least this long"
    )
    p.add_argument(
        "--mlperf",
        action="store_true",
        help=f"MLPerf's single-stream minimums: {MLPERF_SINGLE_STREAM['min_queries']} queries and "
        f"{MLPERF_SINGLE_STREAM['min_seconds']:.0f} s per target (overrides --repeat and --min-seconds; long)",
    )
    p.add_argument(
        "--batch",
        type=clikit.positive_int,
        default=8,
        help="largest batch tried for offline throughput; the best of 1, 2, 4, ... up to it is reported (default: 8)",
    )
    p.add_argument(
        "--max-variation",
        type=clikit.positive_number,
        default=DEFAULT_MAX_VARIATION_PCT,
        help="warn when a timing's coefficient of variation exceeds this many percent "
        f"(default: {DEFAULT_MAX_VARIATION_PCT:g}; trtexec warns above {TRTEXEC_UNSTABLE_COV_PCT:g})",
    )
    p.add_argument("--no-cold-start", action="store_true", help="skip timing each target from a new process")
    p.add_argument("--faces", type=clikit.positive_int, default=24, help="aligned faces used for parity (default: 24)")
    p.add_argument("--no-detectors", action="store_true", help="skip the detector comparison")
    p.add_argument("--no-pipeline", action="store_true", help="skip the photo-in/flag-out measurement")
    p.add_argument(
        "--no-sections",
        action="store_true",
        help="skip the sections installed packages contribute (e.g. the kiosk's guidance and server)",
    )
    p.add_argument(
        "--compare",
        nargs=2,
        type=clikit.existing_file,
        metavar=("A.json", "B.json"),
        help="print two earlier runs side by side and exit",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    return clikit.run(PROG, build_parser(), _bench, argv)


def _bench(args: argparse.Namespace) -> int:
    from .report import compare, format_report, read_record, write_outputs

    if args.compare:
        print(compare(*(read_record(p) for p in args.compare)))
        return clikit.EXIT_OK
    if args.bundle is None or args.photos is None:
        raise FaceScreenError("BUNDLE and --photos are required (or use --compare A.json B.json)")
    from .runner import BenchConfig, run_benchmark
    from .targets import BenchSettings

    cfg = BenchConfig(
        bundle=args.bundle,
        photos=args.photos,
        n_faces=args.faces,
        detectors=not args.no_detectors,
        pipeline=not args.no_pipeline,
        sections=not args.no_sections,
        cold_start=not args.no_cold_start,
        artifacts=tuple(args.artifacts.split(",")) if args.artifacts else None,
        settings=BenchSettings(
            threads=args.threads,
            warmup=args.warmup,
            repeat=int(MLPERF_SINGLE_STREAM["min_queries"]) if args.mlperf else args.repeat,
            min_seconds=MLPERF_SINGLE_STREAM["min_seconds"] if args.mlperf else args.min_seconds,
            batch=args.batch,
            max_variation_pct=args.max_variation,
        ),
    )
    result = run_benchmark(cfg, log=lambda m: print(m, file=sys.stderr))
    print(format_report(result))
    for path in write_outputs(result, args.out):
        print(f"wrote {path}")
    return clikit.EXIT_OK if all(r.get("status") == "ok" for r in result["models"]) else clikit.EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
