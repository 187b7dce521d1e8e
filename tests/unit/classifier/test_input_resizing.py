"""The model input's resizing: box-averaged by a whole factor first (reducing_gap 1), recorded
in model.json, and models that recorded none keep the resize they were evaluated with."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from classifier import imaging
from classifier.artifact import ModelMetadata
from classifier.imaging import ImageLimits, InputSpec, prepare_image

LIMITS = ImageLimits()


def photo_png(width: int, height: int) -> bytes:
    """A noisy gradient as an 8-bit RGB PNG (libspng's fast path)."""
    rng = np.random.default_rng(1)
    gradient = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    pixels = np.clip(gradient + rng.normal(0, 30, (height, width, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_new_models_record_their_reducing_gap_in_model_json() -> None:
    # Given the input spec training and the day-0 and generic builders make
    spec = InputSpec(height=224, width=224)
    metadata = ModelMetadata(version="v", input=spec, labels=("a", "b"))
    # Then model.json records the resize it was trained and evaluated with
    assert metadata.to_dict()["input"]["reducing_gap"] == imaging.REDUCING_GAP == 1.0
    assert ModelMetadata.from_dict(metadata.to_dict()).input == spec


def test_a_model_json_without_a_reducing_gap_keeps_the_resize_it_was_built_with() -> None:
    # Given model.json of a model built before the gap was recorded
    written = InputSpec(height=224, width=224).to_dict()
    del written["reducing_gap"]
    # When the function reads it, it resamples every pixel, as that model's evaluation did
    spec = InputSpec.from_dict(written)
    assert spec.reducing_gap == imaging.LEGACY_REDUCING_GAP == 3.0
    data = photo_png(1000, 1000)
    expected = (
        Image.open(io.BytesIO(data))
        .convert("RGB")
        .resize((224, 224), Image.Resampling.BILINEAR, reducing_gap=3.0)
    )
    assert np.array_equal(prepare_image(data, spec, LIMITS).array, np.asarray(expected))


def test_the_input_is_box_averaged_by_a_whole_factor_then_resampled() -> None:
    # Given a 1000 px PNG and a 224 px model
    data = photo_png(1000, 1000)
    source = Image.open(io.BytesIO(data)).convert("RGB")
    # When it is prepared, it is averaged 4x4 (to 250 px), then resampled to 224
    array = prepare_image(data, InputSpec(height=224, width=224), LIMITS).array
    reduced = source.reduce(4).resize((224, 224), Image.Resampling.BILINEAR)
    assert np.array_equal(array, np.asarray(reduced))
    # And that input is close to resampling every pixel (a visually identical picture)
    full = np.asarray(source.resize((224, 224), Image.Resampling.BILINEAR), np.int16)
    assert np.abs(array.astype(np.int16) - full).mean() < 2


def test_a_reducing_gap_under_one_is_refused() -> None:
    with pytest.raises(ValueError, match="reducing_gap must be 1.0 or more"):
        InputSpec(height=8, width=8, reducing_gap=0.5)
