"""Training/serving parity at photo size: the arrays training learns from are the Lambda's,
through libspng's PNG path, JPEG DCT scaling and the box-averaged resize, for the resize new
models record and the one older models recorded."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier import imaging
from classifier.imaging import ImageLimits, InputSpec, prepare_image
from training.data import list_class_files, load_images

SPECS = [
    InputSpec(224, 224),
    InputSpec(224, 224, reducing_gap=imaging.LEGACY_REDUCING_GAP),
    InputSpec(64, 96, fit="center_crop"),
]


def photo(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    gradient = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    pixels = np.clip(gradient + rng.normal(0, 30, (height, width, 3)), 0, 255)
    return Image.fromarray(pixels.astype(np.uint8))


def saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("spec", SPECS, ids=["gap-1", "gap-3", "center-crop"])
def test_training_reads_photo_sized_images_as_the_lambda_does(
    tmp_path: Path, spec: InputSpec
) -> None:
    # Given photo-sized PNGs (RGB and RGBA: libspng with ISA-L) and JPEGs (DCT scaling)
    files = {
        "a/photo.png": saved(photo(1000, 1000, 1), "PNG"),
        "a/alpha.png": saved(photo(1000, 750, 2).convert("RGBA"), "PNG"),
        "b/photo.jpg": saved(photo(1920, 1080, 3), "JPEG", quality=90),
        "b/phone.jpg": saved(photo(4000, 3000, 4), "JPEG", quality=85),
    }
    for relative, data in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(data)
    # When training loads them and the Lambda prepares them
    loaded = load_images(list_class_files(tmp_path), spec)
    # Then every array is the Lambda's, pixel for pixel
    assert not loaded.skipped and len(loaded.files) == len(files)
    for path, images in zip(loaded.files, loaded.images, strict=True):
        served = prepare_image(path.read_bytes(), spec, ImageLimits()).array
        assert np.array_equal(images, served), path.name
