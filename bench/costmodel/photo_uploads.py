"""What bench/cost.py uploads: the photo mix and its keys. Pure helpers (the run itself is
bench/cost.py; the host CPU it measures on is host_cpu.py)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

IMAGE_PREFIX = "cost/"


def photo_mix(photos: Sequence[Path], images: int, seed: int) -> list[Path]:
    """`images` photos: all of them in a seeded order, again and again (so any N is a mix)."""
    if not photos:
        raise ValueError("no photos to upload")
    order = sorted(photos)
    random.Random(seed).shuffle(order)
    return [order[i % len(order)] for i in range(images)]


def photo_keys(photos: Sequence[Path]) -> list[tuple[str, Path]]:
    """A distinct, photo-library-like key for each upload (a repeated photo is a new object):
    `cost/photos/2026/<n>-<name>` under its own suffix, lower-cased."""
    return [
        (f"{IMAGE_PREFIX}photos/2026/{i:05d}-{photo.stem}{photo.suffix.lower()}", photo)
        for i, photo in enumerate(photos)
    ]
