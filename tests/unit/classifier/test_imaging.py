"""imaging: every bad or odd input becomes a clear rejection or a correct model input."""

from __future__ import annotations

import io
import random
import struct
import threading
import time
import zlib
from typing import Any

import numpy as np
import PIL.ImageOps
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from classifier import imaging, png_bytes, png_unfilter
from classifier.imaging import (
    ImageLimits,
    InputSpec,
    RejectedImageError,
    check_size,
    prepare_image,
)
from imgclf.samples import decompression_bomb_png  # the demo's bomb
from tests.fixtures.corpus import KINDS, Kind, kind_named
from tests.fixtures.corpus_files import CORPUS_MAX_IMAGE_BYTES, RED, noisy, png

SPEC = InputSpec(height=32, width=32)
LIMITS = ImageLimits()


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def solid(
    colour: tuple[int, ...], mode: str = "RGB", size: tuple[int, int] = (64, 48)
) -> Image.Image:
    return Image.new(mode, size, colour)


def mean_rgb(data: bytes, spec: InputSpec = SPEC) -> np.ndarray:
    means: np.ndarray = prepare_image(data, spec, LIMITS).array.reshape(-1, 3).mean(axis=0)
    return means


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_every_allowed_format_gives_the_model_sized_rgb_array(fmt: str) -> None:
    prepared = prepare_image(encode(solid((200, 30, 30)), fmt), SPEC, LIMITS)
    assert prepared.array.shape == (32, 32, 3) and prepared.array.dtype == np.uint8
    assert (prepared.width, prepared.height, prepared.format) == (64, 48, fmt)
    assert prepared.array[..., 0].mean() > 150 > prepared.array[..., 2].mean()


def test_format_outside_the_allow_list_is_rejected_by_name() -> None:
    with pytest.raises(RejectedImageError, match="format TIFF is not allowed"):
        prepare_image(encode(solid((1, 2, 3)), "TIFF"), SPEC, LIMITS)


def test_text_file_is_not_an_image() -> None:
    with pytest.raises(RejectedImageError, match="not a recognised image"):
        prepare_image(b"hello, this is a text file named cat.jpg\n", SPEC, LIMITS)


def test_zero_bytes_is_rejected_as_empty() -> None:
    with pytest.raises(RejectedImageError, match=r"empty file \(0 bytes\)"):
        prepare_image(b"", SPEC, LIMITS)


def test_byte_limit_is_checked_before_download_from_the_event_size() -> None:
    with pytest.raises(RejectedImageError, match="over the 1.0 MiB limit"):
        check_size(5 * 2**20, ImageLimits(max_bytes=2**20))
    check_size(None, LIMITS)  # unknown size: decided after the GET instead


@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_truncated_jpeg_is_rejected_not_padded(fraction: float) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG", quality=90)
    with pytest.raises(RejectedImageError, match="corrupt or truncated JPEG"):
        prepare_image(data[: int(len(data) * fraction)], SPEC, LIMITS)


