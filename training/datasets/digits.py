"""A second real data set: scikit-learn's 1,797 handwritten digits (8x8), upscaled to PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from training.data_fingerprint import fingerprint

NAME = "digits"
LABELS: tuple[str, ...] = tuple(str(d) for d in range(10))
_MAX_INK = 16  # load_digits counts ink per 4x4 block of the original 32x32 bitmaps: 0..16


def generate(out_dir: Path, *, image_size: int = 32, seed: int = 0) -> dict[str, Any]:
    """Write `out_dir/<digit>/<n>.png`, dark ink on white, as a scanned form would look.

    The images are the data set's own; `seed` is accepted for symmetry with the emoji
    generator and changes nothing.
    """
    from sklearn.datasets import load_digits  # scikit-learn is heavy and only needed here

    del seed
    digits = load_digits()
    out_dir = Path(out_dir)
    written: list[Path] = []
    counts = dict.fromkeys(LABELS, 0)
    for n, (pixels, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        label = LABELS[int(target)]
        image = to_image(pixels, image_size)
        path = out_dir / label / f"digit_{n:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, format="PNG")
        written.append(path)
        counts[label] += 1
    return {
        "name": NAME,
        "image_size": image_size,
        "counts": counts,
        "total": len(written),
        "fingerprint": fingerprint(out_dir, written),
    }


def to_image(pixels: np.ndarray, image_size: int) -> Image.Image:
    """One 8x8 ink-count image as a white-background greyscale image of the given size."""
    grey = 255 - np.clip(np.asarray(pixels, dtype=np.float64) * (255 / _MAX_INK), 0, 255)
    small = Image.fromarray(np.round(grey).astype(np.uint8), "L")
    return small.resize((image_size, image_size), Image.Resampling.BICUBIC)
