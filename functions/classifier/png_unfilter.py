"""PNG scanlines to pixels with the native unfilter (native/unfilter.c), through ctypes.

libspng and Pillow unfilter a row at a time, and a photo PNG's rows are mostly Paeth-filtered,
a serial chain per byte: about 7.7 ms of a 1 MP RGB PNG's decode. native/unfilter.c runs 16
rows at once in one vector's lanes (1.4 ms; bench/classify_bench.py), and gives the same
bytes, so the model input is unchanged. It is built by native/build.sh: by `make venv` here,
and by the Lambda image's Dockerfile for its architecture. Without the library (a checkout
nobody built) `available()` is False and imaging decodes with libspng, as before.
"""

from __future__ import annotations

import ctypes
import platform
from pathlib import Path

import numpy as np
import numpy.typing as npt

from . import png_bytes

# Named by machine: one checkout can hold the host's and an emulated aarch64 Python's builds.
LIBRARY = (
    Path(__file__).resolve().with_name("native") / f"libimgclf_unfilter.{platform.machine()}.so"
)
_BAD_ARGUMENTS = -1
_NO_MEMORY = -2
# The unfilter's four band buffers hold 16 rows of the image's width each, whatever its
# height: up to 8.4 MB at this width. Wider PNGs (a 1-row strip of millions of pixels) go to
# libspng. unfilter.c refuses anything over 65,536 as well.
MAX_WIDTH = 32768


class UnfilterError(ValueError):
    """Scanlines that no PNG could hold (an unknown filter type); the message is one line."""


def _load(path: Path) -> ctypes.CDLL | None:
    try:
        library = ctypes.CDLL(str(path))
    except OSError:  # not built here: imaging falls back to libspng
        return None
    function = library.imgclf_unfilter
    function.restype = ctypes.c_long
    function.argtypes = [
        ctypes.c_char_p,  # raw scanlines (read only; bytes are passed without a copy)
        ctypes.c_size_t,
        ctypes.c_void_p,  # out: height * width * channels bytes
        ctypes.c_size_t,
        ctypes.c_size_t,
        ctypes.c_int,
    ]
    return library


_library = _load(LIBRARY)  # a module attribute: tests swap it


def available() -> bool:
    return _library is not None


def unfilter(raw: bytes, width: int, height: int, channels: int) -> npt.NDArray[np.uint8]:
    """(height, width, channels) pixels from a non-interlaced 8-bit RGB (3) or RGBA (4) PNG's
    inflated image data: each row a filter-type byte and its filtered bytes."""
    if _library is None:
        raise RuntimeError(f"the native unfilter is not built ({LIBRARY.name}): run make venv")
    if width > MAX_WIDTH:
        raise UnfilterError(f"{width} pixels wide is over the native unfilter's {MAX_WIDTH}")
    if png_bytes.scanline_bytes(width, height, channels) != len(raw) or channels not in (3, 4):
        raise UnfilterError(
            f"{len(raw)} bytes of image data do not fit {width}x{height} with {channels} channels"
        )
    out = np.empty((height, width, channels), dtype=np.uint8)
    status = _library.imgclf_unfilter(raw, len(raw), out.ctypes.data, height, width, channels)
    if status > 0:
        row = status - 1
        kind = raw[row * (1 + width * channels)]
        raise UnfilterError(f"row {row} has filter type {kind}; PNG defines 0-4")
    if status == _NO_MEMORY:
        raise MemoryError("no memory for the unfilter's band buffers")
    if status != 0:
        raise UnfilterError(f"the unfilter refused {width}x{height} with {channels} channels")
    return out