def test_truncated_png_is_rejected() -> None:
    noise = np.random.default_rng(1).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "PNG")
    with pytest.raises(RejectedImageError, match="corrupt or truncated PNG"):
        prepare_image(data[: len(data) // 2], SPEC, LIMITS)


def test_too_many_pixels_is_an_error_before_decoding() -> None:
    with pytest.raises(
        RejectedImageError, match=r"image is 30000x30000 = 900.0 MP, over the 50.0 MP limit"
    ):
        prepare_image(decompression_bomb_png(30000, 30000), SPEC, LIMITS)


def test_pixel_limit_is_configurable() -> None:
    with pytest.raises(RejectedImageError, match="= 3,072 pixels, over the limit of 100$"):
        prepare_image(encode(solid((0, 0, 0)), "PNG"), SPEC, ImageLimits(max_pixels=100))


@pytest.mark.parametrize(
    ("size", "limits", "reason"),
    [
        ((7072, 7071), ImageLimits(), "= 50,006,112 pixels, over the limit of 50,000,000"),
        ((8000, 7000), ImageLimits(), "= 56.0 MP, over the 50.0 MP limit"),
    ],
)
def test_a_limit_missed_by_less_than_its_rounding_is_given_exactly(
    size: tuple[int, int], limits: ImageLimits, reason: str
) -> None:
    # "= 50.0 MP, over the 50.0 MP limit" said the image was at the limit, not over it
    with pytest.raises(RejectedImageError, match=reason):
        prepare_image(decompression_bomb_png(*size), SPEC, limits)
    limit = LIMITS.max_bytes
    with pytest.raises(RejectedImageError, match=f"{limit + 1:,} bytes, over the limit of"):
        check_size(limit + 1, LIMITS)


def test_exif_orientation_is_applied() -> None:
    # Left half red, right half blue; EXIF 6 means "rotate 90° clockwise to display".
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :40] = (255, 0, 0)
    pixels[:, 40:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.fromarray(pixels), "JPEG", exif=exif, quality=95)
    prepared = prepare_image(data, SPEC, LIMITS)
    assert (prepared.width, prepared.height) == (40, 80)  # as displayed
    top, bottom = prepared.array[:8].mean(axis=(0, 1)), prepared.array[-8:].mean(axis=(0, 1))
    assert top[0] > 200 and top[2] < 60  # red was on the left, so now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_alpha_is_composited_on_the_background_not_turned_black() -> None:
    transparent = encode(solid((0, 0, 0, 0), "RGBA"), "PNG")
    assert mean_rgb(transparent).tolist() == [255.0, 255.0, 255.0]
    grey_background = InputSpec(height=32, width=32, background=(128, 128, 128))
    assert mean_rgb(transparent, grey_background).tolist() == [128.0, 128.0, 128.0]


def test_half_transparent_red_blends_with_the_background() -> None:
    data = encode(solid((255, 0, 0, 128), "RGBA"), "PNG")
    red, green, blue = mean_rgb(data)
    assert red == pytest.approx(255, abs=1) and green == pytest.approx(127, abs=2) == blue


def test_sixteen_bit_input_is_scaled_not_clipped() -> None:
    mid_grey = np.full((20, 20), 32768, np.uint16)  # half of 65535: must become ~128, not 255
    data = encode(Image.fromarray(mid_grey), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    assert mean_rgb(data).tolist() == pytest.approx([128, 128, 128], abs=1)


def test_palette_image_with_transparency_is_handled() -> None:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([10, 200, 10] + [0, 0, 0] * 255)  # index 0 is green...
    data = encode(image, "GIF", transparency=0)  # ...and fully transparent
    assert mean_rgb(data).tolist() == [255.0, 255.0, 255.0]
    opaque = encode(solid((10, 200, 10)).convert("P"), "PNG")
    assert mean_rgb(opaque)[1] > 150


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    cyan = encode(solid((255, 0, 0, 0), "CMYK"), "JPEG")
    red, green, blue = mean_rgb(cyan)
    assert red < 60 and green > 200 and blue > 200


def test_greyscale_and_bilevel_images_become_rgb() -> None:
    assert mean_rgb(encode(solid((200,), "L"), "PNG")).tolist() == pytest.approx([200] * 3, abs=1)
    assert mean_rgb(encode(solid((1,), "1"), "BMP")).tolist() == [255.0, 255.0, 255.0]


def test_animated_image_uses_its_first_frame() -> None:
    frames = [solid((255, 0, 0)), solid((0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    red, _, blue = mean_rgb(buffer.getvalue())
    assert red > 200 and blue < 60


def test_large_jpeg_is_decoded_with_dct_scaling(monkeypatch: pytest.MonkeyPatch) -> None:
    requested: list[tuple[int, int]] = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self: Image.Image, mode: str | None, size: tuple[int, int] | None) -> object:
        requested.append(size or (0, 0))
        return original(self, mode, size)  # type: ignore[arg-type]

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    data = encode(solid((30, 200, 40), size=(4000, 3000)), "JPEG")
    prepared = prepare_image(data, InputSpec(height=96, width=96), LIMITS)
    assert requested == [(96, 96)]  # the decoder scales by 1/8 instead of decoding 12 MP
    assert (prepared.width, prepared.height) == (4000, 3000)
    assert prepared.array[..., 1].mean() > 150


def test_center_crop_keeps_the_middle() -> None:
    pixels = np.zeros((32, 96, 3), np.uint8)
    pixels[:, 32:64] = (0, 255, 0)  # green middle third, black sides
    spec = InputSpec(height=32, width=32, fit="center_crop")
    assert (
        prepare_image(encode(Image.fromarray(pixels), "PNG"), spec, LIMITS).array[..., 1].min()
        > 200
    )


def test_input_spec_round_trips_through_model_json() -> None:
    spec = InputSpec(
        height=96, width=128, resize="bicubic", fit="center_crop", background=(1, 2, 3)
    )
    assert InputSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="unknown resize method"):
        InputSpec(height=1, width=1, resize="magic")


@pytest.fixture
def libspng_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """PNGs take libspng's path, as where the native unfilter is not built."""
    monkeypatch.setattr(png_unfilter, "_library", None)


@pytest.mark.parametrize("path", ["native unfilter", "libspng"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_fast_png_decoders_give_the_same_array_as_pillow(
    mode: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert imaging.pyspng is not None  # the runtime requirements ship it
    assert png_unfilter.available()  # make venv builds it
    if path == "libspng":
        monkeypatch.setattr(png_unfilter, "_library", None)
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 255, (120, 90, len(mode)), dtype=np.uint8)
    data = encode(Image.fromarray(pixels, mode), "PNG")
    fast = prepare_image(data, SPEC, LIMITS).array
    monkeypatch.setattr(png_unfilter, "_library", None)
    monkeypatch.setattr(imaging, "pyspng", None)
    assert np.array_equal(fast, prepare_image(data, SPEC, LIMITS).array)


def test_fast_png_path_decodes_the_pixels_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import PngImagePlugin

    loads: list[int] = []
    original = PngImagePlugin.PngImageFile.load

    def counting_load(self: PngImagePlugin.PngImageFile) -> object:
        loads.append(1)
        return original(self)

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", counting_load)
    pixels = np.random.default_rng(4).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    prepare_image(encode(Image.fromarray(pixels), "PNG"), SPEC, LIMITS)
    assert loads == []  # the native unfilter decoded it; Pillow only read the header


def test_png_exif_orientation_before_the_pixels_is_applied() -> None:
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :40] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    prepared = prepare_image(encode(Image.fromarray(pixels), "PNG", exif=exif), SPEC, LIMITS)
    assert (prepared.width, prepared.height) == (40, 80)
    assert prepared.array[:8].mean(axis=(0, 1))[0] > 200  # red on top, as displayed


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_png_exif_orientation_after_the_pixels_is_applied(mode: str) -> None:
    # An eXIf chunk after IDAT (PNG allows it) was skipped by the fast decoder: the image
    # was labelled on its side, and width and height were recorded unswapped
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :40] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    early = encode(Image.fromarray(pixels).convert(mode), "PNG", exif=exif)
    start = early.index(b"eXIf") - 4
    end = start + 12 + struct.unpack_from(">I", early, start)[0]
    without = early[:start] + early[end:]
    iend = without.rindex(b"IEND") - 4
    late = without[:iend] + early[start:end] + without[iend:]
    assert late.index(b"eXIf") > late.rindex(b"IDAT")
    prepared = prepare_image(late, SPEC, LIMITS)
    assert (prepared.width, prepared.height) == (40, 80)
    assert np.array_equal(prepared.array, prepare_image(early, SPEC, LIMITS).array)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def hand_made_png(
    pixels: np.ndarray,
    *,
    colour: int = 2,
    depth: int = 8,
    interlace: int = 0,
    idat_pieces: int = 3,
    trailing: bytes = b"",
) -> bytes:
    """A PNG written here (filter type 0), its image data split over several IDATs."""
    height, width = pixels.shape[:2]
    scanlines = b"".join(b"\x00" + row.tobytes() for row in pixels.reshape(height, -1))
    stream = zlib.compress(scanlines + trailing, 6)
    step = -(-len(stream) // idat_pieces)
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            png_chunk(b"IHDR", header),
            png_chunk(b"tEXt", b"Comment\x00before the pixels"),
            *(png_chunk(b"IDAT", stream[i : i + step]) for i in range(0, len(stream), step)),
            png_chunk(b"tEXt", b"Comment\x00after the pixels"),
            png_chunk(b"IEND", b""),
        ]
    )


def photo_png(mode: str = "RGB", size: tuple[int, int] = (300, 200)) -> bytes:
    """Smooth gradients plus noise: Pillow's encoder picks Sub/Up/Average/Paeth filters."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    channels = [x * 255 // size[0], y * 255 // size[1], (x + y) * 255 // sum(size), x * 0 + 200]
    base = np.stack(channels[: len(mode)], -1) + rng.integers(0, 9, (size[1], size[0], len(mode)))
    return encode(Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), mode), "PNG")


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_isal_pre_inflated_png_decodes_to_the_same_pixels(mode: str) -> None:
    import pyspng

    assert png_bytes.isal_zlib is not None  # the runtime requirements ship it
    data = photo_png(mode)
    filters = set(zlib.decompress(b"".join(png_idat(data)))[:: 1 + 300 * len(mode)])
    assert len(filters) > 1  # several filter types to undo, not only "none"
    pre_inflated = png_bytes.pre_inflated(data)
    assert pre_inflated is not None
    assert np.array_equal(pyspng.load(pre_inflated), pyspng.load(data))
    assert np.array_equal(
        pyspng.load(pre_inflated), np.asarray(Image.open(io.BytesIO(data)).convert(mode))
    )


def png_idat(data: bytes) -> list[bytes]:
    from classifier.png_bytes import png_chunks

    chunks = png_chunks(data)
    assert chunks is not None
    return [data[start + 8 : end - 4] for kind, start, end in chunks if kind == b"IDAT"]


def test_pre_inflating_keeps_the_other_chunks_and_joins_split_image_data() -> None:

    pixels = np.random.default_rng(6).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    data = hand_made_png(pixels, idat_pieces=4)
    assert len(png_idat(data)) == 4
    pre_inflated = png_bytes.pre_inflated(data)
    assert pre_inflated is not None and len(png_idat(pre_inflated)) == 1
    for text in (b"before the pixels", b"after the pixels"):
        assert png_chunk(b"tEXt", b"Comment\x00" + text) in pre_inflated
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(pre_inflated))), pixels)


@pytest.mark.usefixtures("libspng_path")
def test_prepare_image_is_the_same_with_and_without_isal(monkeypatch: pytest.MonkeyPatch) -> None:

    calls: list[bool] = []
    original = png_bytes.pre_inflated

    def spy(data: bytes) -> bytes | None:
        result = original(data)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(png_bytes, "pre_inflated", spy)
    data = photo_png("RGB", (640, 480))
    with_isal = prepare_image(data, SPEC, LIMITS).array
    assert calls == [True]
    monkeypatch.setattr(png_bytes, "isal_zlib", None)
    assert np.array_equal(with_isal, prepare_image(data, SPEC, LIMITS).array)
    assert calls == [True, False]


def corrupt_idat_crc(data: bytes) -> bytes:
    from classifier.png_bytes import png_chunks

    chunks = png_chunks(data)
    assert chunks is not None
    end = next(end for kind, _, end in chunks if kind == b"IDAT")
    return data[: end - 1] + bytes([data[end - 1] ^ 0xFF]) + data[end:]


PIXELS = np.random.default_rng(7).integers(0, 255, (30, 20, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(hand_made_png(PIXELS, interlace=1), id="interlaced"),
        pytest.param(encode(Image.fromarray(PIXELS[..., 0]), "PNG"), id="greyscale"),
        pytest.param(encode(Image.fromarray(PIXELS).convert("P"), "PNG"), id="palette"),
        pytest.param(hand_made_png(PIXELS.astype(">u2") * 257, depth=16), id="16-bit"),
        pytest.param(hand_made_png(PIXELS)[:-30], id="truncated"),
        pytest.param(hand_made_png(PIXELS, trailing=b"\x00" * 10_000), id="inflates too much"),
        pytest.param(hand_made_png(PIXELS)[: -12 - 3000] + b"x", id="cut inside IDAT"),
        pytest.param(b"GIF89a" + bytes(40), id="not a PNG"),
    ],
)
def test_anything_unusual_is_left_to_libspng(data: bytes) -> None:

    assert png_bytes.pre_inflated(data) is None


@pytest.mark.parametrize(
    ("colour", "channels"),
    [
        pytest.param(0, [0], id="grey"),
        pytest.param(4, [0, 3], id="grey and alpha"),
        pytest.param(2, [0, 1, 2], id="RGB"),
        pytest.param(6, [0, 1, 2, 3], id="RGBA"),
    ],
)
def test_every_sixteen_bit_png_gives_the_pixels_of_its_eight_bit_twin(
    colour: int, channels: list[int]
) -> None:
    # Pillow opens 16-bit RGB(A) and grey+alpha PNGs as 8-bit RGB(A): none may reach a fast
    # path that decodes 8-bit only, and none is "corrupt"
    opaque = np.concatenate([PIXELS, np.full((30, 20, 1), 255, np.uint8)], axis=2)
    eight = opaque[..., channels]
    sixteen = eight.astype(">u2") * 257
    expected = prepare_image(hand_made_png(eight, colour=colour), SPEC, LIMITS).array
    got = prepare_image(hand_made_png(sixteen, colour=colour, depth=16), SPEC, LIMITS).array
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_a_bad_idat_crc_is_ignored_as_libspng_ignores_it() -> None:
    import pyspng

    data = corrupt_idat_crc(hand_made_png(PIXELS))
    pre_inflated = png_bytes.pre_inflated(data)
    assert pre_inflated is not None
    assert np.array_equal(pyspng.load(pre_inflated), pyspng.load(data))
    assert np.array_equal(pyspng.load(data), PIXELS)


def test_big_pngs_skip_pre_inflating(monkeypatch: pytest.MonkeyPatch) -> None:

    data = hand_made_png(PIXELS)
    assert png_bytes.pre_inflated(data) is not None
    monkeypatch.setattr(png_bytes, "PRE_INFLATE_MAX_BYTES", 30 * (1 + 20 * 3) - 1)
    assert png_bytes.pre_inflated(data) is None


# --- the bad-input corpus (tests.fixtures.corpus): every category gets a clear one-line reason

CORPUS_LIMITS = ImageLimits(max_bytes=CORPUS_MAX_IMAGE_BYTES)
FILE_KINDS = [k for k in KINDS if not k.s3_level or k.content_encoding]


@pytest.mark.filterwarnings("ignore::UserWarning:PIL(\\..*)?")  # damaged EXIF: Pillow warns
@pytest.mark.parametrize("kind", FILE_KINDS, ids=[k.name for k in FILE_KINDS])
def test_each_corpus_file_is_classified_or_rejected_as_the_corpus_says(kind: Kind) -> None:
    data = kind.make()
    if kind.expected == "rejected":
        with pytest.raises(RejectedImageError) as raised:
            prepare_image(data, SPEC, CORPUS_LIMITS)
        assert kind.reason_contains in raised.value.reason
        assert "\n" not in raised.value.reason
        return
    prepared = prepare_image(data, SPEC, CORPUS_LIMITS)
    assert prepared.array.shape == (32, 32, 3)
    if kind.dimensions is not None:
        assert (prepared.width, prepared.height) == kind.dimensions


def test_a_png_whose_icc_profile_inflates_past_pillows_limit_is_decoded_without_it() -> None:
    # Pillow refuses the whole file (ValueError: Decompressed data too large); the pixels are fine.
    prepared = prepare_image(kind_named("icc-bomb").make(), SPEC, LIMITS)
    assert prepared.format == "PNG"
    assert prepared.array.reshape(-1, 3).mean(axis=0).tolist() == pytest.approx(RED, abs=1)


@pytest.mark.parametrize(
    "data",
    [
        png(0, 0, b""),
        png(0, 5, b"\x00" * 5),
        kind_named("zero-width-gif").make(),
        b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
        + struct.pack("<IiiHHIIiiII", 40, 16, 0, 1, 24, 0, 0, 0, 0, 0, 0),
    ],
    ids=["png-0x0", "png-0x5", "gif-0x16", "bmp-16x0"],
)  # fmt: skip
def test_an_image_without_pixels_says_so(data: bytes) -> None:
    with pytest.raises(RejectedImageError, match=r"image has no pixels \(\d+x\d+\)"):
        prepare_image(data, SPEC, LIMITS)


def test_a_damaged_png_header_is_named_not_called_unrecognised() -> None:
    with pytest.raises(RejectedImageError, match=r"corrupt or truncated PNG: .*IHDR"):
        prepare_image(kind_named("png-bad-header-crc").make(), SPEC, LIMITS)


def test_a_truncated_webp_says_how_much_is_missing() -> None:
    data = encode(solid((200, 30, 30), size=(200, 200)), "WEBP", quality=90)
    with pytest.raises(
        RejectedImageError, match=rf"truncated WEBP: the file has 40 of the {len(data)}"
    ):
        prepare_image(data[:40], SPEC, LIMITS)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"%PDF-1.7\n", "not a recognised image: looks like a PDF document"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "looks like an SVG drawing"),
        (b"\xef\xbb\xbf<?xml version='1.0'?>\n<svg/>", "looks like an SVG drawing"),
        (b"<!DOCTYPE html><html></html>", "looks like an HTML page"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 40, "looks like an ELF executable"),
        (b"MZ\x90\x00" + b"\x00" * 40, "looks like a Windows executable"),
        (b"PK\x03\x04" + b"\x00" * 40, "looks like a ZIP archive"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "looks like gzip-compressed data"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "format HEIF is not allowed"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", "format AVIF is not allowed"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isommp41", "looks like an MP4"),
        ("\ufeffplain words\n".encode("utf-16-le"), "not a recognised image: looks like text"),
        (b"just some text\n", "not a recognised image: looks like text"),
        (bytes(range(256)) * 4, "not a recognised image (allowed"),
    ],
)
def test_what_a_non_image_looks_like_is_in_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(RejectedImageError) as raised:
        prepare_image(data, SPEC, LIMITS)
    assert reason in raised.value.reason


@pytest.mark.parametrize("error", [ZeroDivisionError("x"), struct.error("y"), EOFError()])
def test_any_decoder_exception_is_a_rejection_not_a_retry(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def failing_load(self: Image.Image) -> None:
        raise error

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", failing_load)
    with pytest.raises(RejectedImageError, match="corrupt or truncated JPEG"):
        prepare_image(encode(solid((1, 2, 3)), "JPEG"), SPEC, LIMITS)


def test_an_exception_while_opening_is_a_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_open(*args: object, **kwargs: object) -> None:
        raise KeyError("plugin bug")

    monkeypatch.setattr(Image, "open", failing_open)
    with pytest.raises(RejectedImageError, match="corrupt or truncated JPEG: 'plugin bug'"):
        prepare_image(encode(solid((1, 2, 3)), "JPEG"), SPEC, LIMITS)


def test_a_failing_exif_transpose_keeps_the_image(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_transpose(image: Image.Image) -> Image.Image:
        raise struct.error("unpack requires a buffer of 2 bytes")

    monkeypatch.setattr(PIL.ImageOps, "exif_transpose", failing_transpose)
    prepared = prepare_image(encode(solid((200, 30, 30)), "JPEG"), SPEC, LIMITS)
    assert prepared.array[..., 0].mean() > 150


def test_a_failing_conversion_is_a_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_fit(image: Image.Image, spec: InputSpec) -> Image.Image:
        raise ValueError("conversion not supported")

    monkeypatch.setattr(imaging, "_fit", failing_fit)
    with pytest.raises(RejectedImageError, match=r"cannot convert GIF \(P\) to RGB"):
        prepare_image(encode(solid((1, 2, 3)).convert("P"), "GIF"), SPEC, LIMITS)


@pytest.mark.usefixtures("libspng_path")
def test_a_failing_libspng_is_a_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_load(data: bytes) -> None:
        raise ValueError("libspng surprise")

    monkeypatch.setattr(imaging.pyspng, "load", failing_load)
    with pytest.raises(RejectedImageError, match="corrupt or truncated PNG: libspng surprise"):
        prepare_image(encode(solid((1, 2, 3)), "PNG"), SPEC, LIMITS)


def test_an_image_data_bomb_is_decoded_from_what_the_pixels_need_only() -> None:
    started = time.perf_counter()
    prepared = prepare_image(kind_named("idat-bomb").make(), SPEC, LIMITS)
    assert prepared.array.reshape(-1, 3).mean(axis=0).tolist() == pytest.approx(RED, abs=1)
    assert time.perf_counter() - started < 2  # not 64 MB inflated (making it included)


@pytest.mark.filterwarnings("ignore::UserWarning:PIL(\\..*)?")
def test_mutated_files_only_ever_raise_rejected_image_error() -> None:
    rng = random.Random(9)
    seeds = [encode(noisy(), fmt) for fmt in ("JPEG", "PNG", "WEBP", "GIF", "BMP")]
    seeds += [kind_named(name).make() for name in ("animated-gif", "sixteen-bit-png", "cmyk-jpeg")]
    for _ in range(400):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.6:
                data[position] = rng.randrange(256)
            elif choice < 0.8:
                del data[position : position + rng.randint(1, 32)]
            else:
                data[position : position + 4] = b"\xff\xff\xff\xff"
        try:
            prepare_image(bytes(data), SPEC, LIMITS)
        except RejectedImageError as error:
            assert error.reason and "\n" not in error.reason


def _with_chunk_after_header(data: bytes, chunk: bytes) -> bytes:
    """`data` (a PNG) with `chunk` right after its IHDR (8 + 25 bytes in)."""
    return data[:33] + chunk + data[33:]


@pytest.mark.parametrize(
    ("pixels", "colour", "depth", "key"),
    [
        pytest.param(np.zeros((16, 16, 3), np.uint8), 2, 8, b"\x00\x00" * 3, id="rgb-8"),
        pytest.param(np.zeros((16, 16, 3), ">u2"), 2, 16, b"\x00\x00" * 3, id="rgb-16"),
        pytest.param(np.zeros((16, 16), ">u2"), 0, 16, b"\x00\x00", id="grey-16"),
    ],
)
def test_a_colour_key_is_transparent_on_the_background(
    pixels: np.ndarray, colour: int, depth: int, key: bytes
) -> None:
    # A tRNS colour key made every black pixel transparent; it came out black, not white
    data = _with_chunk_after_header(
        hand_made_png(pixels, colour=colour, depth=depth), png_chunk(b"tRNS", key)
    )
    assert mean_rgb(data).tolist() == [255.0, 255.0, 255.0]


def test_sixteen_bit_grey_is_scaled_a_band_at_a_time_as_before() -> None:
    # Every 16-bit value, as the whole-image float64 formula scaled it
    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    got = np.asarray(imaging._to_8bit(Image.fromarray(values)))
    assert np.array_equal(got, np.clip(values * (255.0 / 65535.0) + 0.5, 0, 255).astype(np.uint8))


def bmp_with_alpha_mask(image: Image.Image, alpha: int) -> bytes:
    """A 32-bit BMP (BITMAPV5HEADER, bit fields with an alpha mask), bottom-up BGRA rows."""
    width, height = image.size
    rgb = np.asarray(image.convert("RGB"))[::-1]
    bgra = np.dstack([rgb[..., 2], rgb[..., 1], rgb[..., 0], np.full(rgb.shape[:2], alpha)])
    pixels = bgra.astype(np.uint8).tobytes()
    masks = struct.pack("<IIII", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000)
    info = struct.pack("<IiiHHIIiiII", 124, width, height, 1, 32, 3, len(pixels), 2835, 2835, 0, 0)
    info += masks + b"sRGB"[::-1] + bytes(124 - len(info) - len(masks) - 4)
    header = struct.pack("<2sIHHI", b"BM", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    return header + info + pixels


def test_a_bmp_whose_fourth_byte_is_all_zero_is_opaque() -> None:
    # Many writers leave a 32-bit BMP's alpha 0: a red cat came out as a blank white image
    data = bmp_with_alpha_mask(solid((200, 30, 30)), alpha=0)
    assert Image.open(io.BytesIO(data)).mode == "RGBA"
    assert mean_rgb(data).tolist() == pytest.approx([200, 30, 30], abs=1)
    # A PNG with no opaque pixel is still nothing to see: the background
    assert mean_rgb(encode(solid((200, 30, 30, 0), "RGBA"), "PNG")).tolist() == [255.0] * 3


@pytest.mark.parametrize("where", ["load", "convert"])
def test_running_out_of_memory_is_no_verdict_on_the_file(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A MemoryError was turned into "corrupt or truncated WEBP: MemoryError", a rejection
    # that is never retried; it must fail the record instead, to be retried
    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError

    if where == "load":
        monkeypatch.setattr(ImageFile.ImageFile, "load", out_of_memory)
    else:
        monkeypatch.setattr(Image.Image, "resize", out_of_memory)
    with pytest.raises(MemoryError):
        prepare_image(encode(solid((10, 20, 30)), "GIF"), SPEC, LIMITS)


def test_the_pixel_budget_lets_large_decodes_through_one_at_a_time() -> None:
    # Eight record threads decoding 49 MP images at once took 7-10 GB
    budget = imaging.PixelBudget(100)
    order: list[str] = []
    first_in, first_out = threading.Event(), threading.Event()

    def first() -> None:
        with budget.held(80):
            order.append("first in")
            first_in.set()
            first_out.wait(5)
            order.append("first out")

    def second() -> None:
        first_in.wait(5)
        with budget.held(50):  # waits: 80 + 50 is over 100
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    assert order == ["first in"]
    first_out.set()
    for thread in threads:
        thread.join(5)
    assert order == ["first in", "first out", "second in"]
    with budget.held(10**9):  # more than the budget: it decodes alone, not never
        with pytest.raises(TimeoutError):
            _held_within(budget, 1, seconds=0.1)


def _held_within(budget: imaging.PixelBudget, pixels: int, seconds: float) -> None:
    done = threading.Event()

    def take() -> None:
        with budget.held(pixels):
            done.set()

    threading.Thread(target=take, daemon=True).start()
    if not done.wait(seconds):
        raise TimeoutError


def test_an_image_holds_the_budget_at_the_size_it_decodes_at(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[int] = []
    budget = imaging.PixelBudget(10**9)
    real = budget.held

    def recording(pixels: int) -> Any:
        asked.append(pixels)
        return real(pixels)

    monkeypatch.setattr(budget, "held", recording)
    monkeypatch.setattr(imaging, "DECODING", budget)
    prepare_image(encode(solid((10, 20, 30), size=(640, 480)), "PNG"), SPEC, LIMITS)
    prepare_image(encode(solid((10, 20, 30), size=(640, 480)), "JPEG"), SPEC, LIMITS)
    assert asked == [640 * 480, 80 * 60]  # the JPEG at 1/8: DCT scaling covers 32 px
