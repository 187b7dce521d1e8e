"""Pure preprocessing: image bytes and limits in, a model input array out.

The one function of preprocessing shared by the Lambda and by training's evaluation of the
int8 model, so that what the gate measured is what production sees.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

try:  # libspng unfilters with SIMD: ~2x faster than Pillow on 8-bit RGB(A) PNGs
    import pyspng
except ImportError:  # pragma: no cover - Pillow decodes every PNG, only slower
    pyspng = None

try:  # ISA-L inflates ~3x faster than the zlib 1.2.11 bundled in pyspng's libspng
    from isal import isal_zlib
except ImportError:  # pragma: no cover - libspng inflates, only slower
    isal_zlib = None  # type: ignore[assignment]

# Pillow's own bomb check only warns below 2x its default limit; we enforce ours explicitly
# (as an error) from the header, before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = None

RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}
FITS = ("squash", "center_crop")
_EXIF_ORIENTATION = 0x0112
_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)  # these swap width and height


class RejectedImageError(ValueError):
    """A permanent problem with an image; `reason` is one human-readable line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class InputSpec:
    """How the model wants its input; read from the artifact's model.json `input`."""

    height: int
    width: int
    resize: str = "bilinear"
    fit: str = "squash"
    background: tuple[int, int, int] = (255, 255, 255)

    def __post_init__(self) -> None:
        if self.resize not in RESAMPLING:
            raise ValueError(
                f"unknown resize method {self.resize!r}; use one of {list(RESAMPLING)}"
            )
        if self.fit not in FITS:
            raise ValueError(f"unknown fit {self.fit!r}; use one of {list(FITS)}")
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f"input size must be positive, got {self.width}x{self.height}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "width": self.width,
            "channels": 3,
            "color": "rgb",
            "resize": self.resize,
            "fit": self.fit,
            "background": list(self.background),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputSpec:
        return cls(
            height=int(data["height"]),
            width=int(data["width"]),
            resize=str(data.get("resize", "bilinear")),
            fit=str(data.get("fit", "squash")),
            background=tuple(int(c) for c in data.get("background", (255, 255, 255)))[:3],  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class ImageLimits:
    """What the function accepts at all."""

    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000
    formats: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"})


THUMBNAIL_SIDE = 32  # the longest side of PreparedImage.thumbnail, at most


@dataclass(frozen=True)
class PreparedImage:
    """The model input (H x W x 3 uint8 RGB) and facts about the original image."""

    array: np.ndarray
    width: int
    height: int
    format: str

    @cached_property
    def thumbnail(self) -> np.ndarray:
        """The model input box-averaged to at most THUMBNAIL_SIDE a side (uint8 RGB).

        Cut from the model input, not decoded again: the same picture the model sees, alpha
        already composited on the model's background, for well under a millisecond. Computed
        on first use, so callers that never look (training's evaluation) never pay for it.
        """
        return thumbnail(self.array)


def thumbnail(array: np.ndarray, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """An H x W x 3 uint8 image box-averaged by a whole factor to at most `side` a side."""
    factor = math.ceil(max(array.shape[0], array.shape[1]) / side)
    if factor <= 1:
        return array
    reduced = Image.fromarray(np.ascontiguousarray(array), "RGB").reduce(factor)
    return np.asarray(reduced, dtype=np.uint8)


def check_size(size: int | None, limits: ImageLimits) -> None:
    """Reject by byte size before downloading (from the event's size or ContentLength)."""
    if size is None:
        return
    if size == 0:
        raise RejectedImageError("empty file (0 bytes)")
    if size > limits.max_bytes:
        raise RejectedImageError(f"file is {_mb(size)}, over the {_mb(limits.max_bytes)} limit")


def prepare_image(data: bytes, spec: InputSpec, limits: ImageLimits) -> PreparedImage:
    """Decode, validate and preprocess one image; raises RejectedImageError for bad input.

    A bad file never raises anything else: whatever a decoder throws on its bytes is turned
    into a one-line reason, since a retry would only fail the same way.
    """
    check_size(len(data), limits)
    image, data = _open(data, limits)

    width, height = image.size
    if width <= 0 or height <= 0:
        raise RejectedImageError(f"image has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise RejectedImageError(
            f"image is {width}x{height} = {width * height / 1e6:.1f} MP, "
            f"over the {limits.max_pixels / 1e6:.1f} MP limit"
        )
    if _orientation(image) in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    image_format = str(image.format)

    fast = _decode_png_fast(data, image) if image_format == "PNG" else None
    if fast is not None:
        rgb = _converted(fast, spec, image_format)
        return PreparedImage(np.asarray(rgb, dtype=np.uint8), width, height, image_format)

    try:
        if image_format == "JPEG":
            # DCT scaling: decode at 1/2, 1/4 or 1/8 size when that still covers the target.
            side = max(spec.width, spec.height)
            image.draft(image.mode, (side, side))
        image.load()
    except Exception as error:  # any decoder failure on these bytes is the file's
        raise RejectedImageError(
            f"corrupt or truncated {image_format}: {_one_line(error)}"
        ) from None
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not reject an otherwise fine image
        upright = image

    rgb = _converted(upright, spec, image_format)
    return PreparedImage(
        array=np.asarray(rgb, dtype=np.uint8),
        width=width,
        height=height,
        format=image_format,
    )


def _open(data: bytes, limits: ImageLimits) -> tuple[Image.Image, bytes]:
    """Pillow's lazy open (the header only), and the bytes to decode from."""
    try:
        return Image.open(io.BytesIO(data), formats=sorted(limits.formats)), data
    except UnidentifiedImageError:
        raise RejectedImageError(_unidentified_reason(data, limits.formats)) from None
    except ValueError as error:
        # Pillow refuses a PNG whose compressed ICC profile or text inflates past its limit
        # (a metadata bomb). Neither is needed for the pixels: decode without them.
        stripped = _without_png_chunks(data, _PNG_METADATA_BOMB_CHUNKS)
        if stripped is not None:
            try:
                return Image.open(io.BytesIO(stripped), formats=["PNG"]), stripped
            except Exception:
                pass
        raise RejectedImageError(_header_reason(data, error, limits.formats)) from None
    except Exception as error:
        raise RejectedImageError(_header_reason(data, error, limits.formats)) from None


def _converted(image: Image.Image, spec: InputSpec, image_format: str) -> Image.Image:
    try:
        return _to_rgb(_fit(image, spec), spec.background)
    except Exception as error:  # an exotic mode or a lazily decoded frame that fails
        raise RejectedImageError(
            f"cannot convert {image_format} ({image.mode}) to RGB: {_one_line(error)}"
        ) from None


def _decode_png_fast(data: bytes, image: Image.Image) -> Image.Image | None:
    """Decode an 8-bit RGB/RGBA PNG with libspng; None leaves the image to Pillow."""
    if (
        pyspng is None
        or image.mode not in ("RGB", "RGBA")
        or "transparency" in image.info
        or _orientation(image) != 1
    ):
        return None
    try:
        array = pyspng.load(_pre_inflated(data) or data)
    except Exception as error:  # libspng's errors are RuntimeErrors; any other is as bad
        raise RejectedImageError(f"corrupt or truncated PNG: {_one_line(error)}") from None
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != len(image.mode):
        return None  # 16-bit: Pillow's path scales it
    return Image.fromarray(array, image.mode)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {2: 3, 6: 4}  # colour types RGB and RGBA
_STORED_BLOCK = 65535  # the largest stored (uncompressed) deflate block
# Pre-inflating copies the raw scanlines twice. Up to 11.4 MB (a 4 MP RGB PNG) the decode is
# 1.4-1.5x faster; at 21.5 MB it measured 0.85-1.1x, fresh buffers' page faults eating the gain
# (bench/classify_bench.py). Bigger images skip it, which also bounds the extra memory.
PRE_INFLATE_MAX_BYTES = 16 * 1024 * 1024


def _pre_inflated(data: bytes) -> bytes | None:
    """_pre_inflate, which never raises: None leaves the original bytes to libspng."""
    try:
        return _pre_inflate(data)
    except Exception:  # anything unexpected: libspng decodes the original and judges it
        return None


def _pre_inflate(data: bytes) -> bytes | None:
    """The same PNG with its image data inflated by ISA-L and re-stored uncompressed.

    libspng spends about two thirds of a photo PNG's decode in its bundled zlib's inflate.
    ISA-L inflates the IDAT stream here; stored deflate blocks hand libspng the same
    filtered scanlines, which it unfilters as before, so the pixels are the same. Every
    other chunk is passed on unchanged. None (decode the original) for anything but a
    well-formed non-interlaced 8-bit RGB/RGBA PNG whose image data inflates to exactly the
    size its header gives, so every error is still libspng's.
    """
    if isal_zlib is None or not data.startswith(_PNG_SIGNATURE):
        return None
    chunks = _png_chunks(data)
    if chunks is None or chunks[0][0] != b"IHDR" or chunks[0][2] - chunks[0][1] != 25:
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack_from(
        ">IIBBBBB", data, chunks[0][1] + 8
    )
    channels = _PNG_CHANNELS.get(colour)
    if depth != 8 or channels is None or interlace != 0:
        return None
    expected = height * (1 + width * channels)  # a filter byte, then the row's bytes
    idat = [index for index, chunk in enumerate(chunks) if chunk[0] == b"IDAT"]
    if not idat or idat[-1] - idat[0] + 1 != len(idat) or expected > PRE_INFLATE_MAX_BYTES:
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
    first, last = chunks[idat[0]][1], chunks[idat[-1]][2]
    return b"".join([data[:first], *_stored_idat(raw), data[last:]])


def _png_chunks(data: bytes) -> list[tuple[bytes, int, int]] | None:
    """(type, start, end) of each chunk up to IEND; None if the file is cut short."""
    chunks = []
    position = len(_PNG_SIGNATURE)
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


def _stored_idat(raw: bytes) -> list[bytes | memoryview]:
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


def _fit(image: Image.Image, spec: InputSpec) -> Image.Image:
    """Resize to the model's size; 16-bit and float modes go to 8 bits first, scaled."""
    image = _to_8bit(image)
    box = None
    if spec.fit == "center_crop":
        box = _center_box(image.size, spec.width / spec.height)
    if image.mode in ("P", "PA"):
        # Palette indices cannot be interpolated.
        image = image.convert("RGBA")
    elif image.mode == "1":
        image = image.convert("L")
    return image.resize(
        (spec.width, spec.height), resample=RESAMPLING[spec.resize], box=box, reducing_gap=3.0
    )


def _to_8bit(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        return Image.fromarray(np.clip(values * (255.0 / top) + 0.5, 0, 255).astype(np.uint8), "L")
    return image


def _to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any mode to RGB; transparency is composited on the background, never turned black."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, P, CMYK, YCbCr, ...


def _center_box(size: tuple[int, int], aspect: float) -> tuple[float, float, float, float]:
    width, height = size
    if width / height > aspect:
        crop = height * aspect
        return ((width - crop) / 2, 0, (width + crop) / 2, height)
    crop = width / aspect
    return (0, (height - crop) / 2, width, (height + crop) / 2)


def _orientation(image: Image.Image) -> int:
    if image.format == "PNG" and "exif" not in image.info:
        # Pillow's PNG getexif() decodes every pixel to look for an eXIf chunk after the
        # image data; encoders put eXIf before IDAT, and a late one is still applied by
        # exif_transpose on Pillow's path.
        return 1
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a broken EXIF block must not reject an otherwise fine image
        return 1


def _unidentified_reason(data: bytes, allowed: Iterable[str]) -> str:
    """Why no allowed decoder took the file: damaged, another format, or not an image."""
    allowed_list = ", ".join(sorted(allowed))
    claimed = _claimed_format(data, allowed)
    if claimed is not None:  # it starts like an allowed format, whose decoder refused it
        size = _header_size(data, claimed)
        if size is not None and (size[0] <= 0 or size[1] <= 0):
            return f"image has no pixels ({size[0]}x{size[1]})"
        return _damaged_reason(data, claimed, _decoder_error(data, claimed))
    described = _signature(data)
    if described is not None and described[0]:
        return f"format {described[0]} is not allowed (allowed: {allowed_list})"
    if described is None:
        try:
            with Image.open(io.BytesIO(data)) as other:
                return f"format {other.format} is not allowed (allowed: {allowed_list})"
        except Exception:
            pass
        if _looks_like_text(data):
            described = ("", "text")
    if described is not None:
        return f"not a recognised image: looks like {described[1]} (allowed: {allowed_list})"
    return f"not a recognised image (allowed: {allowed_list})"


def _header_reason(data: bytes, error: BaseException, allowed: Iterable[str]) -> str:
    """Why the header of a file could not be read (Pillow raised while opening it)."""
    claimed = _claimed_format(data, allowed)
    if claimed is None:
        return f"unreadable image header: {_one_line(error)}"
    return _damaged_reason(data, claimed, _one_line(error))


def _damaged_reason(data: bytes, image_format: str, error: str) -> str:
    expected = _container_size(data, image_format)
    if expected is not None and expected > len(data):
        return (
            f"truncated {image_format}: the file has {len(data)} of the {expected} bytes "
            f"its header gives"
        )
    return f"corrupt or truncated {image_format}: {error}"


def _claimed_format(data: bytes, formats: Iterable[str]) -> str | None:
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


def _decoder_error(data: bytes, image_format: str) -> str:
    """What the format's own decoder says about the header (Image.open hides it)."""
    factory = Image.OPEN[image_format][0]
    try:
        factory(io.BytesIO(data), "")
    except Exception as error:
        return _one_line(error)
    return "the decoder refused the header"


def _header_size(data: bytes, image_format: str) -> tuple[int, int] | None:
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
            return _jpeg_frame_size(data)
    except struct.error:
        return None
    return None


def _jpeg_frame_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        (length,) = struct.unpack_from(">H", data, position + 2)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack_from(">HH", data, position + 5)
            return width, height
        position += 2 + length
    return None


def _container_size(data: bytes, image_format: str) -> int | None:
    """How many bytes the file's own framing says it has, where it says so."""
    if image_format == "WEBP" and len(data) >= 8:
        return int(struct.unpack_from("<I", data, 4)[0]) + 8
    if image_format == "PNG" and _png_chunks(data) is None:
        return len(data) + 1  # cut short before IEND: more was promised than is there
    return None


_PNG_METADATA_BOMB_CHUNKS = frozenset({b"iCCP", b"zTXt", b"iTXt"})


def _without_png_chunks(data: bytes, kinds: frozenset[bytes]) -> bytes | None:
    """The PNG without the given chunks; None if it is not a PNG or has none of them."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    chunks = _png_chunks(data)
    if chunks is None or not any(kind in kinds for kind, _, _ in chunks):
        return None
    kept = [data[start:end] for kind, start, end in chunks if kind not in kinds]
    return b"".join([_PNG_SIGNATURE, *kept, data[chunks[-1][2] :]])


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


def _signature(data: bytes) -> tuple[str, str] | None:
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
    head = _text_head(data)
    if head is not None:
        start = head.lstrip().lower()
        if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start):
            return "", "an SVG drawing (a vector image)"
        if start.startswith(("<!doctype html", "<html", "<head", "<body")):
            return "", "an HTML page"
        if start.startswith("<?xml"):
            return "", "an XML document"
    return None


def _text_head(data: bytes, size: int = 2048) -> str | None:
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


def _looks_like_text(data: bytes) -> bool:
    head = _text_head(data)
    if not head:
        return False
    printable = sum(1 for char in head if char.isprintable() or char in "\t\r\n")
    return printable >= 0.95 * len(head)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
