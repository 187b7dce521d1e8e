"""Where a 1 MP PNG's time goes, stage by stage, and what other inflaters, decoders and
resizes buy, each as a ratio against the current step in the same run."""

from __future__ import annotations

import importlib
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import PIL
from PIL import Image

from classifier import imaging, png_bytes, png_unfilter
from classifier.imaging import InputSpec, prepare_image
from classifier.model import LoadedModel

from .inputs import LIMITS, encoded, photo_like
from .png_streams import (
    idat_stream,
    load_pre_inflated,
    optional,
    pre_inflate_with,
    prepare_with_libspng,
    prepare_without_isal,
    with_stored_idat,
)
from .timing import medians

BILINEAR = Image.Resampling.BILINEAR
NOW = "prepare_image now"
LIBSPNG = "prepare_image, libspng unfilter (native one not built)"
NATIVE = "ISA-L inflate + native unfilter"
GAP3 = "prepare_image, reducing_gap 3 (older models)"
BEFORE = "prepare_image, gap 3, libspng alone"
RESIZE_NOW = "resize: 4x4 box average, then bilinear (gap 1)"
RESIZE_GAP3 = "resize: bilinear over every pixel (gap 3)"
ZLIB = f"zlib.decompress, Python's zlib {zlib.ZLIB_RUNTIME_VERSION}"
Groups = list[tuple[str, str, list[tuple[str, str]]]]


@dataclass(frozen=True)
class PngCase:
    """One PNG and what the stages start from: its image data, inflated and decoded."""

    data: bytes
    spec: InputSpec
    stream: bytes  # the IDAT zlib stream
    raw: bytes  # the filtered scanlines
    decoded: np.ndarray
    image: Image.Image
    current: np.ndarray  # the model input, as imaging makes it for this spec
    former: np.ndarray  # the model input of models built before, with reducing_gap 3

    @property
    def size(self) -> tuple[int, int]:
        return (self.spec.width, self.spec.height)

    def thumbnail(self) -> Image.Image:
        copy = self.image.copy()
        copy.thumbnail(self.size, BILINEAR, reducing_gap=2.0)
        return copy


def png_case(data: bytes, spec: InputSpec) -> PngCase:
    import pyspng

    stream = idat_stream(data)
    decoded = pyspng.load(data)
    image = Image.fromarray(decoded, "RGB")
    current = np.asarray(imaging._fit(image, spec), np.uint8)
    former = np.asarray(imaging._fit(image, former_spec(spec)), np.uint8)
    return PngCase(data, spec, stream, zlib.decompress(stream), decoded, image, current, former)


def former_spec(spec: InputSpec) -> InputSpec:
    """The spec as models built before recorded it: resampling every pixel (gap 3)."""
    return replace(spec, reducing_gap=imaging.LEGACY_REDUCING_GAP)


def row_filters(case: PngCase) -> str:
    """How many rows use each PNG filter: `999 Paeth, 1 Sub`."""
    width = case.decoded.shape[1]
    filters = np.frombuffer(case.raw, np.uint8)[:: 1 + width * 3]
    names = ("None", "Sub", "Up", "Average", "Paeth")
    counts = np.bincount(filters, minlength=5)
    return ", ".join(f"{n} {names[f]}" for f, n in enumerate(counts) if n)


