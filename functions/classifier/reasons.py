"""Why a file is not an image we take: one human-readable line per bad input, from the
bytes alone (signatures, headers, container framing). Pure; imaging calls it when a decoder
refuses a file."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Iterable

from PIL import Image

from .png_bytes import png_chunks


def unidentified_reason(data: bytes, allowed: Iterable[str]) -> str:
    """Why no allowed decoder took the file: damaged, another format, or not an image."""
    allowed_list = ", ".join(sorted(allowed))
    claimed = claimed_format(data, allowed)
    if claimed is not None:  # it starts like an allowed format, whose decoder refused it
        size = header_size(data, claimed)
        if size is not None and (size[0] <= 0 or size[1] <= 0):
            return f"image has no pixels ({size[0]}x{size[1]})"
        return damaged_reason(data, claimed, decoder_error(data, claimed))
    described = signature(data)
    if described is not None and described[0]:
        return f"format {described[0]} is not allowed (allowed: {allowed_list})"
    if described is None:
        try:
            with Image.open(io.BytesIO(data)) as other:
                return f"format {other.format} is not allowed (allowed: {allowed_list})"
        except Exception:
            pass
        if looks_like_text(data):
            described = ("", "text")
    if described is not None:
        return f"not a recognised image: looks like {described[1]} (allowed: {allowed_list})"
    return f"not a recognised image (allowed: {allowed_list})"


def header_reason(data: bytes, error: BaseException, allowed: Iterable[str]) -> str:
    """Why the header of a file could not be read (Pillow raised while opening it)."""
    claimed = claimed_format(data, allowed)
    if claimed is None:
        return f"unreadable image header: {one_line(error)}"
    return damaged_reason(data, claimed, one_line(error))


def damaged_reason(data: bytes, image_format: str, error: str) -> str:
    expected = container_size(data, image_format)
    if expected is not None and expected > len(data):
        return (
            f"truncated {image_format}: the file has {len(data)} of the {expected} bytes "
            f"its header gives"
        )
    if image_format == "PNG" and png_chunks(data) is None:
        return f"truncated PNG: its {len(data)} bytes end inside a chunk, before IEND"
    return f"corrupt or truncated {image_format}: {error}"


def claimed_format(data: bytes, formats: Iterable[str]) -> str | None:
    """The allowed format whose signature the file starts with, if any."""
    Image.init()
    prefix = data[:16]
    for name in sorted(formats):
        entry = Image.OPEN.get(name)
        accept = entry[1] if entry else None
        try:
            if accept is not None and accept(prefix):
                return name
        except Exception:
            continue
    return None


def decoder_error(data: bytes, image_format: str) -> str:
    """What the format's own decoder says about the header (Image.open hides it)."""
    factory = Image.OPEN[image_format][0]
    try:
        factory(io.BytesIO(data), "")
    except Exception as error:
        return one_line(error)
    return "the decoder refused the header"


def header_size(data: bytes, image_format: str) -> tuple[int, int] | None:
    """Width and height as the header states them, for the formats that can state 0."""
    try:
        if image_format == "PNG" and data[12:16] == b"IHDR":
            width, height = struct.unpack_from(">II", data, 16)
            return int(width), int(height)
        if image_format == "GIF":
            width, height = struct.unpack_from("<HH", data, 6)
            return int(width), int(height)
        if image_format == "BMP":
            if struct.unpack_from("<I", data, 14)[0] == 12:  # OS/2 core header
                width, height = struct.unpack_from("<HH", data, 18)
            else:
                width, height = struct.unpack_from("<ii", data, 18)
            return int(width), abs(int(height))
        if image_format == "WEBP" and data[12:16] == b"VP8 ":
            width, height = struct.unpack_from("<HH", data, 26)
            return width & 0x3FFF, height & 0x3FFF
        if image_format == "JPEG":
            return jpeg_frame_size(data)
    except struct.error:
        return None
    return None


def jpeg_frame_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        (length,) = struct.unpack_from(">H", data, position + 2)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack_from(">HH", data, position + 5)
            return width, height
        position += 2 + length
    return None


