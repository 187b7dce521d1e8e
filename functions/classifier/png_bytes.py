"""PNG bytes, without decoding: chunk walking, metadata-bomb stripping, and pre-inflating the
image data with ISA-L for libspng (imaging's fast PNG path). Pure, no Pillow."""

from __future__ import annotations

import struct
from dataclasses import dataclass

try:  # ISA-L inflates ~3x faster than the zlib 1.2.11 bundled in pyspng's libspng
    from isal import isal_zlib as isal_zlib  # a module attribute: benches swap it
except ImportError:  # pragma: no cover - libspng inflates, only slower
    isal_zlib = None  # type: ignore[assignment]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {2: 3, 6: 4}  # colour types RGB and RGBA
_STORED_BLOCK = 65535  # the largest stored (uncompressed) deflate block
# Pre-inflating copies the raw scanlines twice. Up to 11.4 MB (a 4 MP RGB PNG) the decode is
# 1.4-1.5x faster; at 21.5 MB it measured 0.85-1.1x, fresh buffers' page faults eating the gain
# (bench/classify_bench.py). Bigger images skip it, which also bounds the extra memory.
PRE_INFLATE_MAX_BYTES = 16 * 1024 * 1024
# The native unfilter (png_unfilter) takes the inflated scanlines directly, with no second
# copy: 2.3-3x faster than libspng alone at every size measured up to 21.5 MB. Up to 48 MB
# (a 12 MP RGB PNG is 34 MB); bigger ones go to libspng, which inflates as it goes, so that
# ten images at once never hold more than about 0.5 GB of scanlines besides their pixels.
NATIVE_MAX_BYTES = 48 * 1024 * 1024


def eight_bit_rgb(data: bytes) -> bool:
    """Whether a PNG's header (IHDR, its first chunk) says 8-bit RGB or RGBA, interlaced or
    not: the only PNGs the fast decoders take. Pillow opens 16-bit RGB(A) and grey+alpha
    PNGs as 8-bit RGB(A) too, so its mode cannot tell."""
    return (
        len(data) >= 33
        and data.startswith(PNG_SIGNATURE)
        and data[12:16] == b"IHDR"
        and data[24] == 8
        and data[25] in _PNG_CHANNELS
    )


def pre_inflated(data: bytes) -> bytes | None:
    """pre_inflate, which never raises: None leaves the original bytes to libspng."""
    try:
        return pre_inflate(data)
    except Exception:  # anything unexpected: libspng decodes the original and judges it
        return None


def pre_inflate(data: bytes) -> bytes | None:
    """The same PNG with its image data inflated by ISA-L and re-stored uncompressed.

    libspng spends about two thirds of a photo PNG's decode in its bundled zlib's inflate.
    ISA-L inflates the IDAT stream here; stored deflate blocks hand libspng the same
    filtered scanlines, which it unfilters as before, so the pixels are the same. Every
    other chunk is passed on unchanged. None (decode the original) where `scanlines` gives
    None, so every error is still libspng's.
    """
    found = scanlines(data)
    if found is None:
        return None
    chunks = png_chunks(data)
    assert chunks is not None  # scanlines walked them already
    idat = [chunk for chunk in chunks if chunk[0] == b"IDAT"]
    first, last = idat[0][1], idat[-1][2]
    return b"".join([data[:first], *stored_idat(found.raw), data[last:]])


@dataclass(frozen=True)
class Scanlines:
    """A PNG's image data, inflated: per row a filter-type byte, then the filtered bytes."""

    width: int
    height: int
    channels: int  # 3 (RGB) or 4 (RGBA), 8 bits each
    raw: bytes


def scanlines(data: bytes, max_bytes: int | None = None) -> Scanlines | None:
    """The inflated image data of a well-formed non-interlaced 8-bit RGB/RGBA PNG whose data
    inflates to exactly the size its header gives, up to `max_bytes` (PRE_INFLATE_MAX_BYTES);
    None for anything else (the caller leaves that PNG to a full decoder, which judges it).
    Inflates with ISA-L.
    """
    if max_bytes is None:
        max_bytes = PRE_INFLATE_MAX_BYTES
    if isal_zlib is None or not data.startswith(PNG_SIGNATURE):
        return None
    chunks = png_chunks(data)
    if chunks is None or chunks[0][0] != b"IHDR" or chunks[0][2] - chunks[0][1] != 25:
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack_from(
        ">IIBBBBB", data, chunks[0][1] + 8
    )
    channels = _PNG_CHANNELS.get(colour)
    if depth != 8 or channels is None or interlace != 0 or not width or not height:
        return None
    expected = scanline_bytes(width, height, channels)
    idat = [index for index, chunk in enumerate(chunks) if chunk[0] == b"IDAT"]
    if not idat or idat[-1] - idat[0] + 1 != len(idat) or expected > max_bytes:
        return None
    # pyspng has libspng ignore chunk CRCs (SPNG_CRC_USE), so they are not checked here either.
    view = memoryview(data)
    stream = b"".join(view[chunks[i][1] + 8 : chunks[i][2] - 4] for i in idat)
    inflater = isal_zlib.decompressobj()
    try:
        raw = inflater.decompress(stream, expected + 1)  # bounded: no zip bomb
    except isal_zlib.error:  # type: ignore[misc]  # isal's stub declares an instance
        return None
    if len(raw) != expected or not inflater.eof or inflater.unused_data:
        return None
    return Scanlines(width, height, channels, raw)


def scanline_bytes(width: int, height: int, channels: int) -> int:
    """An 8-bit image's inflated image data: per row, a filter-type byte and the row's bytes."""
    return height * (1 + width * channels)


def png_chunks(data: bytes) -> list[tuple[bytes, int, int]] | None:
    """(type, start, end) of each chunk up to IEND; None if the file is cut short."""
    chunks = []
    position = len(PNG_SIGNATURE)
    while position + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        end = position + 12 + length
        if end > len(data):
            return None
        chunks.append((kind, position, end))
        if kind == b"IEND":
            return chunks
        position = end
    return None


def stored_idat(raw: bytes) -> list[bytes | memoryview]:
    """One IDAT chunk, as pieces, holding `raw` as a zlib stream of stored blocks."""
    view = memoryview(raw)
    body: list[bytes | memoryview] = [b"\x78\x01"]  # deflate, 32 KB window, no dictionary
    for start in range(0, len(raw), _STORED_BLOCK):
        block = view[start : start + _STORED_BLOCK]
        final = start + _STORED_BLOCK >= len(raw)
        body += [struct.pack("<BHH", final, len(block), len(block) ^ 0xFFFF), block]
    body.append(struct.pack(">I", isal_zlib.adler32(raw)))
    crc = isal_zlib.crc32(b"IDAT")
    for piece in body:
        crc = isal_zlib.crc32(piece, crc)
    size = sum(len(piece) for piece in body)
    return [struct.pack(">I4s", size, b"IDAT"), *body, struct.pack(">I", crc)]


METADATA_BOMB_CHUNKS = frozenset({b"iCCP", b"zTXt", b"iTXt"})


def without_png_chunks(data: bytes, kinds: frozenset[bytes]) -> bytes | None:
    """The PNG without the given chunks; None if it is not a PNG or has none of them."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    chunks = png_chunks(data)
    if chunks is None or not any(kind in kinds for kind, _, _ in chunks):
        return None
    kept = [data[start:end] for kind, start, end in chunks if kind not in kinds]
    return b"".join([PNG_SIGNATURE, *kept, data[chunks[-1][2] :]])
