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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

from .corpus_files import (
    BLUE,
    RED,
    SSE_C_KEY,
    animated,
    bad_crc_png,
    bmp_absurd_header,
    bmp_bad_bits,
    cmyk_jpeg,
    decompression_bomb_png,
    elf,
    encode,
    exif_jpeg,
    exif_with_bad_orientation_type_jpeg,
    ftyp,
    html,
    huge_icc_jpeg,
    icc_bomb_png,
    idat_bomb_png,
    interlaced_png,
    jpeg_then_zip,
    malformed_exif_jpeg,
    n_by_one_jpeg,
    noisy,
    one_by_n_png,
    oversized,
    pdf,
    red_jpeg,
    sixteen_bit_grey_png,
    sixteen_bit_png,
    solid,
    svg,
    ten_user_tags,
    transparent_gif,
    transparent_palette_png,
    truncated,
    zero_by_zero_png,
    zero_width_gif,
)

Expected = Literal["classified", "rejected", "gone"]
BeforeGet = Literal["delete", "replace"]


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


FORMAT_NOT_ALLOWED = "is not allowed"
NOT_AN_IMAGE = "not a recognised image"

KINDS: tuple[Kind, ...] = (
    # --- dimensions
    Kind("zero-by-zero", "zero-by-zero.png", "rejected", "no pixels",
         "a PNG whose header says 0 x 0 pixels", zero_by_zero_png),
    Kind("zero-width-gif", "zero-width.gif", "rejected", "no pixels",
         "a GIF whose screen and frame are 0 pixels wide", zero_width_gif),
    Kind("one-by-n", "one-by-600.png", "classified", "",
         "a PNG 1 pixel wide and 600 high", one_by_n_png, label="red", dimensions=(1, 600)),
    Kind("n-by-one", "600-by-one.jpg", "classified", "",
         "a JPEG 600 pixels wide and 1 high", n_by_one_jpeg, label="red",
         dimensions=(600, 1)),
    Kind("decompression-bomb", "bomb.png", "rejected", "MP limit",
         "a PNG of a few dozen bytes whose header claims 3.6 gigapixels",
         decompression_bomb_png),
    Kind("idat-bomb", "idat-bomb.png", "classified", "",
         "64 x 64 pixels whose image data inflates to 64 MB", idat_bomb_png, label="red"),
    # --- metadata
    Kind("huge-icc-profile", "huge-icc.jpg", "classified", "",
         "a JPEG carrying a 5 MB ICC profile (within the byte limit)", huge_icc_jpeg,
         label="red"),
    Kind("icc-bomb", "icc-bomb.png", "classified", "",
         "a PNG whose few-KB ICC chunk inflates to 16 MB", icc_bomb_png, label="red"),
    Kind("exif-orientation-6", "rotated-6.jpg", "classified", "",
         "EXIF orientation 6 (turn 90 degrees clockwise)", lambda: exif_jpeg(6),
         label="red", dimensions=(32, 48)),
    Kind("exif-orientation-8", "rotated-8.jpg", "classified", "",
         "EXIF orientation 8 (turn 90 degrees counter-clockwise)", lambda: exif_jpeg(8),
         label="red", dimensions=(32, 48)),
    Kind("exif-orientation-out-of-range", "orientation-99.jpg", "classified", "",
         "EXIF orientation 99 (valid values are 1 to 8)", lambda: exif_jpeg(99),
         label="red", dimensions=(48, 32)),
    Kind("exif-orientation-zero", "orientation-0.jpg", "classified", "",
         "EXIF orientation 0", lambda: exif_jpeg(0), label="red", dimensions=(48, 32)),
    Kind("exif-orientation-text", "orientation-text.jpg", "classified", "",
         "EXIF orientation stored as text", exif_with_bad_orientation_type_jpeg, label="red"),
    Kind("exif-malformed", "malformed-exif.jpg", "classified", "",
         "an EXIF block whose directory offset points past its end", malformed_exif_jpeg,
         label="red"),
    # --- frames, palettes, depths, colour spaces
    Kind("animated-webp", "animated.webp", "classified", "",
         "a three-frame animated WebP (the first frame counts)", lambda: animated("WEBP"),
         label="red"),
    Kind("animated-gif", "animated.gif", "classified", "",
         "a three-frame animated GIF (the first frame counts)", lambda: animated("GIF"),
         label="red"),
    Kind("transparent-gif", "transparent.gif", "classified", "",
         "a GIF with a transparent palette entry", transparent_gif, label="red"),
    Kind("transparent-palette-png", "transparent-palette.png", "classified", "",
         "a palette PNG with tRNS transparency", transparent_palette_png),
    Kind("sixteen-bit-png", "sixteen-bit.png", "classified", "",
         "a 16-bit-per-channel RGB PNG", sixteen_bit_png, label="red"),
    Kind("sixteen-bit-grey-png", "sixteen-bit-grey.png", "classified", "",
         "a 16-bit greyscale PNG", sixteen_bit_grey_png),
    Kind("interlaced-png", "interlaced.png", "classified", "",
         "an Adam7-interlaced PNG", interlaced_png, label="red"),
    Kind("greyscale-jpeg", "grey.jpg", "classified", "",
         "a one-channel greyscale JPEG", lambda: encode(solid(RED).convert("L"), "JPEG")),
    Kind("one-bit-bmp", "one-bit.bmp", "classified", "",
         "a 1-bit black-and-white BMP", lambda: encode(solid(RED).convert("1"), "BMP")),
    Kind("cmyk-jpeg", "cmyk.jpg", "classified", "", "a CMYK JPEG", cmyk_jpeg, label="red"),
    Kind("progressive-jpeg", "progressive.jpg", "classified", "",
         "a progressive JPEG", lambda: red_jpeg(progressive=True), label="red"),
    Kind("lossless-webp-alpha", "alpha.webp", "classified", "",
         "a lossless WebP with an alpha channel",
         lambda: encode(Image.new("RGBA", (48, 32), (*RED, 200)), "WEBP", lossless=True),
         label="red"),
    # --- damaged files
    Kind("truncated-jpeg", "truncated.jpg", "rejected", "truncated",
         "a JPEG cut short", lambda: truncated(encode(noisy(), "JPEG"))),
    Kind("truncated-png", "truncated.png", "rejected", "truncated",
         "a PNG cut short", lambda: truncated(encode(noisy(), "PNG"))),
    Kind("truncated-webp", "truncated.webp", "rejected", "truncated",
         "a WebP cut short", lambda: truncated(encode(noisy(), "WEBP"))),
    Kind("truncated-gif", "truncated.gif", "rejected", "truncated",
         "a GIF cut short", lambda: truncated(encode(noisy(), "GIF"))),
    Kind("png-bad-header-crc", "bad-header-crc.png", "rejected", "corrupt",
         "a PNG whose IHDR checksum is wrong", lambda: bad_crc_png(b"IHDR")),
    Kind("png-bad-data-crc", "bad-data-crc.png", "classified", "",
         "a PNG whose IDAT checksum is wrong (decoders ignore it)",
         lambda: bad_crc_png(b"IDAT"), label="red"),
    Kind("bmp-absurd-header", "absurd.bmp", "rejected", "MP limit",
         "a BMP header claiming 2^30 x 2^30 pixels and no data", bmp_absurd_header),
    Kind("bmp-bad-bit-depth", "seven-bit.bmp", "rejected", "pixel depth",
         "a BMP with 7 bits per pixel", bmp_bad_bits),
    Kind("jpeg-trailing-garbage", "trailing-garbage.jpg", "classified", "",
         "a JPEG with 4 KB of garbage after its end marker",
         lambda: red_jpeg() + bytes(range(256)) * 16, label="red"),
    Kind("jpeg-then-zip", "polyglot.jpg", "classified", "",
         "a JPEG with a ZIP archive appended", jpeg_then_zip, label="red"),
    # --- not images, or not allowed ones, under an image name
    Kind("empty", "empty.jpg", "rejected", "empty", "zero bytes", lambda: b""),
    Kind("one-byte", "one-byte.jpg", "rejected", NOT_AN_IMAGE, "a single byte", lambda: b"\xff"),
    Kind("text", "text.jpg", "rejected", NOT_AN_IMAGE, "a text file named .jpg",
         lambda: b"this is a text file with a .jpg name\n"),
    Kind("utf16-text", "utf16.jpg", "rejected", NOT_AN_IMAGE, "UTF-16 text with a BOM",
         lambda: "\ufeffnot a picture\n".encode("utf-16-le")),
    Kind("heic", "heic.jpg", "rejected", "HEIF", "a HEIC file's ftyp box under .jpg",
         lambda: ftyp(b"heic", [b"mif1", b"heic"])),
    Kind("avif", "avif.jpg", "rejected", FORMAT_NOT_ALLOWED, "a real AVIF under .jpg",
         lambda: encode(solid(RED), "AVIF")),
    Kind("tiff", "tiff.jpg", "rejected", "format TIFF is not allowed", "a TIFF under .jpg",
         lambda: encode(solid(RED), "TIFF")),
    Kind("svg", "svg.jpg", "rejected", "SVG", "an SVG drawing under .jpg", svg),
    Kind("pdf", "pdf.jpg", "rejected", "PDF", "a PDF document under .jpg", pdf),
    Kind("html", "html.jpg", "rejected", "HTML", "an HTML page under .jpg", html),
    Kind("elf", "elf.jpg", "rejected", "executable", "an ELF executable under .jpg", elf),
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
         "an object twice the function's byte limit", oversized),
    Kind("content-type-lies", "lying-type.jpg", "classified", "",
         "a JPEG stored as Content-Type text/plain", red_jpeg, label="red",
         content_type="text/plain"),
    Kind("ten-user-tags", "ten-tags.jpg", "classified", "",
         "an object that already has 10 tags, S3's maximum", red_jpeg, label="red",
         tags=ten_user_tags()),
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
