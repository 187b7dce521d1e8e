"""Day-0 models for label names other than Animals-10's, scored on the packaged photos.

    .venv/bin/python bench/day0_labels.py [--sets "cat,dog,bird,fish,insect" ...]
                                          [--kind-only]

For each label set, builds what `imgclf model day0 --labels NAMES` builds (no --eval-dir:
training.day0.build_day0), and prints its figures on the evaluation part of the packaged
photos (training.datasets.annotated): `annotated-photos` (the photos that show one of the
labels: int8 and float accuracy, an image called "unknown" counting as wrong, and the share
called "unknown") and `annotated-outside` (the photos that show none: the share called
"unknown"), with the "unknown" rule chosen on the calibration part. `--kind-only` builds
each with the evidence Animals-10's day-0 model uses instead (ImageNet's mass on the classes
of the labels' kind only), for comparison. Figures only, never a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from classifier.contracts import ANNOTATED_OUTSIDE, ANNOTATED_PHOTOS  # noqa: E402
from training.day0 import build_day0  # noqa: E402
from training.labels.mapper import map_labels  # noqa: E402

DEFAULT_SETS = (
    "cat,dog,bird,fish,insect",
    "car,boat,bird,flower",
    "car,boat,bird,flower,ball,fruit,tool",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    parser.add_argument("--kind-only", action="store_true")
    args = parser.parse_args(argv)
    evidence = "the labels' kind only" if args.kind_only else "every class no label owns"
    print(f"evidence of something else: ImageNet's mass on {evidence}")
    for names in args.sets:
        mapping = {m.label: m.indices for m in map_labels(names.split(",")).values()}
        with tempfile.TemporaryDirectory() as scratch:
            started = time.monotonic()
            result = build_day0(
                Path(scratch) / "model",
                version="day0-bench",
                mapping=mapping,
                kind_only=True if args.kind_only else None,
            )
            seconds = time.monotonic() - started
        evaluations = result.metadata.metrics["evaluations"]
        inside, outside = evaluations[ANNOTATED_PHOTOS], evaluations[ANNOTATED_OUTSIDE]
        print(
            f"  {names}: {ANNOTATED_PHOTOS} int8 {inside['accuracy']:.1%} "
            f"(float {inside['float_accuracy']:.1%}) of {inside['count']}, "
            f"unknown {inside['unknown_rate']:.1%}; {ANNOTATED_OUTSIDE} called unknown "
            f"{outside['accuracy']:.1%} of {outside['count']}; gate "
            f"{'passed' if result.gate.passed else 'FAILED'}; built in {seconds:.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
