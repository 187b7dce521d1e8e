"""The corpus of odd and bad inputs: every kind, how it is made, and what must become of it.

Each kind is generated here (no binary is committed) and is small, except where its size is
the point. Its expected outcome is one of:
- ``classified``: an item with status CLASSIFIED (odd, but a picture we can read);
- ``rejected``: an item with status REJECTED whose one-line reason contains
  ``reason_contains``;
- ``gone``: no item at all, and the event acknowledged (the object no longer exists).
Nothing may reach the dead-letter queue: the DLQ is for what a retry could still fix.

Some kinds are about the S3 object rather than its bytes: a storage class, a customer-provided
encryption key (SSE-C), a content encoding, tags of its own, or an action taken between the
event and the function's GET (``before_get``: ``delete`` or ``replace``). The corpus assumes
the function's byte limit is ``CORPUS_MAX_IMAGE_BYTES`` (set MAX_IMAGE_BYTES to it), so that
the oversized kinds need not be 25 MB.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

Expected = Literal["classified", "rejected", "gone"]
BeforeGet = Literal["delete", "replace"]

MB = 1024 * 1024
CORPUS_MAX_IMAGE_BYTES = 6 * MB  # the function's MAX_IMAGE_BYTES the corpus is built for
RED = (220, 30, 30)
GREEN = (30, 200, 40)
BLUE = (30, 40, 220)
# A 32-byte customer key (SSE-C): fixed, since the function must never have it anyway.
SSE_C_KEY = bytes(range(32))


@dataclass(frozen=True)
class Kind:
    """One kind of odd or bad input and its expected outcome."""

    name: str
    filename: str  # the key's last part; may hold spaces, unicode, `+`, `%`
    expected: Expected
    reason_contains: str  # for rejected kinds: a substring of the item's reason
    why: str  # one line: what is odd about it
    make: Callable[[], bytes]
    label: str | None = None  # for classified kinds made of one colour: red, green or blue
    dimensions: tuple[int, int] | None = None  # the item's width x height, when it matters
    storage_class: str | None = None
    sse_customer_key: bytes | None = None
    content_type: str | None = None
    content_encoding: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    before_get: BeforeGet | None = None
    replacement: Callable[[], bytes] | None = None  # the new bytes for before_get="replace"

    def __post_init__(self) -> None:
        if self.expected == "rejected" and not self.reason_contains:
            raise ValueError(f"{self.name}: a rejected kind needs reason_contains")
        if (self.before_get == "replace") != (self.replacement is not None):
            raise ValueError(f"{self.name}: before_get='replace' goes with a replacement")

    @property
    def s3_level(self) -> bool:
        """Whether the kind needs S3 itself (not just the bytes) to show what it is."""
        return bool(
            self.storage_class
            or self.sse_customer_key
            or self.content_encoding
            or self.tags
            or self.before_get
        )

    def put_object_args(self) -> dict[str, object]:
        """The extra PutObject arguments (boto3 names) this kind's object is stored with."""
        args: dict[str, object] = {}
        if self.storage_class:
            args["StorageClass"] = self.storage_class
        if self.sse_customer_key:
            args["SSECustomerAlgorithm"] = "AES256"
            args["SSECustomerKey"] = self.sse_customer_key
        if self.content_type:
            args["ContentType"] = self.content_type
        if self.content_encoding:
            args["ContentEncoding"] = self.content_encoding
        if self.tags:
            args["Tagging"] = "&".join(f"{k}={v}" for k, v in self.tags.items())
        return args


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


def _zero_by_zero_png() -> bytes:
    return png(0, 0, b"")


def _zero_width_gif() -> bytes:
    # GIF87a, logical screen 0 x 16, no colour table, one 0 x 16 image descriptor.
    screen = b"GIF87a" + struct.pack("<HHBBB", 0, 16, 0, 0, 0)
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, 0, 16, 0)
    return screen + descriptor + b"\x02\x02\x4c\x01\x00;"


def _one_by_n_png() -> bytes:
    return encode(solid(RED, (1, 600)), "PNG")


def _n_by_one_jpeg() -> bytes:
    return red_jpeg((600, 1))


def _huge_icc_jpeg() -> bytes:
    # 5 MB of profile, split by the encoder into APP2 segments; the pixels are ordinary.
    profile = b"\x00" * 5 * MB
    return red_jpeg(icc_profile=profile)


