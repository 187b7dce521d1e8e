"""How the corpus's odd and bad files are made (imgclf.corpus lists the kinds): each
generator returns the bytes of one kind, built by code, small unless size is the point."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable

from PIL import Image

MB = 1024 * 1024
CORPUS_MAX_IMAGE_BYTES = 6 * MB  # the function's MAX_IMAGE_BYTES the corpus is built for
RED = (220, 30, 30)
GREEN = (30, 200, 40)
BLUE = (30, 40, 220)
# A 32-byte customer key (SSE-C): fixed, since the function must never have it anyway.
SSE_C_KEY = bytes(range(32))


# --- generators -------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (48, 32)) -> Image.Image:
    return Image.new("RGB", size, colour)


def red_jpeg(size: tuple[int, int] = (48, 32), **params: object) -> bytes:
    return encode(solid(RED, size), "JPEG", quality=90, **params)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(
    width: int,
    height: int,
    raw: bytes,
    *,
    depth: int = 8,
    colour_type: int = 2,
    interlace: int = 0,
    before_idat: Iterable[bytes] = (),
) -> bytes:
    """A PNG from raw (already filtered) scanlines; `before_idat` are whole chunks."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, interlace)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            png_chunk(b"IHDR", header),
            *before_idat,
            png_chunk(b"IDAT", zlib.compress(raw, 9)),
            png_chunk(b"IEND", b""),
        ]
    )


def decompression_bomb_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A valid-looking PNG of a few dozen bytes whose header claims width x height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + png_chunk(b"IEND", b"")
    )


def zero_by_zero_png() -> bytes:
    return png(0, 0, b"")


def zero_width_gif() -> bytes:
    # GIF87a, logical screen 0 x 16, no colour table, one 0 x 16 image descriptor.
    screen = b"GIF87a" + struct.pack("<HHBBB", 0, 16, 0, 0, 0)
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, 0, 16, 0)
    return screen + descriptor + b"\x02\x02\x4c\x01\x00;"


def one_by_n_png() -> bytes:
    return encode(solid(RED, (1, 600)), "PNG")


def n_by_one_jpeg() -> bytes:
    return red_jpeg((600, 1))


def huge_icc_jpeg() -> bytes:
    # 5 MB of profile, split by the encoder into APP2 segments; the pixels are ordinary.
    profile = b"\x00" * 5 * MB
    return red_jpeg(icc_profile=profile)


def icc_bomb_png() -> bytes:
    # An iCCP chunk of a few KB that inflates to 16 MB: more than Pillow's text-chunk limit.
    profile = zlib.compress(b"\x00" * 16 * MB, 9)
    chunk = png_chunk(b"iCCP", b"sRGB\x00\x00" + profile)
    raw = b"".join(b"\x00" + bytes(RED) * 48 for _ in range(32))
    return png(48, 32, raw, before_idat=[chunk])


def exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def exif_jpeg(orientation: int) -> bytes:
    return red_jpeg((48, 32), exif=exif(orientation))


def malformed_exif_jpeg() -> bytes:
    # A TIFF header whose first IFD offset points far past the end of the block.
    exif = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 0x7FFFFFF0) + b"\x00" * 8
    jpeg = red_jpeg()
    segment = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    return jpeg[:2] + segment + jpeg[2:]


def exif_with_bad_orientation_type_jpeg() -> bytes:
    # Orientation stored as an ASCII string instead of a SHORT.
    entry = struct.pack("<HHI", 0x0112, 2, 4) + b"six\x00"
    ifd = struct.pack("<H", 1) + entry + struct.pack("<I", 0)
    exif = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd
    jpeg = red_jpeg()
    segment = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    return jpeg[:2] + segment + jpeg[2:]


