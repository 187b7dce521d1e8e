"""Training/serving parity: the Keras evaluation path and the Lambda see identical arrays."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier.imaging import ImageLimits, InputSpec, prepare_image
from training.data import list_class_files, load_images
from training.pipeline import evaluation_dataset


def _save(image: Image.Image, format_: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format_, **options)
    return buffer.getvalue()


def _odd_images() -> dict[str, bytes]:
    """Images that exercise preprocessing: EXIF rotation, alpha, grey, palette, 16 bits."""
    rng = np.random.default_rng(4)
    photo = Image.fromarray(rng.integers(0, 256, (90, 160, 3), dtype=np.uint8), "RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the Lambda turns it upright
    alpha = Image.fromarray(rng.integers(0, 256, (50, 70, 4), dtype=np.uint8), "RGBA")
    grey16 = Image.fromarray(rng.integers(0, 65535, (40, 40), dtype=np.uint16))
    return {
        "a/photo.jpg": _save(photo, "JPEG", quality=80, exif=exif),
        "a/big.jpg": _save(photo.resize((640, 360)), "JPEG", quality=90),
        "a/alpha.png": _save(alpha, "PNG"),
        "b/grey.png": _save(photo.convert("L"), "PNG"),
        "b/palette.gif": _save(photo.convert("P"), "GIF"),
        "b/deep.png": _save(grey16, "PNG"),
        "b/small.webp": _save(photo.resize((30, 17)), "WEBP"),
    }


@pytest.mark.parametrize("spec", [InputSpec(64, 64), InputSpec(48, 80, fit="center_crop")])
def test_evaluation_batches_equal_the_lambdas_input_arrays(tmp_path: Path, spec: InputSpec) -> None:
    files = _odd_images()
    for relative, data in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(data)

    loaded = load_images(list_class_files(tmp_path), spec)
    batches = evaluation_dataset(loaded.images, loaded.label_ids, batch_size=3)
    keras_inputs = np.concatenate([x for x, _ in batches.as_numpy_iterator()])

    assert not loaded.skipped
    assert len(loaded.files) == len(files)
    for path, keras_input in zip(loaded.files, keras_inputs, strict=True):
        lambda_input = prepare_image(path.read_bytes(), spec, ImageLimits()).array
        assert keras_input.shape == (spec.height, spec.width, 3)
        # The model gets float pixel values; they must be the Lambda's uint8 values exactly.
        assert np.array_equal(keras_input, lambda_input.astype(np.float32)), path.name
