"""Benchmark the function's per-image path against a naive baseline measured in the same run.

    .venv/bin/python bench/classify_bench.py [--repeats 40] [--colours-only | --generic-only]

Per-image path: bytes -> classifier.imaging.prepare_image (JPEG draft scaling, libspng with
ISA-L inflate for PNG) -> LiteRT int8 -> top-k, on one thread. Baseline: full Pillow decode ->
resize -> Keras `predict` on the same float model. Models: EfficientNet-Lite0 at 224 px
(ImageNet weights when the weights package is installed, a new 10-class head, int8 through
training.export) and MobileNetV2 (alpha 1.0, random weights: latency does not depend on
them) at 224 and 128 px. Then where a 1 MP PNG's time goes, stage by stage, and what other
inflaters, decoders and resizes buy, each as a ratio against the current path in the same
run. Optional decoders are measured when importable, e.g. from
`pip install --target .imgclf/bench-extras --no-deps zlib-ng deflate imagecodecs` and
PYTHONPATH=.imgclf/bench-extras. Also: cold start of a fresh process (import, load, classify
one image) with LiteRT vs with TensorFlow, and the installed size of the runtime requirements.
Colours: the dominant-colour step alone (thumbnail from the model input + k-means in Lab +
CIEDE2000 naming) and the classify p50 with and without it, interleaved in the same run
(`--colours-only` runs just that, on Lite0). Generic labels: what the hierarchy's sums, the
labels and the quality figures add to the decode-free classify step of Lite0 int8 with
ImageNet's logits, with and without, interleaved (bench/generic_cost.py; `--generic-only`).
Prints figures only; targets are shown beside them, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "functions")]

import numpy as np  # noqa: E402
import PIL  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

from classifier import imaging, png_bytes  # noqa: E402
from classifier.artifact import ModelMetadata  # noqa: E402
from classifier.colours import dominant_colours  # noqa: E402
from classifier.imaging import ImageLimits, InputSpec, prepare_image  # noqa: E402
from classifier.model import LoadedModel  # noqa: E402
from classifier.verify import PROBE_IMAGES, write_checked_artifact  # noqa: E402

LIMITS = ImageLimits()
TARGETS = {
    "p50 <= 2 MP": "<= 15 ms",
    "p50 12 MP JPEG": "<= 40 ms",
    "speed-up": ">= 10x",
    "cold start": "<= 1 s",
    "install": "<= 200 MB",
    "colours": "<= 2 ms p50 added",
    "generic labels + quality": "<= 1 ms p50 added",
}


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """A synthetic 'photo': gradients, shapes, texture and blur, so codecs work realistically."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 180, (x + y) / (width + height) * 255], -1)
    image = Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(width // 40, width // 6))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.ellipse((x0, y0, x0 + size, y0 + size), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(1.5))


def inputs() -> dict[str, bytes]:
    def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **params)
        return buffer.getvalue()

    return {
        "12 MP JPEG (4000x3000)": encode(photo_like(4000, 3000), "JPEG", quality=90),
        "1080p JPEG (1920x1080)": encode(photo_like(1920, 1080, 1), "JPEG", quality=90),
        "1 MP PNG (1000x1000)": encode(photo_like(1000, 1000, 2), "PNG"),
    }


