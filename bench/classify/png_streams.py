"""PNG bytes for the PNG section: the IDAT stream, the same PNG with other image data stored
uncompressed, pre-inflating with other inflaters, and the optional decoders to compare."""

from __future__ import annotations

import importlib
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from classifier import png_bytes, png_unfilter
from classifier.imaging import InputSpec, prepare_image

from .inputs import LIMITS


def optional(module: str) -> Any:
    """An optional decoder for the PNG section, or None when it is not importable."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def idat_stream(data: bytes) -> bytes:
    """The PNG's image data: the zlib stream of its IDAT chunks, joined."""
    chunks = png_bytes.png_chunks(data)
    assert chunks is not None
    return b"".join(data[start + 8 : end - 4] for kind, start, end in chunks if kind == b"IDAT")


def with_stored_idat(data: bytes, raw: bytes) -> bytes:
    """The same PNG with `raw` (filtered scanlines) as its image data, stored uncompressed."""
    chunks = png_bytes.png_chunks(data)
    assert chunks is not None
    idat = [(start, end) for kind, start, end in chunks if kind == b"IDAT"]
    return b"".join([data[: idat[0][0]], *png_bytes.stored_idat(raw), data[idat[-1][1] :]])


def pre_inflate_with(inflate: Callable[[bytes, int], bytes]) -> Callable[[bytes], bytes]:
    """imaging's pre-inflate with another inflater (8-bit RGB, non-interlaced only)."""

    def run(data: bytes) -> bytes:
        width, height = struct.unpack(">II", data[16:24])
        return with_stored_idat(
            data, inflate(idat_stream(data), png_bytes.scanline_bytes(width, height, 3))
        )

    return run


def load_pre_inflated(data: bytes) -> Any:
    """libspng's decode of the PNG pre-inflated by ISA-L, as imaging does it."""
    import pyspng

    return pyspng.load(png_bytes.pre_inflated(data) or data)


def prepare_without_isal(data: bytes, spec: InputSpec) -> np.ndarray:
    """prepare_image as it was before ISA-L: libspng inflates with its own zlib."""
    saved = png_bytes.isal_zlib
    setattr(png_bytes, "isal_zlib", None)  # noqa: B010 - the module's optional import
    try:
        return prepare_image(data, spec, LIMITS).array
    finally:
        png_bytes.isal_zlib = saved


def prepare_with_libspng(data: bytes, spec: InputSpec) -> np.ndarray:
    """prepare_image where the native unfilter is not built: ISA-L pre-inflate, libspng."""
    saved = png_unfilter._library
    png_unfilter._library = None
    try:
        return prepare_image(data, spec, LIMITS).array
    finally:
        png_unfilter._library = saved
