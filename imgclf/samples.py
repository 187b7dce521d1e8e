"""Inputs the demo and tests send: generated held-out images and deliberately bad files."""

from __future__ import annotations

from pathlib import Path

from .corpus_files import decompression_bomb_png

__all__ = ["USER_TAGS", "decompression_bomb_png", "ground_truth", "write_bad_inputs"]

USER_TAGS = {"owner": "demo-user", "project": "imgclf-demo"}


def write_bad_inputs(directory: Path, jpeg: bytes) -> dict[str, str]:
    """Write the bad files into `directory`; returns file name -> why it is bad."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "a JPEG cut in half"),
        "not-an-image.jpg": (b"this is a text file with a .jpg name\n", "text named .jpg"),
        "empty.jpg": (b"", "zero bytes"),
        "bomb.png": (decompression_bomb_png(), "a PNG header claiming 3.6 gigapixels"),
    }
    for name, (data, _) in files.items():
        (directory / name).write_bytes(data)
    return {name: why for name, (_, why) in files.items()}


def ground_truth(key: str, labels: set[str] | frozenset[str]) -> str | None:
    """The label a key's folder names (…/<label>/<file>), if it is one of the model's."""
    parts = key.split("/")
    return parts[-2] if len(parts) >= 2 and parts[-2] in labels else None
