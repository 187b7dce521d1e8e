"""The run: parse the options, build the models, and print each section in order."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from classifier.imaging import InputSpec, prepare_image
from classifier.model import LoadedModel

from .builds import build_lite0, build_mnv2
from .cold_start import cold_start_section
from .colour_cost import colours_section
from .inputs import LIMITS, PNG_1MP, inputs, lite0_calibration
from .paths import TARGETS, measure, table_header
from .png_stages import png_section
from .xnnpack import cpu_line, xnnpack_section


def parse_args(argv: Sequence[str] | None, description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeats", type=int, default=40)
    only = parser.add_mutually_exclusive_group()
    only.add_argument(
        "--colours-only", action="store_true", help="only the dominant-colours section"
    )
    only.add_argument(
        "--generic-only", action="store_true", help="only the generic labels + quality section"
    )
    only.add_argument(
        "--png-only",
        action="store_true",
        help="only Lite0: its 1 MP PNG path, XNNPACK and the PNG section",
    )
    return parser.parse_args(argv)


def generic_section(images: dict[str, bytes], repeats: int) -> None:
    """What generic labels + image quality add to the classify path (bench/generic_cost.py)."""
    from bench import generic_cost

    spec = InputSpec(224, 224)
    prepared = {name: prepare_image(data, spec, LIMITS).array for name, data in images.items()}
    generic_cost.section(prepared, lite0_calibration(images, spec), repeats)


def main(argv: Sequence[str] | None = None, description: str = "") -> None:
    """bench/classify_bench.py: every section, or the one its option asks for."""
    args = parse_args(argv, description)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    images = inputs()
    work = Path(tempfile.mkdtemp(prefix="imgclf-bench-"))
    print(
        f"imgclf per-image benchmark — {os.cpu_count()} cores, 1 inference thread, "
        f"{args.repeats} repeats\n{cpu_line()}\n"
    )
    if args.generic_only:
        generic_section(images, args.repeats)
        return
    lite0_artifact, lite0_keras, lite0_weights = build_lite0(work, images)
    print(f"Lite0: EfficientNet-Lite0 224 px, {lite0_weights}, 10-class head, int8\n")
    lite0 = LoadedModel.from_directory(lite0_artifact)
    if args.colours_only:
        colours_section(lite0, images, args.repeats)
        return
    table_header()
    if args.png_only:
        measure("Lite0-224", 224, lite0, lite0_keras, {PNG_1MP: images[PNG_1MP]}, args.repeats)
        xnnpack_section({"Lite0-224": lite0_artifact}, args.repeats)
        png_section(images[PNG_1MP], lite0, 2 * args.repeats)
        return
    ratios = measure("Lite0-224", 224, lite0, lite0_keras, images, args.repeats)
    artifacts = {"Lite0-224": lite0_artifact}
    for size in (224, 128):
        artifact, keras_model = build_mnv2(work, size)
        model = LoadedModel.from_directory(artifact)
        ratios += measure(f"MNv2-{size}", size, model, keras_model, images, args.repeats)
        artifacts[f"MNv2-{size}"] = artifact
    xnnpack_section(artifacts, args.repeats)
    colours_section(lite0, images, args.repeats)
    generic_section(images, args.repeats)
    png_section(images[PNG_1MP], lite0, 2 * args.repeats)
    cold_start_section(work, images["1080p JPEG (1920x1080)"])
    print(
        f"median speed-up over the naive path: {statistics.median(ratios):.1f}x "
        f"(min {min(ratios):.1f}x)"
    )
    print("\ntargets: " + json.dumps(TARGETS))