def _icc_bomb_png() -> bytes:
    # An iCCP chunk of a few KB that inflates to 16 MB: more than Pillow's text-chunk limit.
    profile = zlib.compress(b"\x00" * 16 * MB, 9)
    chunk = png_chunk(b"iCCP", b"sRGB\x00\x00" + profile)
    raw = b"".join(b"\x00" + bytes(RED) * 48 for _ in range(32))
    return png(48, 32, raw, before_idat=[chunk])


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _exif_jpeg(orientation: int) -> bytes:
    return red_jpeg((48, 32), exif=_exif(orientation))


def _malformed_exif_jpeg() -> bytes:
    # A TIFF header whose first IFD offset points far past the end of the block.
    exif = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 0x7FFFFFF0) + b"\x00" * 8
    jpeg = red_jpeg()
    segment = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    return jpeg[:2] + segment + jpeg[2:]


def _exif_with_bad_orientation_type_jpeg() -> bytes:
    # Orientation stored as an ASCII string instead of a SHORT.
    entry = struct.pack("<HHI", 0x0112, 2, 4) + b"six\x00"
    ifd = struct.pack("<H", 1) + entry + struct.pack("<I", 0)
    exif = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd
    jpeg = red_jpeg()
    segment = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    return jpeg[:2] + segment + jpeg[2:]


def _animated(fmt: str) -> bytes:
    frames = [solid(c) for c in (RED, GREEN, BLUE)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _transparent_gif() -> bytes:
    image = solid(RED).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    pixels = image.load()
    assert pixels is not None
    transparent = 3
    for x in range(8):
        for y in range(8):
            pixels[x, y] = transparent
    return encode(image, "GIF", transparency=transparent)


def _transparent_palette_png() -> bytes:
    image = solid(RED).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    return encode(image, "PNG", transparency=bytes([0, 255, 255, 255]))


def _sixteen_bit_png() -> bytes:
    row = b"\x00" + struct.pack(">HHH", 56000, 7700, 7700) * 48
    return png(48, 32, row * 32, depth=16, colour_type=2)


def _sixteen_bit_grey_png() -> bytes:
    row = b"\x00" + struct.pack(">H", 30000) * 48
    return png(48, 32, row * 32, depth=16, colour_type=0)


def _interlaced_png() -> bytes:
    return encode(solid(RED), "PNG", interlace=1)


def _cmyk_jpeg() -> bytes:
    return encode(solid(RED).convert("CMYK"), "JPEG", quality=90)


def _bad_crc_png(chunk: bytes) -> bytes:
    data = bytearray(encode(solid(RED), "PNG"))
    start = data.index(chunk) - 4
    (length,) = struct.unpack_from(">I", data, start)
    crc_at = start + 8 + length
    data[crc_at : crc_at + 4] = bytes(b ^ 0xFF for b in data[crc_at : crc_at + 4])
    return bytes(data)


def _idat_bomb_png() -> bytes:
    # 64 x 64 pixels, but the image data inflates to 64 MB: far more than the pixels need.
    raw = (b"\x00" + bytes(RED) * 64) * 64 + b"\x00" * 64 * MB
    return png(64, 64, raw)


def _truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: int(len(data) * keep)]


