"""Inputs the demo and tests send: generated held-out images and deliberately bad files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

USER_TAGS = {"owner": "demo-user", "project": "imgclf-demo"}


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and CRC."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def decompression_bomb_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A valid-looking PNG of a few dozen bytes whose header claims width x height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + png_chunk(b"IEND", b"")
    )


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