def build_models(directory: Path, size: int) -> tuple[Path, object]:
    """MobileNetV2 at `size` px: the int8 artifact for LiteRT and the float Keras model."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inputs_ = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs_)
    base = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), weights=None, include_top=False, pooling="avg"
    )
    outputs = keras.layers.Dense(10, activation="softmax")(base(x))
    model = keras.Model(inputs_, outputs)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: (
        [rng.uniform(0, 255, (1, size, size, 3)).astype(np.float32)] for _ in range(20)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    metadata = ModelMetadata(
        version=f"bench-mnv2-{size}",
        input=InputSpec(size, size),
        labels=tuple(f"class{i}" for i in range(10)),
    )
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints its SavedModel
        tflite = converter.convert()
    probe = np.stack([np.asarray(photo_like(size, size, seed)) for seed in range(PROBE_IMAGES)])
    artifact = write_checked_artifact(directory / f"mnv2-{size}", tflite, metadata, None, probe)
    model.save(directory / f"mnv2-{size}.keras")
    return artifact, model


def build_lite0(directory: Path, images: dict[str, bytes]) -> tuple[Path, object, str]:
    """EfficientNet-Lite0 at 224 px with a new 10-class head, int8 through training.export.

    ImageNet weights when the weights package is installed (converted once and cached, as
    training does); random ones otherwise. Calibration: the bench's own inputs, prepared as
    the function prepares them, plus a few more synthetic photos.
    """
    import keras

    from training import export
    from training.backbones import efficientnet_lite as lite

    keras.utils.set_random_seed(0)
    shape = (lite.IMAGE_SIZE, lite.IMAGE_SIZE, 3)
    try:
        model, weights = lite.make_classifier(shape, 10), "ImageNet weights"
    except lite.WeightsUnavailableError as error:
        print(f"[Lite0: {error}; random weights]")
        model, weights = lite.make_classifier(shape, 10, weights=None), "random weights"
    spec = InputSpec(lite.IMAGE_SIZE, lite.IMAGE_SIZE)
    metadata = ModelMetadata(
        version="bench-lite0-224",
        input=spec,
        labels=tuple(f"class{i}" for i in range(10)),
        architecture=lite.ARCH,
    )
    calibration = lite0_calibration(images, spec)
    int8 = export.to_int8_tflite(model, calibration)
    artifact = write_checked_artifact(directory / "lite0-224", int8, metadata, None, calibration)
    return artifact, model, weights


def lite0_calibration(images: dict[str, bytes], spec: InputSpec) -> np.ndarray:
    """The Lite0 int8 calibration images: the bench's inputs, prepared as the function
    prepares them, plus a few more synthetic photos."""
    calibration = [prepare_image(data, spec, LIMITS).array for data in images.values()]
    calibration += [np.asarray(photo_like(spec.width, spec.height, seed)) for seed in range(10, 23)]
    return np.stack(calibration)


def generic_section(images: dict[str, bytes], repeats: int) -> None:
    """What generic labels + image quality add to the classify path (bench/generic_cost.py)."""
    import generic_cost

    spec = InputSpec(224, 224)
    prepared = {name: prepare_image(data, spec, LIMITS).array for name, data in images.items()}
    generic_cost.section(prepared, lite0_calibration(images, spec), repeats)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def time_calls(call: object, repeats: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        call()  # type: ignore[operator]
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def interleaved(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Time each call `repeats` times, round-robin, so load drift hits all of them alike."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        call()
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def naive_path(data: bytes, keras_model: object, size: int) -> None:
    """What a first version would do: decode everything, resize, Keras predict."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    array = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), np.float32)
    keras_model.predict(array[None], verbose=0)  # type: ignore[attr-defined]


COLD_LITERT = """
import time, sys
started = time.perf_counter()
from pathlib import Path
from classifier.imaging import ImageLimits, prepare_image
from classifier.model import LoadedModel
model = LoadedModel.from_directory(Path(sys.argv[1]))
data = Path(sys.argv[2]).read_bytes()
model.predict(prepare_image(data, model.spec, ImageLimits()).array)
print((time.perf_counter() - started) * 1000)
"""

COLD_TENSORFLOW = """
import time, sys, os
started = time.perf_counter()
import io, numpy as np, keras
from PIL import Image
model = keras.models.load_model(sys.argv[1])
size = model.input_shape[1]
image = Image.open(io.BytesIO(open(sys.argv[2], "rb").read())).convert("RGB").resize((size, size))
model.predict(np.asarray(image, np.float32)[None], verbose=0)
print((time.perf_counter() - started) * 1000)
"""


def target(input_name: str) -> str:
    return "<= 40 ms" if input_name.startswith("12 MP") else "<= 15 ms"