def noisy(size: tuple[int, int] = (64, 48)) -> Image.Image:
    # Noise, so that the encoded image data is large enough for a cut to land in it.
    import numpy as np

    rng = np.random.default_rng(7)
    pixels = np.array(RED, np.float32) + rng.normal(0, 30, (size[1], size[0], 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _ftyp(brand: bytes, compatible: Iterable[bytes]) -> bytes:
    body = brand + b"\x00\x00\x00\x00" + b"".join(compatible)
    box = struct.pack(">I", 8 + len(body)) + b"ftyp" + body
    # An empty meta box after it, as in a real HEIF file's first bytes.
    return box + struct.pack(">I", 12) + b"meta" + b"\x00" * 4


def _bmp_absurd_header() -> bytes:
    # BITMAPINFOHEADER claiming 2**30 x 2**30 pixels at 24 bits, with no pixel data at all.
    info = struct.pack("<IiiHHIIiiII", 40, 1 << 30, 1 << 30, 1, 24, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def _bmp_bad_bits() -> bytes:
    # 16 x 16 pixels at 7 bits per pixel, which no BMP decoder knows.
    info = struct.pack("<IiiHHIIiiII", 40, 16, 16, 1, 7, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + 256, 0, 0, 54) + info + b"\x00" * 256


def _jpeg_then_zip() -> bytes:
    archive = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("secret.txt", "hidden after the image\n" * 50)
    return red_jpeg() + archive.getvalue()


def _elf() -> bytes:
    header = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + struct.pack("<HHI", 2, 0x3E, 1)
    return header + b"\x00" * 48


def _pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def _svg() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="48" height="32">'
        b'<rect width="48" height="32" fill="red"/></svg>\n'
    )


def _html() -> bytes:
    return b"<!DOCTYPE html>\n<html><body><img src='cat.jpg'></body></html>\n"


def _oversized() -> bytes:
    # A real JPEG, then padding past EOI: twice the byte limit.
    jpeg = red_jpeg()
    return jpeg + b"\x00" * (2 * CORPUS_MAX_IMAGE_BYTES - len(jpeg))


def _ten_user_tags() -> dict[str, str]:
    return {f"user-tag-{i}": f"value-{i}" for i in range(10)}


FORMAT_NOT_ALLOWED = "is not allowed"
NOT_AN_IMAGE = "not a recognised image"

KINDS: tuple[Kind, ...] = (
    # --- dimensions
    Kind("zero-by-zero", "zero-by-zero.png", "rejected", "no pixels",
         "a PNG whose header says 0 x 0 pixels", _zero_by_zero_png),
    Kind("zero-width-gif", "zero-width.gif", "rejected", "no pixels",
         "a GIF whose screen and frame are 0 pixels wide", _zero_width_gif),
    Kind("one-by-n", "one-by-600.png", "classified", "",
         "a PNG 1 pixel wide and 600 high", _one_by_n_png, label="red", dimensions=(1, 600)),
    Kind("n-by-one", "600-by-one.jpg", "classified", "",
         "a JPEG 600 pixels wide and 1 high", _n_by_one_jpeg, label="red",
         dimensions=(600, 1)),
    Kind("decompression-bomb", "bomb.png", "rejected", "MP limit",
         "a PNG of a few dozen bytes whose header claims 3.6 gigapixels",
         decompression_bomb_png),
    Kind("idat-bomb", "idat-bomb.png", "classified", "",
         "64 x 64 pixels whose image data inflates to 64 MB", _idat_bomb_png, label="red"),
    # --- metadata
    Kind("huge-icc-profile", "huge-icc.jpg", "classified", "",
         "a JPEG carrying a 5 MB ICC profile (within the byte limit)", _huge_icc_jpeg,
         label="red"),
    Kind("icc-bomb", "icc-bomb.png", "classified", "",
         "a PNG whose few-KB ICC chunk inflates to 16 MB", _icc_bomb_png, label="red"),
    Kind("exif-orientation-6", "rotated-6.jpg", "classified", "",
         "EXIF orientation 6 (turn 90 degrees clockwise)", lambda: _exif_jpeg(6),
         label="red", dimensions=(32, 48)),
    Kind("exif-orientation-8", "rotated-8.jpg", "classified", "",
         "EXIF orientation 8 (turn 90 degrees counter-clockwise)", lambda: _exif_jpeg(8),
         label="red", dimensions=(32, 48)),
    Kind("exif-orientation-out-of-range", "orientation-99.jpg", "classified", "",
         "EXIF orientation 99 (valid values are 1 to 8)", lambda: _exif_jpeg(99),
         label="red", dimensions=(48, 32)),
    Kind("exif-orientation-zero", "orientation-0.jpg", "classified", "",
         "EXIF orientation 0", lambda: _exif_jpeg(0), label="red", dimensions=(48, 32)),
    Kind("exif-orientation-text", "orientation-text.jpg", "classified", "",
         "EXIF orientation stored as text", _exif_with_bad_orientation_type_jpeg, label="red"),
    Kind("exif-malformed", "malformed-exif.jpg", "classified", "",
         "an EXIF block whose directory offset points past its end", _malformed_exif_jpeg,
         label="red"),
    # --- frames, palettes, depths, colour spaces
    Kind("animated-webp", "animated.webp", "classified", "",
         "a three-frame animated WebP (the first frame counts)", lambda: _animated("WEBP"),
         label="red"),
    Kind("animated-gif", "animated.gif", "classified", "",
         "a three-frame animated GIF (the first frame counts)", lambda: _animated("GIF"),
         label="red"),
    Kind("transparent-gif", "transparent.gif", "classified", "",
         "a GIF with a transparent palette entry", _transparent_gif, label="red"),
    Kind("transparent-palette-png", "transparent-palette.png", "classified", "",
         "a palette PNG with tRNS transparency", _transparent_palette_png),
    Kind("sixteen-bit-png", "sixteen-bit.png", "classified", "",
         "a 16-bit-per-channel RGB PNG", _sixteen_bit_png, label="red"),
    Kind("sixteen-bit-grey-png", "sixteen-bit-grey.png", "classified", "",
         "a 16-bit greyscale PNG", _sixteen_bit_grey_png),
    Kind("interlaced-png", "interlaced.png", "classified", "",
         "an Adam7-interlaced PNG", _interlaced_png, label="red"),
    Kind("greyscale-jpeg", "grey.jpg", "classified", "",
         "a one-channel greyscale JPEG", lambda: encode(solid(RED).convert("L"), "JPEG")),
    Kind("one-bit-bmp", "one-bit.bmp", "classified", "",
         "a 1-bit black-and-white BMP", lambda: encode(solid(RED).convert("1"), "BMP")),
    Kind("cmyk-jpeg", "cmyk.jpg", "classified", "", "a CMYK JPEG", _cmyk_jpeg, label="red"),
    Kind("progressive-jpeg", "progressive.jpg", "classified", "",
         "a progressive JPEG", lambda: red_jpeg(progressive=True), label="red"),
    Kind("lossless-webp-alpha", "alpha.webp", "classified", "",
         "a lossless WebP with an alpha channel",
         lambda: encode(Image.new("RGBA", (48, 32), (*RED, 200)), "WEBP", lossless=True),
         label="red"),
    # --- damaged files
    Kind("truncated-jpeg", "truncated.jpg", "rejected", "truncated",
         "a JPEG cut short", lambda: _truncated(encode(noisy(), "JPEG"))),
    Kind("truncated-png", "truncated.png", "rejected", "truncated",
         "a PNG cut short", lambda: _truncated(encode(noisy(), "PNG"))),
    Kind("truncated-webp", "truncated.webp", "rejected", "truncated",
         "a WebP cut short", lambda: _truncated(encode(noisy(), "WEBP"))),
    Kind("truncated-gif", "truncated.gif", "rejected", "truncated",
         "a GIF cut short", lambda: _truncated(encode(noisy(), "GIF"))),
    Kind("png-bad-header-crc", "bad-header-crc.png", "rejected", "corrupt",
         "a PNG whose IHDR checksum is wrong", lambda: _bad_crc_png(b"IHDR")),
    Kind("png-bad-data-crc", "bad-data-crc.png", "classified", "",
         "a PNG whose IDAT checksum is wrong (decoders ignore it)",
         lambda: _bad_crc_png(b"IDAT"), label="red"),
    Kind("bmp-absurd-header", "absurd.bmp", "rejected", "MP limit",
         "a BMP header claiming 2^30 x 2^30 pixels and no data", _bmp_absurd_header),
    Kind("bmp-bad-bit-depth", "seven-bit.bmp", "rejected", "pixel depth",
         "a BMP with 7 bits per pixel", _bmp_bad_bits),
    Kind("jpeg-trailing-garbage", "trailing-garbage.jpg", "classified", "",
         "a JPEG with 4 KB of garbage after its end marker",
         lambda: red_jpeg() + bytes(range(256)) * 16, label="red"),
    Kind("jpeg-then-zip", "polyglot.jpg", "classified", "",
         "a JPEG with a ZIP archive appended", _jpeg_then_zip, label="red"),
    # --- not images, or not allowed ones, under an image name
    Kind("empty", "empty.jpg", "rejected", "empty", "zero bytes", lambda: b""),
    Kind("one-byte", "one-byte.jpg", "rejected", NOT_AN_IMAGE, "a single byte", lambda: b"\xff"),
    Kind("text", "text.jpg", "rejected", NOT_AN_IMAGE, "a text file named .jpg",
         lambda: b"this is a text file with a .jpg name\n"),
    Kind("utf16-text", "utf16.jpg", "rejected", NOT_AN_IMAGE, "UTF-16 text with a BOM",
         lambda: "\ufeffnot a picture\n".encode("utf-16-le")),
    Kind("heic", "heic.jpg", "rejected", "HEIF", "a HEIC file's ftyp box under .jpg",
         lambda: _ftyp(b"heic", [b"mif1", b"heic"])),
    Kind("avif", "avif.jpg", "rejected", FORMAT_NOT_ALLOWED, "a real AVIF under .jpg",
         lambda: encode(solid(RED), "AVIF")),
    Kind("tiff", "tiff.jpg", "rejected", "format TIFF is not allowed", "a TIFF under .jpg",
         lambda: encode(solid(RED), "TIFF")),
    Kind("svg", "svg.jpg", "rejected", "SVG", "an SVG drawing under .jpg", _svg),
    Kind("pdf", "pdf.jpg", "rejected", "PDF", "a PDF document under .jpg", _pdf),
    Kind("html", "html.jpg", "rejected", "HTML", "an HTML page under .jpg", _html),
    Kind("elf", "elf.jpg", "rejected", "executable", "an ELF executable under .jpg", _elf),
    Kind("gzip-encoded", "gzipped.jpg", "rejected", "gzip",
         "a gzipped JPEG stored with Content-Encoding: gzip",
         lambda: gzip.compress(red_jpeg(), mtime=0), content_encoding="gzip"),
    # --- keys
    Kind("key-with-spaces", "a photo with spaces.jpg", "classified", "",
         "a key with spaces (`+` in the event)", red_jpeg, label="red"),
    Kind("key-with-unicode", "fotografía-日本-🐱.jpg", "classified", "",
         "a key with accented, CJK and emoji characters", red_jpeg, label="red"),
    Kind("key-with-plus", "a+b+c.jpg", "classified", "",
         "a key with `+` (`%2B` in the event)", red_jpeg, label="red"),
    Kind("key-with-percent", "100%25 red%.jpg", "classified", "",
         "a key with `%` characters, one of them like an escape", red_jpeg, label="red"),
    Kind("long-key", "long-" + "x" * 900 + ".jpg", "classified", "",
         "a key of about 1 KB, near S3's limit", red_jpeg, label="red"),
    # --- the S3 object
    Kind("over-byte-limit", "oversized.jpg", "rejected", "MB limit",
         "an object twice the function's byte limit", _oversized),
    Kind("content-type-lies", "lying-type.jpg", "classified", "",
         "a JPEG stored as Content-Type text/plain", red_jpeg, label="red",
         content_type="text/plain"),
    Kind("ten-user-tags", "ten-tags.jpg", "classified", "",
         "an object that already has 10 tags, S3's maximum", red_jpeg, label="red",
         tags=_ten_user_tags()),
    *(
        Kind(f"storage-{cls.lower().replace('_', '-')}", f"{cls.lower()}.jpg", "classified", "",
             f"an object in storage class {cls}", red_jpeg, label="red", storage_class=cls)
        for cls in (
            "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
            "GLACIER_IR",
        )
    ),
    *(
        Kind(f"storage-{cls.lower().replace('_', '-')}", f"{cls.lower()}.jpg", "rejected",
             "archived", f"an object in {cls}: the GET answers InvalidObjectState", red_jpeg,
             storage_class=cls)
        for cls in ("GLACIER", "DEEP_ARCHIVE")
    ),
    Kind("sse-c", "sse-c.jpg", "rejected", "encrypted",
         "encrypted with a customer-provided key (SSE-C) the function does not have",
         red_jpeg, sse_customer_key=SSE_C_KEY),
    Kind("deleted-before-get", "deleted.jpg", "gone", "",
         "the object is deleted between the event and the GET", red_jpeg,
         before_get="delete"),
    Kind("replaced-before-get", "replaced.jpg", "classified", "",
         "the object is replaced (red by blue) between the event and the GET", red_jpeg,
         label="blue", before_get="replace",
         replacement=lambda: encode(solid(BLUE), "JPEG", quality=90)),
)  # fmt: skip


def kind_named(name: str) -> Kind:
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)


def write_corpus(directory: Path, kinds: Iterable[Kind] = KINDS) -> dict[str, Path]:
    """Write each kind's file into `directory` (under its filename); name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind in kinds:
        path = directory / kind.filename
        path.write_bytes(kind.make())
        written[kind.name] = path
    return written
