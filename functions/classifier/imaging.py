"""Pure preprocessing: image bytes and limits in, a model input array out.

The one function of preprocessing shared by the Lambda and by training's evaluation of the
int8 model, so that what the gate measured is what production sees.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import png_bytes, png_unfilter, reasons
from .contracts import DEFAULT_IMAGE_FORMATS, DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_IMAGE_PIXELS

try:  # libspng: ~2x faster than Pillow on 8-bit RGB(A) PNGs, where the native unfilter is not built
    import pyspng as pyspng  # a module attribute: tests swap its load
except ImportError:  # pragma: no cover - Pillow decodes every PNG, only slower
    pyspng = None

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
# Resizing first box-averages by the largest whole factor that leaves the last resampling at
# least `reducing_gap` times the target (Pillow's reducing_gap). At 1.0 a 1000 px PNG is
# averaged 4x4 (0.7 ms) before a bilinear pass over 250 px, where 3.0 resampled all of it
# (4 ms): bench/classify_bench.py. Part of the model input, so model.json records it;
# models that recorded none were built and evaluated with 3.0.
REDUCING_GAP = 1.0
LEGACY_REDUCING_GAP = 3.0
_T = TypeVar("_T")
_EXIF_ORIENTATION = 0x0112
_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)  # these swap width and height
_ROWS_AT_A_TIME = 256  # 16-bit to 8-bit conversion, in bands of rows
# Pixels decoded at once across the record threads (`PixelBudget`): one image at the
# default 50 MP limit, or many small ones.
DECODE_PIXEL_BUDGET = DEFAULT_MAX_IMAGE_PIXELS
TRIM_AFTER_PIXELS = 4_000_000  # a decode this large gives its memory back when done


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
    reducing_gap: float = REDUCING_GAP

    def __post_init__(self) -> None:
        if self.resize not in RESAMPLING:
            raise ValueError(
                f"unknown resize method {self.resize!r}; use one of {list(RESAMPLING)}"
            )
        if self.fit not in FITS:
            raise ValueError(f"unknown fit {self.fit!r}; use one of {list(FITS)}")
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f"input size must be positive, got {self.width}x{self.height}")
        if not self.reducing_gap >= 1.0:
            raise ValueError(f"reducing_gap must be 1.0 or more, got {self.reducing_gap}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "width": self.width,
            "channels": 3,
            "color": "rgb",
            "resize": self.resize,
            "fit": self.fit,
            "background": list(self.background),
            "reducing_gap": self.reducing_gap,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputSpec:
        return cls(
            height=int(data["height"]),
            width=int(data["width"]),
            resize=str(data.get("resize", "bilinear")),
            fit=str(data.get("fit", "squash")),
            background=tuple(int(c) for c in data.get("background", (255, 255, 255)))[:3],  # type: ignore[arg-type]
            reducing_gap=float(data.get("reducing_gap", LEGACY_REDUCING_GAP)),
        )


@dataclass(frozen=True)
class ImageLimits:
    """What the function accepts at all (its settings; the defaults are the contract's)."""

    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    formats: frozenset[str] = DEFAULT_IMAGE_FORMATS


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
        raise RejectedImageError(
            f"file is {reasons.over_limit(size, limits.max_bytes, reasons.mib, 'bytes')}"
        )


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
        over = reasons.over_limit(width * height, limits.max_pixels, reasons.megapixels, "pixels")
        raise RejectedImageError(f"image is {width}x{height} = {over}")
    if _orientation(image) in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    image_format = str(image.format)
    if image_format == "JPEG":
        # DCT scaling: decode at 1/2, 1/4 or 1/8 size when that still covers the target.
        side = max(spec.width, spec.height)
        _judged(
            f"corrupt or truncated {image_format}", lambda: image.draft(image.mode, (side, side))
        )
    with DECODING.held(image.width * image.height):  # the size it decodes at
        return _decoded(image, data, spec, (width, height))


def _decoded(
    image: Image.Image, data: bytes, spec: InputSpec, shown: tuple[int, int]
) -> PreparedImage:
    """The pixels of an opened, checked image as the model's input; `shown` its displayed
    width and height, as the header's EXIF gives them."""
    (width, height), image_format = shown, str(image.format)
    # An eXIf chunk after the image data is read only with the pixels: Pillow's path, and
    # the orientation again once they are loaded. (A false find only costs the fast path.)
    late_exif = image_format == "PNG" and "exif" not in image.info and b"eXIf" in data
    fast = _decode_png_fast(data, image) if image_format == "PNG" and not late_exif else None
    if fast is not None:
        rgb = _converted(fast, spec, image_format)
        return PreparedImage(np.asarray(rgb, dtype=np.uint8), width, height, image_format)
    _judged(f"corrupt or truncated {image_format}", image.load)
    if late_exif and _orientation(image) in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not reject an otherwise fine image
        upright = image
    rgb = _converted(upright, spec, image_format)
    return PreparedImage(np.asarray(rgb, dtype=np.uint8), width, height, image_format)


def _judged(reason: str, step: Callable[[], _T]) -> _T:
    """Run a decoder step: any failure on these bytes is the file's, a one-line rejection
    "<reason>: <error>"; except running out of memory, which is no verdict on the file (the
    record is retried, the DLQ after that)."""
    try:
        return step()
    except MemoryError:
        raise
    except Exception as error:
        raise RejectedImageError(f"{reason}: {reasons.one_line(error)}") from None


class PixelBudget:
    """How many pixels the function's record threads may decode at once: a record waits
    while others hold the rest. Decoders take 8-20 bytes a pixel at their peak (a 49 MP
    lossless WebP: 0.94 GB), and eight records decoding large images at once took 7-10 GB,
    past any Lambda's memory. An image larger than the budget decodes alone."""

    def __init__(self, pixels: int) -> None:
        self.pixels = pixels
        self._used = 0
        self._changed = threading.Condition()

    @contextmanager
    def held(self, pixels: int) -> Iterator[None]:
        wanted = min(max(pixels, 0), self.pixels)
        with self._changed:
            self._changed.wait_for(lambda: self._used + wanted <= self.pixels)
            self._used += wanted
        try:
            yield
        finally:
            if wanted >= TRIM_AFTER_PIXELS:
                _trim_heap()
            with self._changed:
                self._used -= wanted
                self._changed.notify_all()


def _trim_heap() -> None:
    """Give the heap's free memory back to the system (glibc's malloc_trim). Each record
    thread's malloc arena keeps what a large decode freed: eight threads, one large image each
    in turn, held 8 x one decode's peak (1.5 GB for a 49 MP PNG) though one decoded at a time."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _malloc_trim() -> Any:
    """glibc's malloc_trim, or None (another C library)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


DECODING = PixelBudget(DECODE_PIXEL_BUDGET)


def _open(data: bytes, limits: ImageLimits) -> tuple[Image.Image, bytes]:
    """Pillow's lazy open (the header only), and the bytes to decode from."""
    try:
        return Image.open(io.BytesIO(data), formats=sorted(limits.formats)), data
    except UnidentifiedImageError:
        raise RejectedImageError(reasons.unidentified_reason(data, limits.formats)) from None
    except ValueError as error:
        # Pillow refuses a PNG whose compressed ICC profile or text inflates past its limit
        # (a metadata bomb). Neither is needed for the pixels: decode without them.
        stripped = png_bytes.without_png_chunks(data, png_bytes.METADATA_BOMB_CHUNKS)
        if stripped is not None:
            try:
                return Image.open(io.BytesIO(stripped), formats=["PNG"]), stripped
            except Exception:
                pass
        raise RejectedImageError(reasons.header_reason(data, error, limits.formats)) from None
    except MemoryError:
        raise
    except Exception as error:
        raise RejectedImageError(reasons.header_reason(data, error, limits.formats)) from None


def _converted(image: Image.Image, spec: InputSpec, image_format: str) -> Image.Image:
    """The model's input; an exotic mode or a lazily decoded frame that fails is rejected."""

    def convert() -> Image.Image:
        shown = image
        if (
            image_format == "BMP"
            and shown.mode == "RGBA"
            and shown.getchannel("A").getextrema() == (0, 0)
        ):
            # A 32-bit BMP whose fourth byte is all 0 (as many writers leave it) is opaque,
            # as viewers show it, not an image with nothing to see.
            shown = shown.convert("RGB")
        return _to_rgb(_fit(shown, spec), spec.background)

    return _judged(f"cannot convert {image_format} ({image.mode}) to RGB", convert)


def _decode_png_fast(data: bytes, image: Image.Image) -> Image.Image | None:
    """Decode an 8-bit RGB/RGBA PNG: ISA-L and the native unfilter, else libspng; None
    leaves the image to Pillow. All three give the same pixels (tests/unit/classifier)."""
    if image.mode not in ("RGB", "RGBA") or "transparency" in image.info:
        return None
    if not png_bytes.eight_bit_rgb(data):
        return None  # 16-bit, or grey+alpha: Pillow's path (and its 16-bit scaling)
    if _orientation(image) != 1:
        return None
    if png_unfilter.available() and image.width <= png_unfilter.MAX_WIDTH:
        found = _scanlines(data)  # (the width from the header: nothing inflated for nothing)
        if found is not None and found.channels == len(image.mode):
            return _unfiltered(found)
    if pyspng is None:
        return None
    # libspng's errors are RuntimeErrors; any other is as bad
    array = _judged(
        "corrupt or truncated PNG", lambda: pyspng.load(png_bytes.pre_inflated(data) or data)
    )
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != len(image.mode):
        return None  # not what the header promised: Pillow's path judges it
    return Image.fromarray(array, image.mode)


def _unfiltered(found: png_bytes.Scanlines) -> Image.Image:
    try:
        pixels = png_unfilter.unfilter(found.raw, found.width, found.height, found.channels)
    except png_unfilter.UnfilterError as error:
        raise RejectedImageError(f"corrupt PNG: {error}") from None
    return Image.fromarray(pixels, "RGBA" if found.channels == 4 else "RGB")


def _scanlines(data: bytes) -> png_bytes.Scanlines | None:
    """png_bytes.scanlines, which never raises: None leaves the PNG to libspng."""
    try:
        return png_bytes.scanlines(data, png_bytes.NATIVE_MAX_BYTES)
    except Exception:  # anything unexpected: libspng decodes the original and judges it
        return None


def _fit(image: Image.Image, spec: InputSpec) -> Image.Image:
    """Resize to the model's size; 16-bit and float modes go to 8 bits first, scaled."""
    image = _to_8bit(image)
    box = None
    if spec.fit == "center_crop":
        box = _center_box(image.size, spec.width / spec.height)
    if image.mode in ("P", "PA") or "transparency" in image.info:
        # Palette indices cannot be interpolated, nor can a colour key (a tRNS colour).
        image = image.convert("RGBA")
    elif image.mode == "1":
        image = image.convert("L")
    return image.resize(
        (spec.width, spec.height),
        resample=RESAMPLING[spec.resize],
        box=box,
        reducing_gap=spec.reducing_gap,
    )


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and float modes to L (a colour key kept as alpha: LA), scaled, a band of rows
    at a time: a whole 16-bit image in float64 took 1.3 GB at 7000x7000."""
    if image.mode not in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return image
    values = np.asarray(image)
    wide = image.mode.startswith("I;16") or values.max(initial=0) > 255
    scale = 255.0 / (65535.0 if wide else 255.0)
    grey = np.empty(values.shape, np.uint8)
    for top in range(0, values.shape[0], _ROWS_AT_A_TIME):
        rows = values[top : top + _ROWS_AT_A_TIME].astype(np.float32)
        grey[top : top + _ROWS_AT_A_TIME] = np.clip(rows * scale + 0.5, 0, 255)
    key = image.info.get("transparency")
    if isinstance(key, int):
        alpha = (values != key).astype(np.uint8) * np.uint8(255)
        return Image.fromarray(np.dstack([grey, alpha]), "LA")
    return Image.fromarray(grey, "L")


def _to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any mode to RGB; transparency is composited on the background, never turned black."""
    if image.mode == "RGB" and "transparency" not in image.info:
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
        # image data: before the pixels are loaded, a late one (`late_exif`) is not asked for.
        return 1
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a broken EXIF block must not reject an otherwise fine image
        return 1