def stage_calls(case: PngCase, model: LoadedModel) -> dict[str, Callable[[], object]]:
    """The current path's stages, libspng on the same PNG stored with and without filters,
    and the whole path as it was (reducing_gap 3; no ISA-L)."""
    import pyspng

    data, spec, image = case.data, case.spec, case.image
    height = case.decoded.shape[0]
    unfiltered = np.concatenate(
        [np.zeros((height, 1), np.uint8), case.decoded.reshape(height, -1)], 1
    )
    stored_none = with_stored_idat(data, unfiltered.tobytes())
    pre_inflated = png_bytes.pre_inflated(data)
    former = former_spec(spec)
    height, width = case.decoded.shape[:2]
    return {
        NOW: lambda: prepare_image(data, spec, LIMITS),
        LIBSPNG: lambda: prepare_with_libspng(data, spec),
        "ISA-L inflate (png_bytes.scanlines)": lambda: png_bytes.scanlines(data),
        "native unfilter": lambda: png_unfilter.unfilter(case.raw, width, height, 3),
        NATIVE: lambda: native_decode(data),
        GAP3: lambda: prepare_image(data, former, LIMITS),
        BEFORE: lambda: prepare_without_isal(data, former),
        "header: Image.open": lambda: Image.open(io.BytesIO(data)),
        "libspng decode alone": lambda: pyspng.load(data),
        "libspng decode, stored IDAT, no filters": lambda: pyspng.load(stored_none),
        "pre-inflate (ISA-L inflate + stored IDAT)": lambda: png_bytes.pre_inflated(data),
        "libspng decode of the pre-inflated PNG": lambda: pyspng.load(pre_inflated),
        "libspng decode with ISA-L pre-inflate": partial(load_pre_inflated, data),
        "Image.fromarray": lambda: Image.fromarray(case.decoded, "RGB"),
        RESIZE_NOW: lambda: imaging._fit(image, spec),
        RESIZE_GAP3: lambda: imaging._fit(image, former),
        "np.asarray of the 224 image": lambda: np.asarray(Image.fromarray(case.current), np.uint8),
        "Lite0 int8 inference": lambda: model.predict(case.current),
    }


def native_decode(data: bytes) -> np.ndarray:
    """imaging's native path alone: ISA-L inflate, then the native unfilter (any size)."""
    found = png_bytes.scanlines(data, 1 << 40)
    assert found is not None
    return png_unfilter.unfilter(found.raw, found.width, found.height, found.channels)


def alternative_calls(case: PngCase) -> dict[str, Callable[[], object]]:
    """Other inflaters, decoders and resizes; the optional ones when importable."""
    from isal import isal_zlib

    data, stream, image, size = case.data, case.stream, case.image, case.size
    calls: dict[str, Callable[[], object]] = {
        ZLIB: lambda: zlib.decompress(stream),
        "isal_zlib.decompress (ISA-L)": lambda: isal_zlib.decompress(stream),
        "Pillow decode (its zlib + its unfilter)": lambda: Image.open(io.BytesIO(data)).load(),
        "resize, reducing_gap 2 (reduce x2 first)": lambda: image.resize(
            size, BILINEAR, reducing_gap=2.0
        ),
        "thumbnail, reducing_gap 2": case.thumbnail,
    }
    return calls | optional_decoder_calls(case)


def optional_decoder_calls(case: PngCase) -> dict[str, Callable[[], object]]:
    """zlib-ng, libdeflate and imagecodecs, each when importable (bench-extras)."""
    import pyspng

    data, stream = case.data, case.stream
    calls: dict[str, Callable[[], object]] = {}
    zlib_ng = optional("zlib_ng.zlib_ng")
    if zlib_ng is not None:
        calls["zlib_ng.decompress (zlib-ng)"] = lambda: zlib_ng.decompress(stream)
        ng = pre_inflate_with(lambda z, n: zlib_ng.decompress(z, bufsize=n))
        calls["libspng decode with zlib-ng pre-inflate"] = lambda: pyspng.load(ng(data))
    libdeflate = optional("deflate")
    if libdeflate is not None:
        calls["deflate.zlib_decompress (libdeflate)"] = lambda: libdeflate.zlib_decompress(
            stream, len(case.raw)
        )
        ld = pre_inflate_with(libdeflate.zlib_decompress)
        calls["libspng decode with libdeflate pre-inflate"] = lambda: pyspng.load(ld(data))
    imagecodecs = optional("imagecodecs")
    if imagecodecs is not None:
        calls["imagecodecs.png_decode (libpng)"] = lambda: imagecodecs.png_decode(data)
        calls["imagecodecs.spng_decode"] = lambda: imagecodecs.spng_decode(data)
    return calls


