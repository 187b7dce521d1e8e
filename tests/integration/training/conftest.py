"""Tiny data sets for the training runs: a few emoji renderings, and pure noise."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from training.datasets import emoji

TINY_IMAGES_PER_CLASS = 6


def _have_font() -> bool:
    try:
        emoji.find_font()
    except emoji.FontNotFoundError:
        return False
    return True


@pytest.fixture(scope="session")
def tiny_emoji(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Six renderings per class (and two held-out ones beside them), with the summary."""
    if not _have_font():
        pytest.skip("fonts-noto-color-emoji is not installed")
    root = tmp_path_factory.mktemp("tiny-emoji")
    summary = emoji.generate(
        root / "data", images_per_class=TINY_IMAGES_PER_CLASS, seed=3, image_size=64
    )
    emoji.generate(root / "data-heldout", images_per_class=2, seed=3, glyph_split="heldout")
    return root / "data", summary


@pytest.fixture(scope="session")
def noise_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three classes of random noise: nothing to learn, so any model is a bad model."""
    root = tmp_path_factory.mktemp("noise")
    rng = np.random.default_rng(0)
    for label in ("alpha", "beta", "gamma"):
        (root / label).mkdir()
        for n in range(10):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
            (root / label / f"{n}.png").write_bytes(buffer.getvalue())
    return root
