"""Chaos soak of the local pipeline: a seeded workload under injected faults, then an audit.

    .venv/bin/python -m bench.soak --help

What it runs and prints: the package's docstring (bench/soak/__init__.py).
"""

from __future__ import annotations

import argparse
import sys

from .parameters import (
    DEFAULT_BASELINE_IMAGES,
    DEFAULT_IMAGES,
    DEFAULT_MAX_FINDINGS,
    DEFAULT_WORKERS,
    DEPLOYED_ENV,
    MAX_BACKLOG,
    POISON_KEYS,
    UPLOAD_THREADS,
)
from .run import run_soak


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES, help="uploads (10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-faults", dest="faults", action="store_false")
    parser.add_argument("--no-versioned", dest="versioned", action="store_false")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="poller workers (2)")
    parser.add_argument("--upload-threads", type=int, default=UPLOAD_THREADS)
    parser.add_argument(
        "--retry-mode",
        choices=("legacy", "standard", "adaptive"),
        help="botocore retry mode for the function (its RETRY_MODE setting)",
    )
    parser.add_argument(
        "--baseline-images",
        type=int,
        help=f"uploads of the no-fault baseline pass (min(N, {DEFAULT_BASELINE_IMAGES}); 0: none)",
    )
    parser.add_argument("--poison", type=int, default=POISON_KEYS, help="poison/ keys (5)")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a function environment variable (repeatable)",
    )
    parser.add_argument("--drain-timeout", type=float, help="seconds per drain")
    parser.add_argument(
        "--max-backlog",
        type=int,
        default=MAX_BACKLOG,
        help=f"uploads wait while more messages than this are queued ({MAX_BACKLOG}; 0: never)",
    )
    parser.add_argument(
        "--function-timeout",
        type=int,
        help=f"the function's timeout in seconds (default: cdk.json {DEPLOYED_ENV}'s)",
    )
    parser.add_argument(
        "--max-findings", type=int, default=DEFAULT_MAX_FINDINGS, help="histories printed (20)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """The soak with the command line's options; 0 only if its audit holds."""
    args = parse_args(argv)
    report = run_soak(
        args.images,
        seed=args.seed,
        faults=args.faults,
        retry_mode=args.retry_mode,
        versioned=args.versioned,
        workers=args.workers,
        baseline_images=args.baseline_images,
        upload_threads=args.upload_threads,
        poison=args.poison,
        drain_timeout_seconds=args.drain_timeout,
        function_timeout_seconds=args.function_timeout,
        function_settings=dict(pair.split("=", 1) for pair in args.setting),
        max_backlog=args.max_backlog,
        max_findings=args.max_findings,
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
