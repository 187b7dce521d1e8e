"""What bench/cost.py uploads and where it measures: the photo mix, its keys, the host CPU.
Pure helpers (the run itself is bench/cost.py)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

IMAGE_PREFIX = "cost/"
CPU_FLAGS = ("avx2", "avx512_vnni", "avx_vnni")  # what int8 inference on x86 uses


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


def lscpu_model(text: str) -> str:
    """The `Model name:` of lscpu's output, or "unknown"."""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "Model name" and value.strip():
            return value.strip()
    return "unknown"


def cpu_flags(cpuinfo: str) -> set[str]:
    """Every flag /proc/cpuinfo lists (x86 `flags`, arm64 `Features`)."""
    found: set[str] = set()
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            found |= set(value.split())
    return found


def cpu_flag_text(flags: set[str]) -> str:
    """Which of CPU_FLAGS the CPU has: `avx2 yes, avx512_vnni no, ...`."""
    return ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in CPU_FLAGS)
