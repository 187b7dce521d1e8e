"""Train the default models for the emoji and digits data sets and print their figures.

    .venv/bin/python bench/training_accuracy.py [--datasets emoji digits] [--out bench/out]

Each data set is generated afresh, so the wall time includes generation, training,
both evaluations and the int8 export. Targets (issue 3): emoji int8 accuracy >= 95%,
digits >= 97%, int8 within 1 pp of float, int8 size <= 30% of float. Not a test.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training.config import TrainConfig  # noqa: E402
from training.train import run  # noqa: E402

TARGETS = {"emoji": 0.95, "digits": 0.97}
MAX_DROP_PP = 1.0
MAX_SIZE_RATIO = 0.30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["emoji", "digits"], choices=TARGETS)
    parser.add_argument("--out", type=Path, default=Path("bench/out/training"))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    rows = []
    for dataset in args.datasets:
        root = args.out / dataset
        shutil.rmtree(root, ignore_errors=True)
        started = time.monotonic()
        result = run(
            TrainConfig(
                data_dir=root / "data",
                model_dir=root / "model",
                output_dir=root / "output",
                dataset=dataset,
                artifact_path=root / "model.tar.gz",
                version=f"bench-{dataset}",
                seed=args.seed,
            )
        )
        wall = time.monotonic() - started
        rows.append((dataset, result.metadata.metrics, result.passed, wall))

    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    header = (
        f"{'dataset':8} {'float':>7} {'int8':>7} {'target':>7} {'drop pp':>8} {'held-out':>8} "
        f"{'float KB':>9} {'int8 KB':>8} {'ratio':>6} {'ms/img':>7} {'epochs':>6} "
        f"{'train s':>8} {'wall s':>7}  verdict"
    )
    print(header)
    print("-" * len(header))
    all_met = True
    for dataset, m, passed, wall in rows:
        met = (
            m["int8_accuracy"] >= TARGETS[dataset]
            and m["drop_pp"] <= MAX_DROP_PP
            and m["size_ratio"] <= MAX_SIZE_RATIO
        )
        all_met &= met and passed
        heldout = f"{m['heldout_accuracy']:.2%}" if "heldout_accuracy" in m else "-"
        print(
            f"{dataset:8} {m['float_accuracy']:7.2%} {m['int8_accuracy']:7.2%} "
            f"{TARGETS[dataset]:7.0%} {m['drop_pp']:8.2f} {heldout:>8} "
            f"{m['float_size_bytes'] / 1024:9.0f} {m['int8_size_bytes'] / 1024:8.0f} "
            f"{m['size_ratio']:6.1%} {m['int8_latency_ms_p50']:7.2f} {m['epochs_trained']:6d} "
            f"{m['train_seconds']:8.0f} {wall:7.0f}  "
            f"{'targets met' if met else 'TARGET MISSED'}, gate {'passed' if passed else 'FAILED'}"
        )
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