def animated(fmt: str) -> bytes:
    frames = [solid(c) for c in (RED, GREEN, BLUE)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def transparent_gif() -> bytes:
    image = solid(RED).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    pixels = image.load()
    assert pixels is not None
    transparent = 3
    for x in range(8):
        for y in range(8):
            pixels[x, y] = transparent
    return encode(image, "GIF", transparency=transparent)


def transparent_palette_png() -> bytes:
    image = solid(RED).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    return encode(image, "PNG", transparency=bytes([0, 255, 255, 255]))


def sixteen_bit_png() -> bytes:
    row = b"\x00" + struct.pack(">HHH", 56000, 7700, 7700) * 48
    return png(48, 32, row * 32, depth=16, colour_type=2)


def sixteen_bit_grey_png() -> bytes:
    row = b"\x00" + struct.pack(">H", 30000) * 48
    return png(48, 32, row * 32, depth=16, colour_type=0)


def interlaced_png() -> bytes:
    return encode(solid(RED), "PNG", interlace=1)


def cmyk_jpeg() -> bytes:
    return encode(solid(RED).convert("CMYK"), "JPEG", quality=90)


def bad_crc_png(chunk: bytes) -> bytes:
    data = bytearray(encode(solid(RED), "PNG"))
    start = data.index(chunk) - 4
    (length,) = struct.unpack_from(">I", data, start)
    crc_at = start + 8 + length
    data[crc_at : crc_at + 4] = bytes(b ^ 0xFF for b in data[crc_at : crc_at + 4])
    return bytes(data)


def idat_bomb_png() -> bytes:
    # 64 x 64 pixels, but the image data inflates to 64 MB: far more than the pixels need.
    raw = (b"\x00" + bytes(RED) * 64) * 64 + b"\x00" * 64 * MB
    return png(64, 64, raw)


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: int(len(data) * keep)]


def noisy(size: tuple[int, int] = (64, 48)) -> Image.Image:
    # Noise, so that the encoded image data is large enough for a cut to land in it.
    import numpy as np

    rng = np.random.default_rng(7)
    pixels = np.array(RED, np.float32) + rng.normal(0, 30, (size[1], size[0], 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def ftyp(brand: bytes, compatible: Iterable[bytes]) -> bytes:
    body = brand + b"\x00\x00\x00\x00" + b"".join(compatible)
    box = struct.pack(">I", 8 + len(body)) + b"ftyp" + body
    # An empty meta box after it, as in a real HEIF file's first bytes.
    return box + struct.pack(">I", 12) + b"meta" + b"\x00" * 4


def bmp_absurd_header() -> bytes:
    # BITMAPINFOHEADER claiming 2**30 x 2**30 pixels at 24 bits, with no pixel data at all.
    info = struct.pack("<IiiHHIIiiII", 40, 1 << 30, 1 << 30, 1, 24, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def bmp_bad_bits() -> bytes:
    # 16 x 16 pixels at 7 bits per pixel, which no BMP decoder knows.
    info = struct.pack("<IiiHHIIiiII", 40, 16, 16, 1, 7, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + 256, 0, 0, 54) + info + b"\x00" * 256


def jpeg_then_zip() -> bytes:
    archive = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("secret.txt", "hidden after the image\n" * 50)
    return red_jpeg() + archive.getvalue()


def elf() -> bytes:
    header = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + struct.pack("<HHI", 2, 0x3E, 1)
    return header + b"\x00" * 48


def pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def svg() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="48" height="32">'
        b'<rect width="48" height="32" fill="red"/></svg>\n'
    )


def html() -> bytes:
    return b"<!DOCTYPE html>\n<html><body><img src='cat.jpg'></body></html>\n"


def oversized() -> bytes:
    # A real JPEG, then padding past EOI: twice the byte limit.
    jpeg = red_jpeg()
    return jpeg + b"\x00" * (2 * CORPUS_MAX_IMAGE_BYTES - len(jpeg))


def ten_user_tags() -> dict[str, str]:
    return {f"user-tag-{i}": f"value-{i}" for i in range(10)}
