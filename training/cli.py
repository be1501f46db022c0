"""facescreen-train: command line of the training module."""
from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facescreen-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo-bundle", help="build (once, cached) the demo bundle from the SYNTHETIC cohort")
    demo.add_argument("--cache", default=".cache", help="cache directory (default: .cache)")
    demo.add_argument("--force", action="store_true", help="rebuild even if cached")
    bench = sub.add_parser("bench-bundle", help="build (once, cached) the VGG-16 @ 224 benchmark bundle "
                           "(random conv base + head fitted on the SYNTHETIC cohort; for latency only)")
    bench.add_argument("--cache", default=".cache", help="cache directory (default: .cache)")
    bench.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "demo-bundle":
        from .demo import build_demo_bundle

        print(build_demo_bundle(args.cache, force=args.force))
    elif args.command == "bench-bundle":
        from .reference import build_bench_bundle

        print(build_bench_bundle(args.cache, force=args.force))
    return 0


if __name__ == "__main__":
    sys.exit(main())