def met(p50: float, input_name: str) -> str:
    return "ok" if p50 <= float(target(input_name).split()[1]) else "MISSED"


def measure(
    label: str,
    size: int,
    model: LoadedModel,
    keras_model: object,
    images: dict[str, bytes],
    repeats: int,
) -> list[float]:
    """Print p50/p95 of our path and the naive one for each input; return the speed-ups."""
    ratios = []
    for name, data in images.items():
        ours = time_calls(
            lambda data=data: model.predict(prepare_image(data, model.spec, LIMITS).array),
            repeats,
        )
        naive = time_calls(
            lambda data=data: naive_path(data, keras_model, size), max(5, repeats // 4)
        )
        (p50, p95), (n50, n95) = percentiles(ours), percentiles(naive)
        ratios.append(n50 / p50)
        print(
            f"{label:<10} {name:<24} {p50:>8.1f}ms {p95:>5.1f}ms {n50:>8.1f}ms "
            f"{n95:>5.1f}ms {n50 / p50:>8.1f}x  {target(name)} {met(p50, name)}"
        )
    blank = np.zeros((size, size, 3), np.uint8)
    infer = percentiles(time_calls(lambda: model.predict(blank), repeats))
    print(f"{label:<10} {'(inference only)':<24} {infer[0]:>8.1f}ms {infer[1]:>5.1f}ms")
    return ratios


def colours_section(model: LoadedModel, images: dict[str, bytes], repeats: int) -> None:
    """What the dominant colours add per image: the step alone, and classify with and without."""
    print(
        f"\ncolours (Lite0-224, p50 over {repeats} interleaved rounds; the colour step is "
        "imaging.thumbnail of the model input + colours.dominant_colours)"
    )
    print(
        f"  {'input':<24} {'colours':>9} {'classify':>10} {'+ colours':>10} {'added':>8} "
        f"{'ratio':>7}  top colours"
    )
    added_all = []
    for name, data in images.items():
        prepared = prepare_image(data, model.spec, LIMITS)

        def classify(data: bytes = data) -> None:
            model.predict(prepare_image(data, model.spec, LIMITS).array)

        def classify_with_colours(data: bytes = data) -> None:
            ready = prepare_image(data, model.spec, LIMITS)
            model.predict(ready.array)
            dominant_colours(ready.thumbnail)

        samples = interleaved(
            {
                "colours": partial(colours_of, prepared.array),
                "without": classify,
                "with": classify_with_colours,
            },
            repeats,
        )
        p50 = {key: statistics.median(values) for key, values in samples.items()}
        added = p50["with"] - p50["without"]
        added_all.append(p50["colours"])
        top = ", ".join(f"{c.name} {c.fraction:.2f}" for c in dominant_colours(prepared.thumbnail))
        print(
            f"  {name:<24} {p50['colours']:>7.2f}ms {p50['without']:>8.1f}ms "
            f"{p50['with']:>8.1f}ms {added:>+6.2f}ms {p50['with'] / p50['without']:>6.3f}x  {top}"
        )
    worst = max(added_all)
    print(
        f"  colour step p50, worst input: {worst:.2f} ms  target {TARGETS['colours']} "
        f"{'ok' if worst <= 2 else 'MISSED'}"
    )


def optional(module: str) -> Any:
    """An optional decoder for the PNG section, or None when it is not importable."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def idat_stream(data: bytes) -> bytes:
    chunks = png_bytes.png_chunks(data)
    assert chunks is not None
    return b"".join(data[start + 8 : end - 4] for kind, start, end in chunks if kind == b"IDAT")


def with_stored_idat(data: bytes, raw: bytes) -> bytes:
    """The same PNG with `raw` (filtered scanlines) as its image data, stored uncompressed."""
    chunks = png_bytes.png_chunks(data)
    assert chunks is not None
    idat = [(start, end) for kind, start, end in chunks if kind == b"IDAT"]
    return b"".join([data[: idat[0][0]], *png_bytes.stored_idat(raw), data[idat[-1][1] :]])


def pre_inflate_with(inflate: Callable[[bytes, int], bytes]) -> Callable[[bytes], bytes]:
    """imaging's pre-inflate with another inflater (8-bit RGB, non-interlaced only)."""

    def run(data: bytes) -> bytes:
        width, height = struct.unpack(">II", data[16:24])
        return with_stored_idat(data, inflate(idat_stream(data), height * (1 + 3 * width)))

    return run


def colours_of(array: np.ndarray) -> list[Any]:
    return list(dominant_colours(imaging.thumbnail(array)))


def load_pre_inflated(data: bytes) -> Any:
    import pyspng

    return pyspng.load(png_bytes.pre_inflated(data) or data)


def prepare_without_isal(data: bytes, spec: InputSpec) -> np.ndarray:
    """prepare_image as it was before ISA-L: libspng inflates with its own zlib."""
    saved = png_bytes.isal_zlib
    setattr(png_bytes, "isal_zlib", None)  # noqa: B010 - the module's optional import
    try:
        return prepare_image(data, spec, LIMITS).array
    finally:
        png_bytes.isal_zlib = saved


def png_section(data: bytes, model: LoadedModel, repeats: int) -> None:
    """Where a 1 MP PNG's time goes, and what other inflaters, decoders and resizes buy."""
    import pyspng
    from isal import isal_zlib
    from PIL import features

    spec = model.spec
    stream = idat_stream(data)
    raw = zlib.decompress(stream)
    decoded = pyspng.load(data)
    height, width = decoded.shape[:2]
    filters = np.frombuffer(raw, np.uint8)[:: 1 + width * 3]
    names = ("None", "Sub", "Up", "Average", "Paeth")
    mix = ", ".join(f"{n} {names[f]}" for f, n in enumerate(np.bincount(filters, minlength=5)) if n)
    no_filters = np.concatenate([np.zeros((height, 1), np.uint8), decoded.reshape(height, -1)], 1)
    stored_same = with_stored_idat(data, raw)
    stored_none = with_stored_idat(data, no_filters.tobytes())
    image = Image.fromarray(decoded, "RGB")
    current = np.asarray(imaging._fit(image, spec), np.uint8)
    zlib_ng = optional("zlib_ng.zlib_ng")
    libdeflate = optional("deflate")
    imagecodecs = optional("imagecodecs")
    size = (spec.width, spec.height)
    bilinear = Image.Resampling.BILINEAR

    def thumbnail() -> Image.Image:
        copy = image.copy()
        copy.thumbnail(size, bilinear, reducing_gap=2.0)
        return copy

    calls: dict[str, Callable[[], object]] = {
        "prepare_image before (libspng alone)": lambda: prepare_without_isal(data, spec),
        "prepare_image now (ISA-L pre-inflate)": lambda: prepare_image(data, spec, LIMITS),
        "header: Image.open": lambda: Image.open(io.BytesIO(data)),
        "libspng decode alone": lambda: pyspng.load(data),
        "libspng decode, stored IDAT, same filters": lambda: pyspng.load(stored_same),
        "libspng decode, stored IDAT, no filters": lambda: pyspng.load(stored_none),
        "pre-inflate (ISA-L inflate + stored IDAT)": lambda: png_bytes.pre_inflated(data),
        "libspng decode with ISA-L pre-inflate": lambda: pyspng.load(png_bytes.pre_inflated(data)),
        "Image.fromarray": lambda: Image.fromarray(decoded, "RGB"),
        "resize (bilinear, reducing_gap 3)": lambda: imaging._fit(image, spec),
        "np.asarray of the 224 image": lambda: np.asarray(Image.fromarray(current), np.uint8),
        "Lite0 int8 inference": lambda: model.predict(current),
        f"zlib.decompress, Python's zlib {zlib.ZLIB_RUNTIME_VERSION}": lambda: zlib.decompress(
            stream
        ),
        "isal_zlib.decompress (ISA-L)": lambda: isal_zlib.decompress(stream),
        "Pillow decode (its zlib + its unfilter)": lambda: Image.open(io.BytesIO(data)).load(),
        "resize, reducing_gap 2 (reduce x2 first)": lambda: image.resize(
            size, bilinear, reducing_gap=2.0
        ),
        "thumbnail, reducing_gap 2": thumbnail,
        "reduce(4), then resize": lambda: image.reduce(4).resize(size, bilinear),
    }
    if zlib_ng is not None:
        calls["zlib_ng.decompress (zlib-ng)"] = lambda: zlib_ng.decompress(stream)
        ng = pre_inflate_with(lambda z, n: zlib_ng.decompress(z, bufsize=n))
        calls["libspng decode with zlib-ng pre-inflate"] = lambda: pyspng.load(ng(data))
    if libdeflate is not None:
        calls["deflate.zlib_decompress (libdeflate)"] = lambda: libdeflate.zlib_decompress(
            stream, len(raw)
        )
        ld = pre_inflate_with(libdeflate.zlib_decompress)
        calls["libspng decode with libdeflate pre-inflate"] = lambda: pyspng.load(ld(data))
    if imagecodecs is not None:
        calls["imagecodecs.png_decode (libpng)"] = lambda: imagecodecs.png_decode(data)
        calls["imagecodecs.spng_decode"] = lambda: imagecodecs.spng_decode(data)
    p50 = {name: statistics.median(t) for name, t in interleaved(calls, repeats).items()}

    before, now = (
        p50["prepare_image before (libspng alone)"],
        p50["prepare_image now (ISA-L pre-inflate)"],
    )
    spng, same, none = (
        p50["libspng decode alone"],
        p50["libspng decode, stored IDAT, same filters"],
        p50["libspng decode, stored IDAT, no filters"],
    )
    infer = p50["Lite0 int8 inference"]
    print(
        f"\n1 MP PNG ({width}x{height}, {len(data) / 1024:.0f} KB, row filters: {mix}): "
        f"where the time goes, p50 over {repeats} interleaved rounds"
    )
    print(
        f"Pillow {PIL.__version__}: zlib loaded {features.version('zlib')}, compiled for "
        f"zlib-ng {importlib.import_module('PIL._imaging').zlib_ng_version}; "
        f"pyspng {pyspng.__version__} bundles zlib 1.2.11"
    )
    stages = [
        ("header: Image.open", p50["header: Image.open"]),
        ("libspng: inflate (its zlib 1.2.11)", spng - same),
        ("libspng: unfilter", same - none),
        ("libspng: the rest (chunks, copy out)", none),
        ("Image.fromarray", p50["Image.fromarray"]),
        ("resize to 224 (bilinear, reducing_gap 3)", p50["resize (bilinear, reducing_gap 3)"]),
        ("np.asarray", p50["np.asarray of the 224 image"]),
    ]
    print(f"  {'prepare_image before (libspng alone)':<46} {before:>7.2f} ms   100%")
    for name, ms in stages:
        print(f"    {name:<44} {ms:>7.2f} ms  {ms / before:>5.0%}")
    print(f"  {'Lite0 int8 inference':<46} {infer:>7.2f} ms")
    print(f"  {'before, end to end (+ inference)':<46} {before + infer:>7.2f} ms")
    print(f"  {'now, end to end (+ inference)':<46} {now + infer:>7.2f} ms   target <= 15 ms")

    def same_pixels(array: object) -> str:
        return "same pixels" if np.array_equal(np.asarray(array), decoded) else "DIFFERENT"

    def resized_diff(resized: Image.Image) -> str:
        diff = np.abs(np.asarray(resized, np.int16) - current.astype(np.int16))
        return f"model input differs: max {diff.max()}, mean {diff.mean():.2f}"

    groups: list[tuple[str, str, list[tuple[str, str]]]] = [
        (
            "inflate the IDAT alone",
            f"zlib.decompress, Python's zlib {zlib.ZLIB_RUNTIME_VERSION}",
            [
                ("isal_zlib.decompress (ISA-L)", "same bytes"),
                ("zlib_ng.decompress (zlib-ng)", "same bytes"),
                ("deflate.zlib_decompress (libdeflate)", "same bytes"),
            ],
        ),
        (
            "decode to RGB",
            "libspng decode alone",
            [
                ("libspng decode with ISA-L pre-inflate", "same pixels (tested; in use)"),
                ("libspng decode with zlib-ng pre-inflate", "same pixels"),
                ("libspng decode with libdeflate pre-inflate", "same pixels"),
                (
                    "Pillow decode (its zlib + its unfilter)",
                    same_pixels(Image.open(io.BytesIO(data)).convert("RGB")),
                ),
                (
                    "imagecodecs.png_decode (libpng)",
                    "" if imagecodecs is None else same_pixels(imagecodecs.png_decode(data)),
                ),
                (
                    "imagecodecs.spng_decode",
                    "" if imagecodecs is None else same_pixels(imagecodecs.spng_decode(data)),
                ),
            ],
        ),
        (
            "resize 1000 -> 224",
            "resize (bilinear, reducing_gap 3)",
            [
                (
                    "resize, reducing_gap 2 (reduce x2 first)",
                    resized_diff(image.resize(size, bilinear, reducing_gap=2.0)),
                ),
                ("thumbnail, reducing_gap 2", resized_diff(thumbnail())),
                ("reduce(4), then resize", resized_diff(image.reduce(4).resize(size, bilinear))),
            ],
        ),
        (
            "whole preprocessing",
            "prepare_image before (libspng alone)",
            [("prepare_image now (ISA-L pre-inflate)", "same array (tested)")],
        ),
    ]
    print(f"\n  {'alternative':<46} {'p50':>10} {'vs current':>11}  result")
    for title, baseline, alternatives in groups:
        print(f"  {title}: against {baseline}, {p50[baseline]:.2f} ms")
        for name, note in alternatives:
            if name not in p50:
                print(f"    {name:<44} {'not installed':>10}")
                continue
            ratio = p50[baseline] / p50[name]
            print(f"    {name:<44} {p50[name]:>7.2f} ms {ratio:>9.2f}x  {note}")
    draft = Image.open(io.BytesIO(data)).draft("RGB", size)
    print(f"  Image.draft on a PNG: {draft} (only JPEG decodes at a reduced size)")
    png_sizes(repeats)


def png_sizes(repeats: int) -> None:
    """Pre-inflating against libspng alone by image size: where imaging stops using it."""
    import pyspng

    print(
        f"\n  pre-inflate by size (imaging uses it up to "
        f"{png_bytes.PRE_INFLATE_MAX_BYTES / 2**20:.0f} MB of scanlines)"
    )
    limit, png_bytes.PRE_INFLATE_MAX_BYTES = png_bytes.PRE_INFLATE_MAX_BYTES, 1 << 40
    try:
        for width, height in ((1000, 1000), (1920, 1080), (2000, 2000), (3000, 2500)):
            buffer = io.BytesIO()
            photo_like(width, height, 5).save(buffer, "PNG")
            data = buffer.getvalue()
            p50 = {
                name: statistics.median(samples)
                for name, samples in interleaved(
                    {
                        "alone": partial(pyspng.load, data),
                        "pre": partial(load_pre_inflated, data),
                    },
                    max(5, repeats // 4),
                ).items()
            }
            scanlines = height * (1 + 3 * width) / 2**20
            print(
                f"    {width}x{height} ({scanlines:4.1f} MB): libspng alone "
                f"{p50['alone']:6.1f} ms, with ISA-L pre-inflate {p50['pre']:6.1f} ms, "
                f"{p50['alone'] / p50['pre']:.2f}x"
            )
    finally:
        png_bytes.PRE_INFLATE_MAX_BYTES = limit


def cold_start(python: str, script: str, *args: str, env: dict[str, str]) -> float:
    """Wall time of a fresh process: interpreter start, imports, load, one image."""
    started = time.perf_counter()
    run = subprocess.run([python, "-c", script, *args], capture_output=True, text=True, env=env)
    total = (time.perf_counter() - started) * 1000
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-1000:])
    return total


