"""The bench's images: synthetic photos encoded as the function receives them, and the Lite0
int8 calibration set made from them."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from classifier.imaging import ImageLimits, InputSpec, prepare_image

LIMITS = ImageLimits()
PNG_1MP = "1 MP PNG (1000x1000)"


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """A synthetic 'photo': gradients, shapes, texture and blur, so codecs work realistically."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 180, (x + y) / (width + height) * 255], -1)
    image = Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(width // 40, width // 6))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.ellipse((x0, y0, x0 + size, y0 + size), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(1.5))


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    """The image as the bytes of a file in `fmt`."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def inputs() -> dict[str, bytes]:
    """The three inputs every section times: a phone photo, a 1080p frame and a 1 MP PNG."""
    return {
        "12 MP JPEG (4000x3000)": encoded(photo_like(4000, 3000), "JPEG", quality=90),
        "1080p JPEG (1920x1080)": encoded(photo_like(1920, 1080, 1), "JPEG", quality=90),
        PNG_1MP: encoded(photo_like(1000, 1000, 2), "PNG"),
    }


def lite0_calibration(images: dict[str, bytes], spec: InputSpec) -> np.ndarray:
    """The Lite0 int8 calibration images: the bench's inputs, prepared as the function
    prepares them, plus a few more synthetic photos."""
    calibration = [prepare_image(data, spec, LIMITS).array for data in images.values()]
    calibration += [np.asarray(photo_like(spec.width, spec.height, seed)) for seed in range(10, 23)]
    return np.stack(calibration)