def container_size(data: bytes, image_format: str) -> int | None:
    """How many bytes the file's own framing says it has, where it says so."""
    if image_format == "WEBP" and len(data) >= 8:
        return int(struct.unpack_from("<I", data, 4)[0]) + 8
    return None


# Files that are plainly something else: (format name if it is an image, what it is).
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "", "a PDF document"),
    (b"\x7fELF", "", "an ELF executable"),
    (b"MZ", "", "a Windows executable"),
    (b"\xcf\xfa\xed\xfe", "", "a Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "", "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "", "a Mach-O executable or a Java class"),
    (b"#!", "", "a script"),
    (b"PK\x03\x04", "", "a ZIP archive or an office document"),
    (b"\x1f\x8b", "", "gzip-compressed data (was it stored with Content-Encoding: gzip?)"),
    (b"BZh", "", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "", "xz-compressed data"),
    (b"\x28\xb5\x2f\xfd", "", "zstd-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "", "a 7-Zip archive"),
    (b"Rar!", "", "a RAR archive"),
    (b"\xd0\xcf\x11\xe0", "", "an old Microsoft Office document"),
    (b"SQLite format 3", "", "an SQLite database"),
    (b"OggS", "", "Ogg audio or video"),
    (b"ID3", "", "MP3 audio"),
    (b"fLaC", "", "FLAC audio"),
    (b"\x1a\x45\xdf\xa3", "", "a Matroska or WebM video"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG2000", "a JPEG 2000 image"),
    (b"\xff\x0a", "JPEGXL", "a JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL ", "JPEGXL", "a JPEG XL image"),
)
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def signature(data: bytes) -> tuple[str, str] | None:
    """(image format name or "", description) from well-known magic numbers."""
    for magic, name, description in _SIGNATURES:
        if data.startswith(magic):
            return name, description
    if data[4:8] == b"ftyp":  # ISO base media: HEIF, AVIF, MP4, QuickTime
        (box_size,) = struct.unpack_from(">I", data, 0)
        brands = {data[i : i + 4] for i in range(8, min(box_size, len(data), 64), 4)}
        if brands & _AVIF_BRANDS:
            return "AVIF", "an AVIF image"
        if brands & _HEIF_BRANDS:
            return "HEIF", "a HEIF (HEIC) image"
        return "", "an MP4 or QuickTime video"
    if data[:4] == b"RIFF" and data[8:12] in (b"WAVE", b"AVI "):
        return "", "a WAV or AVI file"
    head = text_head(data)
    if head is not None:
        start = head.lstrip().lower()
        if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start):
            return "", "an SVG drawing (a vector image)"
        if start.startswith(("<!doctype html", "<html", "<head", "<body")):
            return "", "an HTML page"
        if start.startswith("<?xml"):
            return "", "an XML document"
    return None


def text_head(data: bytes, size: int = 2048) -> str | None:
    """The start of the file as text, if it decodes as UTF-8 or as UTF-16 with a BOM."""
    head = data[:size]
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"),
                          (b"\xfe\xff", "utf-16-be")):  # fmt: skip
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, errors="replace")
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start >= len(head) - 3:  # a character cut by the window
            return head[: error.start].decode("utf-8")
        return None


def looks_like_text(data: bytes) -> bool:
    head = text_head(data)
    if not head:
        return False
    printable = sum(1 for char in head if char.isprintable() or char in "\t\r\n")
    return printable >= 0.95 * len(head)


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__


def mib(size: int) -> str:
    """A size in binary megabytes, as the byte limit is set (25 MiB = 26,214,400 bytes)."""
    return f"{size / 2**20:.1f} MiB"


def megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP"


def over_limit(value: int, limit: int, shown: Callable[[int], str], exact: str) -> str:
    """ "X, over the Y limit", in `shown`'s rounded units, or exactly (`exact`: "bytes")
    when rounding would show the two alike ("25.0 MiB, over the 25.0 MiB limit")."""
    if shown(value) == shown(limit):
        return f"{value:,} {exact}, over the limit of {limit:,}"
    return f"{shown(value)}, over the {shown(limit)} limit"
