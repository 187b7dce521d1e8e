"""The native PNG unfilter (functions/classifier/native/unfilter.c): built by `make venv`, and
byte for byte what Pillow (libpng's rules) gives, for every filter type and row layout."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from classifier import imaging, png_bytes, png_unfilter
from classifier.imaging import ImageLimits, InputSpec, RejectedImageError, prepare_image
from tests.fixtures.corpus_files import png

FILTERS = {"none": 0, "sub": 1, "up": 2, "average": 3, "paeth": 4}


def png_of(raw: bytes, width: int, height: int, channels: int) -> bytes:
    """A PNG whose inflated image data is `raw` exactly (filter bytes included)."""
    return png(width, height, raw, colour_type={3: 2, 4: 6}[channels])


def pillow_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def random_scanlines(
    rng: np.random.Generator, width: int, height: int, channels: int, filters: list[int]
) -> bytes:
    """Rows of random filtered bytes (extremes included) under random filter types."""
    rows = []
    for _ in range(height):
        body = rng.integers(0, 256, width * channels, dtype=np.uint8)
        if rng.random() < 0.3:  # runs of 0, 1, 128, 254, 255 exercise the predictors' ties
            body = rng.choice(np.array([0, 1, 128, 254, 255], np.uint8), width * channels)
        rows.append(bytes([int(rng.choice(filters))]) + body.tobytes())
    return b"".join(rows)


def test_make_venv_builds_the_native_unfilter() -> None:
    # Without it every PNG falls back to libspng, about 5x slower to unfilter
    assert png_unfilter.available(), f"{png_unfilter.LIBRARY} is missing: run make venv"


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("name", [*FILTERS, "mixed"])
def test_each_filter_type_unfilters_as_pillow_does(name: str, channels: int) -> None:
    rng = np.random.default_rng(FILTERS.get(name, 9) * 10 + channels)
    filters = list(FILTERS.values()) if name == "mixed" else [FILTERS[name]]
    # Widths and heights around the 16-row bands and 16-byte blocks, down to one pixel
    for width, height in [(1, 1), (1, 40), (37, 1), (5, 15), (16, 16), (17, 33), (64, 31)]:
        raw = random_scanlines(rng, width, height, channels, filters)
        pixels = png_unfilter.unfilter(raw, width, height, channels)
        expected = pillow_pixels(png_of(raw, width, height, channels))
        np.testing.assert_array_equal(pixels, expected.reshape(height, width, channels))


def test_random_layouts_unfilter_as_pillow_does() -> None:
    rng = np.random.default_rng(2026)
    for _ in range(150):
        width, height = int(rng.integers(1, 90)), int(rng.integers(1, 50))
        channels = int(rng.choice([3, 4]))
        raw = random_scanlines(rng, width, height, channels, list(FILTERS.values()))
        pixels = png_unfilter.unfilter(raw, width, height, channels)
        expected = pillow_pixels(png_of(raw, width, height, channels))
        np.testing.assert_array_equal(pixels, expected.reshape(height, width, channels))


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_a_photo_sized_png_from_pillows_encoder_is_the_same(mode: str) -> None:
    # Given a 640x480 photo-like PNG, filtered as Pillow's encoder chooses row by row
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:480, 0:640]
    base = np.stack([x * 255 // 640, y * 255 // 480, (x + y) % 256, x * 0 + 180], -1)
    noisy = base[..., : len(mode)] + rng.integers(0, 12, (480, 640, len(mode)))
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), mode)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    found = png_bytes.scanlines(buffer.getvalue())
    assert found is not None
    # Then the native unfilter gives Pillow's pixels
    pixels = png_unfilter.unfilter(found.raw, found.width, found.height, found.channels)
    np.testing.assert_array_equal(pixels, np.asarray(image))


def test_an_unknown_filter_type_names_its_row() -> None:
    rng = np.random.default_rng(1)
    raw = bytearray(random_scanlines(rng, 20, 40, 3, [4]))
    raw[21 * (1 + 60)] = 7
    with pytest.raises(png_unfilter.UnfilterError, match="row 21 has filter type 7; PNG"):
        png_unfilter.unfilter(bytes(raw), 20, 40, 3)


def test_image_data_of_the_wrong_size_is_refused_before_the_native_call() -> None:
    with pytest.raises(png_unfilter.UnfilterError, match="59 bytes of image data do not fit"):
        png_unfilter.unfilter(bytes(59), 20, 1, 3)
    with pytest.raises(png_unfilter.UnfilterError, match="with 2 channels"):
        png_unfilter.unfilter(bytes(41), 20, 1, 2)


def test_a_png_with_an_unknown_filter_type_is_one_line_rejection() -> None:
    # Given a PNG whose image data inflates to the right size but row 3 says filter type 9
    rng = np.random.default_rng(3)
    raw = bytearray(random_scanlines(rng, 30, 10, 3, [0, 1, 2, 3, 4]))
    raw[3 * (1 + 90)] = 9
    data = png_of(bytes(raw), 30, 10, 3)
    # Then preparing it is a rejection that says what is wrong, in one line
    with pytest.raises(RejectedImageError, match=r"^corrupt PNG: row 3 has filter type 9"):
        prepare_image(data, InputSpec(height=8, width=8), ImageLimits())


def test_without_the_library_pngs_decode_with_libspng_to_the_same_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(4)
    raw = random_scanlines(rng, 200, 150, 3, list(FILTERS.values()))
    data = png_of(raw, 200, 150, 3)
    spec = InputSpec(height=64, width=64)
    native = prepare_image(data, spec, ImageLimits()).array
    monkeypatch.setattr(png_unfilter, "_library", None)
    assert not png_unfilter.available()
    assert imaging.pyspng is not None
    np.testing.assert_array_equal(prepare_image(data, spec, ImageLimits()).array, native)
    with pytest.raises(RuntimeError, match="not built"):
        png_unfilter.unfilter(raw, 200, 150, 3)


def test_big_pngs_go_to_libspng_which_inflates_as_it_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a PNG whose image data is one byte over the native path's bound
    raw = random_scanlines(np.random.default_rng(6), 40, 30, 3, [1, 4])
    data = png_of(raw, 40, 30, 3)
    monkeypatch.setattr(png_bytes, "NATIVE_MAX_BYTES", len(raw) - 1)
    calls: list[int] = []
    original = png_unfilter.unfilter

    def counted(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(png_unfilter, "unfilter", counted)
    # Then it decodes without the native unfilter, to Pillow's pixels
    prepared = prepare_image(data, InputSpec(height=30, width=40), ImageLimits())
    assert calls == []
    np.testing.assert_array_equal(prepared.array, pillow_pixels(data))


def test_a_png_wider_than_the_bound_goes_to_libspng(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a one-row strip wider than the band buffers are allowed to be
    width = png_unfilter.MAX_WIDTH + 1
    raw = random_scanlines(np.random.default_rng(8), width, 1, 3, [1])
    data = png_of(raw, width, 1, 3)
    with pytest.raises(png_unfilter.UnfilterError, match="pixels wide is over"):
        png_unfilter.unfilter(raw, width, 1, 3)
    # Then imaging decodes it without the native unfilter, as where it is not built
    spec = InputSpec(height=1, width=64)
    prepared = prepare_image(data, spec, ImageLimits())
    monkeypatch.setattr(png_unfilter, "_library", None)
    np.testing.assert_array_equal(prepared.array, prepare_image(data, spec, ImageLimits()).array)