def print_stages(case: PngCase, p50: dict[str, float], repeats: int) -> None:
    """Where the time goes: each stage's p50 and share of the whole, then the whole path
    end to end now and as it was."""
    import pyspng
    from PIL import features

    height, width = case.decoded.shape[:2]
    now, infer = p50[NOW], p50["Lite0 int8 inference"]
    rest = p50["libspng decode, stored IDAT, no filters"]
    unfilter = p50["libspng decode of the pre-inflated PNG"] - rest
    print(
        f"\n1 MP PNG ({width}x{height}, {len(case.data) / 1024:.0f} KB, row filters: "
        f"{row_filters(case)}): where the time goes, p50 over {repeats} interleaved rounds"
    )
    print(
        f"Pillow {PIL.__version__}: zlib loaded {features.version('zlib')}, compiled for "
        f"zlib-ng {importlib.import_module('PIL._imaging').zlib_ng_version}; "
        f"pyspng {pyspng.__version__} bundles zlib 1.2.11"
    )
    stages = [
        ("header: Image.open", p50["header: Image.open"]),
        ("ISA-L inflate (png_bytes.scanlines)", p50["ISA-L inflate (png_bytes.scanlines)"]),
        ("native unfilter (16 rows at once)", p50["native unfilter"]),
        ("Image.fromarray", p50["Image.fromarray"]),
        (RESIZE_NOW, p50[RESIZE_NOW]),
        ("np.asarray", p50["np.asarray of the 224 image"]),
    ]
    print(f"  {NOW:<54} {now:>7.2f} ms   100%")
    for name, ms in stages:
        print(f"    {name:<52} {ms:>7.2f} ms  {ms / now:>5.0%}")
    print(f"  {'Lite0 int8 inference':<54} {infer:>7.2f} ms")
    print(f"  libspng's unfilter of the same scanlines: {unfilter:.2f} ms")
    print("  end to end (preprocessing + inference):")
    print(f"    {'now':<52} {now + infer:>7.2f} ms   target <= 12 ms")
    print(
        f"    {'libspng unfilter (the native one not built)':<52} {p50[LIBSPNG] + infer:>7.2f} ms"
    )
    print(f"    {'reducing_gap 3 (models built before)':<52} {p50[GAP3] + infer:>7.2f} ms")
    print(
        f"    {'reducing_gap 3, libspng alone (before ISA-L)':<52} {p50[BEFORE] + infer:>7.2f} ms"
    )


def same_pixels(case: PngCase, array: object) -> str:
    return "same pixels" if np.array_equal(np.asarray(array), case.decoded) else "DIFFERENT"


def resized_diff(case: PngCase, resized: Image.Image | np.ndarray) -> str:
    """How far a resize is from the gap-3 model input (what models built before saw)."""
    diff = np.abs(np.asarray(resized, np.int16) - case.former.astype(np.int16))
    return f"vs gap 3 input: max {diff.max()}, mean {diff.mean():.2f}"


def decoder_notes(case: PngCase) -> list[tuple[str, str]]:
    imagecodecs = optional("imagecodecs")
    data = case.data
    return [
        (NATIVE, same_pixels(case, native_decode(data)) + " (in use)"),
        ("libspng decode with ISA-L pre-inflate", "same pixels (tested; without the native one)"),
        ("libspng decode with zlib-ng pre-inflate", "same pixels"),
        ("libspng decode with libdeflate pre-inflate", "same pixels"),
        (
            "Pillow decode (its zlib + its unfilter)",
            same_pixels(case, Image.open(io.BytesIO(data)).convert("RGB")),
        ),
        (
            "imagecodecs.png_decode (libpng)",
            "" if imagecodecs is None else same_pixels(case, imagecodecs.png_decode(data)),
        ),
        (
            "imagecodecs.spng_decode",
            "" if imagecodecs is None else same_pixels(case, imagecodecs.spng_decode(data)),
        ),
    ]