def runtime_python() -> tuple[str, float | None]:
    """The runtime-only venv the tests build (functions/classifier/requirements.txt only)."""
    sys.path.insert(0, str(REPO))
    from tests.integration.classifier import test_runtime_layer as layer

    venvs = sorted((REPO / ".imgclf" / "test-cache").glob("runtime-venv-*/bin/python"))
    if not venvs:
        return sys.executable, None
    python = venvs[-1]
    return str(python), layer.installed_mb(layer.site_packages(python))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument(
        "--colours-only", action="store_true", help="only the dominant-colours section"
    )
    parser.add_argument(
        "--generic-only", action="store_true", help="only the generic labels + quality section"
    )
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    images = inputs()
    work = Path(tempfile.mkdtemp(prefix="imgclf-bench-"))
    print(
        f"imgclf per-image benchmark — {os.cpu_count()} cores, 1 inference thread, "
        f"{args.repeats} repeats\n"
    )
    if args.generic_only:
        generic_section(images, args.repeats)
        return
    lite0_artifact, lite0_keras, lite0_weights = build_lite0(work, images)
    print(f"Lite0: EfficientNet-Lite0 224 px, {lite0_weights}, 10-class head, int8\n")
    if args.colours_only:
        colours_section(LoadedModel.from_directory(lite0_artifact), images, args.repeats)
        return
    print(
        f"{'model':<10} {'input':<24} {'LiteRT p50':>10} {'p95':>7} {'naive p50':>10} "
        f"{'p95':>7} {'speed-up':>9}  target (p50)"
    )
    lite0 = LoadedModel.from_directory(lite0_artifact)
    ratios = measure("Lite0-224", 224, lite0, lite0_keras, images, args.repeats)
    for size in (224, 128):
        artifact, keras_model = build_models(work, size)
        ratios += measure(
            f"MNv2-{size}",
            size,
            LoadedModel.from_directory(artifact),
            keras_model,
            images,
            args.repeats,
        )
    colours_section(lite0, images, args.repeats)
    generic_section(images, args.repeats)
    png_section(images["1 MP PNG (1000x1000)"], lite0, 2 * args.repeats)

    python, install_mb = runtime_python()
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO / "functions"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONNOUSERSITE": "1",
    }
    jpeg = work / "1080p.jpg"
    jpeg.write_bytes(images["1080p JPEG (1920x1080)"])
    cold_ours = [
        cold_start(python, COLD_LITERT, str(work / "mnv2-224"), str(jpeg), env=env)
        for _ in range(3)
    ]
    cold_tf = [
        cold_start(
            sys.executable, COLD_TENSORFLOW, str(work / "mnv2-224.keras"), str(jpeg), env=env
        )
        for _ in range(2)
    ]
    ours_ms, tf_ms = statistics.median(cold_ours), statistics.median(cold_tf)
    where = "" if install_mb is not None else "  [runtime venv missing: ran in the dev venv]"
    print(
        f"\ncold start (fresh process, import + load MNv2-224 + 1 image): "
        f"LiteRT {ours_ms:.0f} ms vs TensorFlow {tf_ms:.0f} ms ({tf_ms / ours_ms:.1f}x){where}"
    )
    if install_mb is not None:
        print(f"runtime install (requirements.txt, pruned): {install_mb:.0f} MB")
    print(
        f"median speed-up over the naive path: {statistics.median(ratios):.1f}x "
        f"(min {min(ratios):.1f}x)"
    )
    print("\ntargets: " + json.dumps(TARGETS))


if __name__ == "__main__":
    main()
