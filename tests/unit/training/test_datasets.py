"""The generated data sets: emoji renderings and scikit-learn's digits."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.data import list_class_files
from training.data_fingerprint import fingerprint
from training.datasets import digits, emoji
from training.datasets.animals10 import LABELS as ANIMALS10_LABELS

try:
    emoji.find_font()
    HAVE_FONT = True
except emoji.FontNotFoundError:
    HAVE_FONT = False
needs_font = pytest.mark.skipif(not HAVE_FONT, reason="fonts-noto-color-emoji is not installed")


def test_emoji_classes_are_the_animals10_classes() -> None:
    assert emoji.LABELS == ANIMALS10_LABELS


def test_held_out_glyphs_never_appear_in_training() -> None:
    for label in emoji.LABELS:
        train, heldout = emoji.GLYPHS[label]
        assert train, f"{label} has no training glyph"
        assert not set(train) & set(heldout), label
    assert sum(bool(emoji.glyphs_for(label, "heldout")) for label in emoji.LABELS) >= 5


@needs_font
def test_every_glyph_is_in_the_font_and_distinct() -> None:
    rendered = {}
    for label in emoji.LABELS:
        for glyph in emoji.glyphs_for(label, "train") + emoji.glyphs_for(label, "heldout"):
            image = emoji.glyph_image(glyph)
            pixels = np.asarray(image)
            assert image.mode == "RGBA" and min(image.size) > 40, (label, glyph)
            # A colour glyph, not a monochrome fallback box.
            assert pixels[..., :3][pixels[..., 3] > 0].std(axis=0).max() > 10, (label, glyph)
            rendered[glyph] = pixels.tobytes()
    assert len(set(rendered.values())) == len(rendered)


@needs_font
def test_emoji_generation_is_deterministic_per_seed(tmp_path: Path) -> None:
    first = emoji.generate(tmp_path / "a", images_per_class=3, seed=5, image_size=64)
    again = emoji.generate(tmp_path / "b", images_per_class=3, seed=5, image_size=64)
    other = emoji.generate(tmp_path / "c", images_per_class=3, seed=6, image_size=64)

    assert first["fingerprint"] == again["fingerprint"]
    assert first["fingerprint"] != other["fingerprint"]
    assert first["total"] == 30 and first["counts"] == dict.fromkeys(emoji.LABELS, 3)
    files = sorted((tmp_path / "a").rglob("*.jpg"))
    assert first["fingerprint"] == fingerprint(tmp_path / "a", files)
    with Image.open(files[0]) as image:
        assert image.format == "JPEG" and image.size == (64, 64) and image.mode == "RGB"


@needs_font
def test_an_image_does_not_depend_on_how_many_are_generated(tmp_path: Path) -> None:
    emoji.generate(tmp_path / "few", images_per_class=2, seed=1, image_size=48)
    emoji.generate(tmp_path / "more", images_per_class=4, seed=1, image_size=48)

    name = "cat/cat_train_1_00001.jpg"
    assert (tmp_path / "few" / name).read_bytes() == (tmp_path / "more" / name).read_bytes()


@needs_font
def test_emoji_renderings_vary(tmp_path: Path) -> None:
    emoji.generate(tmp_path, images_per_class=6, seed=2, image_size=64)
    images = [np.asarray(Image.open(p), dtype=np.float32) for p in sorted(tmp_path.rglob("*.jpg"))]

    corners = {tuple(np.round(image[0, 0] / 16)) for image in images}
    assert len(corners) > 20  # backgrounds differ from image to image
    differences = [float(np.mean(np.abs(a - b))) for a, b in itertools.pairwise(images)]
    assert min(differences) > 5


@needs_font
def test_heldout_split_renders_only_held_out_glyph_classes(tmp_path: Path) -> None:
    summary = emoji.generate(tmp_path, images_per_class=2, seed=0, glyph_split="heldout")

    with_heldout = [label for label in emoji.LABELS if emoji.glyphs_for(label, "heldout")]
    assert sorted(summary["counts"]) == with_heldout
    assert list_class_files(tmp_path, emoji.LABELS).labels == emoji.LABELS
    assert all("_heldout_" in p.name for p in tmp_path.rglob("*.jpg"))


def test_emoji_generation_refuses_unknown_splits(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="glyph_split"):
        emoji.generate(tmp_path, images_per_class=1, seed=0, glyph_split="test")


def test_a_missing_font_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(emoji.FONT_ENV, str(tmp_path / "nope.ttf"))
    with pytest.raises(emoji.FontNotFoundError, match="fonts-noto-color-emoji"):
        emoji.find_font()


def test_digits_are_the_real_1797_images_dark_on_white(tmp_path: Path) -> None:
    summary = digits.generate(tmp_path, image_size=32)

    assert summary["total"] == 1797
    assert sorted(summary["counts"]) == list(digits.LABELS)
    assert min(summary["counts"].values()) >= 170
    with Image.open(tmp_path / "0" / "digit_0000.png") as image:
        pixels = np.asarray(image)
        assert image.size == (32, 32)
    assert pixels[0, 0] == 255  # paper
    assert pixels.min() < 40  # ink
    assert summary["fingerprint"] == digits.generate(tmp_path / "again")["fingerprint"]