def alternative_groups(case: PngCase) -> Groups:
    """(step, the former way's call, [(alternative's call, what it gives)]) per step."""
    image, size = case.image, case.size
    inflaters = [
        ("isal_zlib.decompress (ISA-L)", "same bytes"),
        ("zlib_ng.decompress (zlib-ng)", "same bytes"),
        ("deflate.zlib_decompress (libdeflate)", "same bytes"),
    ]
    resizes = [
        (RESIZE_NOW, resized_diff(case, case.current) + " (in use)"),
        (
            "resize, reducing_gap 2 (reduce x2 first)",
            resized_diff(case, image.resize(size, BILINEAR, reducing_gap=2.0)),
        ),
        ("thumbnail, reducing_gap 2", resized_diff(case, case.thumbnail())),
    ]
    return [
        ("inflate the IDAT alone", ZLIB, inflaters),
        ("decode to RGB", "libspng decode alone", decoder_notes(case)),
        ("resize 1000 -> 224", RESIZE_GAP3, resizes),
        (
            "whole preprocessing",
            BEFORE,
            [
                (GAP3, "same array (tested)"),
                (LIBSPNG, "resized as above"),
                (NOW, "the same array as libspng's path (tested)"),
            ],
        ),
    ]


def print_alternatives(case: PngCase, p50: dict[str, float]) -> None:
    print(f"\n  {'alternative':<54} {'p50':>10} {'vs current':>11}  result")
    for title, baseline, alternatives in alternative_groups(case):
        print(f"  {title}: against {baseline}, {p50[baseline]:.2f} ms")
        for name, note in alternatives:
            if name not in p50:
                print(f"    {name:<52} {'not installed':>10}")
                continue
            ratio = p50[baseline] / p50[name]
            print(f"    {name:<52} {p50[name]:>7.2f} ms {ratio:>9.2f}x  {note}")
    draft = Image.open(io.BytesIO(case.data)).draft("RGB", case.size)
    print(f"  Image.draft on a PNG: {draft} (only JPEG decodes at a reduced size)")


def png_section(data: bytes, model: LoadedModel, repeats: int) -> None:
    """Where a 1 MP PNG's time goes, and what other inflaters, decoders and resizes buy."""
    case = png_case(data, model.spec)
    p50 = medians(stage_calls(case, model) | alternative_calls(case), repeats)
    print_stages(case, p50, repeats)
    print_alternatives(case, p50)
    png_sizes(repeats)


def png_sizes(repeats: int) -> None:
    """The decoders by image size: libspng alone, with ISA-L's pre-inflate, and ISA-L with the
    native unfilter; where imaging stops pre-inflating (the native path's bound too)."""
    import pyspng

    print(
        f"\n  decode by size (imaging takes the native unfilter up to "
        f"{png_bytes.NATIVE_MAX_BYTES / 2**20:.0f} MB of scanlines, and libspng pre-inflates "
        f"up to {png_bytes.PRE_INFLATE_MAX_BYTES / 2**20:.0f} MB where it is not built)"
    )
    limit, png_bytes.PRE_INFLATE_MAX_BYTES = png_bytes.PRE_INFLATE_MAX_BYTES, 1 << 40
    try:
        sizes = ((1000, 1000), (1920, 1080), (2000, 2000), (3000, 2500), (4000, 3000))
        for width, height in sizes:
            data = encoded(photo_like(width, height, 5), "PNG")
            calls: dict[str, Callable[[], Any]] = {
                "alone": partial(pyspng.load, data),
                "pre": partial(load_pre_inflated, data),
                "native": partial(native_decode, data),
            }
            p50 = medians(calls, max(5, repeats // 4))
            scanlines = png_bytes.scanline_bytes(width, height, 3) / 2**20
            print(
                f"    {width}x{height} ({scanlines:4.1f} MB): libspng alone "
                f"{p50['alone']:6.1f} ms, ISA-L + libspng {p50['pre']:6.1f} ms, "
                f"ISA-L + native {p50['native']:6.1f} ms, {p50['alone'] / p50['native']:.2f}x"
            )
    finally:
        png_bytes.PRE_INFLATE_MAX_BYTES = limit
