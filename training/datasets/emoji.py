"""The default offline data set: Animals-10's ten classes rendered from Noto Color Emoji.

Each image puts one glyph on a random background (solid, gradient, noise or a texture) at
a random scale, position and rotation, maybe flipped, colour-jittered, blurred and noisy,
saved at a random JPEG quality. Several glyphs per class where the font has them; one glyph
of some classes is held out of training, so `glyph_split="heldout"` measures whether the
model learnt the animal rather than the drawing.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from training.data_fingerprint import fingerprint

NAME = "emoji"
FONT_ENV = "IMGCLF_EMOJI_FONT"
FONT_PATHS = (
    Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"),
    Path("/usr/share/fonts/noto/NotoColorEmoji.ttf"),
    Path("/usr/share/fonts/google-noto-emoji/NotoColorEmoji.ttf"),
    Path("/System/Library/Fonts/Apple Color Emoji.ttc"),
)
FONT_SIZE = 109  # a CBDT bitmap font has this one size
GLYPH_SPLITS = ("train", "heldout")

# label -> (training glyphs, held-out glyphs). Held-out glyphs are whole variants the model
# never sees: a service dog, a racehorse, a rooster, a black cat, a water buffalo, a ram.
GLYPHS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "butterfly": (("\U0001f98b",), ()),
    "cat": (
        ("\U0001f408", "\U0001f431", "\U0001f63a", "\U0001f63b", "\U0001f640", "\U0001f63e"),
        ("\U0001f408\u200d\u2b1b", "\U0001f63c"),
    ),
    "chicken": (("\U0001f414", "\U0001f424", "\U0001f423"), ("\U0001f413",)),
    "cow": (("\U0001f404", "\U0001f42e", "\U0001f402"), ("\U0001f403",)),
    "dog": (
        ("\U0001f415", "\U0001f436", "\U0001f429", "\U0001f9ae"),
        ("\U0001f415\u200d\U0001f9ba",),
    ),
    "elephant": (("\U0001f418",), ()),
    "horse": (("\U0001f40e", "\U0001f434", "\U0001f3a0"), ("\U0001f3c7",)),
    "sheep": (("\U0001f411",), ("\U0001f40f",)),
    "spider": (("\U0001f577\ufe0f",), ()),
    "squirrel": (("\U0001f43f\ufe0f",), ()),
}
LABELS: tuple[str, ...] = tuple(sorted(GLYPHS))
# Animals that are none of the ten, rendered the same way: what the head learns to call
# "none of the labels" (a mixture model's outside output). Nothing close to a class: no
# wolf, fox, llama, bison, moth, scorpion or chipmunk.
OUTSIDE_GLYPHS: tuple[str, ...] = tuple(
    chr(code)
    for code in (
        0x1F992, 0x1F43C, 0x1F437, 0x1F416, 0x1F986, 0x1F989, 0x1F427, 0x1F993, 0x1F981,
        0x1F42F, 0x1F405, 0x1F43B, 0x1F412, 0x1F98D, 0x1F41F, 0x1F420, 0x1F438, 0x1F422,
        0x1F40D, 0x1F98E, 0x1F430, 0x1F98C, 0x1F410, 0x1F42A, 0x1F998, 0x1F9AD, 0x1F42C,
        0x1F41D, 0x1F41E, 0x1F40C, 0x1F99C, 0x1F9A9, 0x1F99A, 0x1F40A, 0x1F988, 0x1F419,
        0x1F980, 0x1F994, 0x1F987, 0x1F42D, 0x1F439, 0x1F99D, 0x1F98F, 0x1F99B, 0x1F417,
        0x1F985, 0x1F9A2, 0x1F433, 0x1F41C, 0x1F428, 0x1F9A5, 0x1F9A6, 0x1F426,
    )
)  # fmt: skip


class FontNotFoundError(FileNotFoundError):
    """No colour emoji font is installed."""


def generate(
    out_dir: Path,
    *,
    images_per_class: int,
    seed: int,
    image_size: int = 128,
    glyph_split: str = "train",
) -> dict[str, Any]:
    """Render `out_dir/<label>/*.jpg`; the same seed gives the same bytes. Returns a summary."""
    if glyph_split not in GLYPH_SPLITS:
        raise ValueError(f"glyph_split must be one of {GLYPH_SPLITS}, got {glyph_split!r}")
    if images_per_class < 1:
        raise ValueError("images_per_class must be at least 1")
    out_dir = Path(out_dir)
    written: list[Path] = []
    counts: dict[str, int] = {}
    for class_index, label in enumerate(LABELS):
        glyphs = glyphs_for(label, glyph_split)
        if not glyphs:
            continue
        class_dir = out_dir / label
        class_dir.mkdir(parents=True, exist_ok=True)
        for i in range(images_per_class):
            # One generator per image: an image does not depend on how many came before it.
            rng = np.random.default_rng([seed, GLYPH_SPLITS.index(glyph_split), class_index, i])
            glyph = glyphs[i % len(glyphs)]
            image = render_sample(glyph_image(glyph), rng, image_size)
            path = class_dir / f"{label}_{glyph_split}_{seed}_{i:05d}.jpg"
            path.write_bytes(_jpeg_bytes(image, int(rng.integers(35, 96))))
            written.append(path)
        counts[label] = images_per_class
    return {
        "name": NAME,
        "seed": seed,
        "glyph_split": glyph_split,
        "image_size": image_size,
        "counts": counts,
        "total": len(written),
        "fingerprint": fingerprint(out_dir, written),
    }


def generate_outside(out_dir: Path, *, count: int, seed: int, image_size: int = 128) -> Path:
    """Render `count` images of animals outside the ten classes into `out_dir` (flat)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rng = np.random.default_rng([seed, len(GLYPH_SPLITS), i])
        glyph = OUTSIDE_GLYPHS[i % len(OUTSIDE_GLYPHS)]
        image = render_sample(glyph_image(glyph), rng, image_size)
        (out_dir / f"outside_{seed}_{i:05d}.jpg").write_bytes(
            _jpeg_bytes(image, int(rng.integers(35, 96)))
        )
    return out_dir


def glyphs_for(label: str, glyph_split: str) -> tuple[str, ...]:
    """The glyphs of one class in one glyph split."""
    train, heldout = GLYPHS[label]
    return train if glyph_split == "train" else heldout


def find_font(paths: Sequence[Path] = FONT_PATHS) -> Path:
    """The colour emoji font: $IMGCLF_EMOJI_FONT, else the usual install locations."""
    override = os.environ.get(FONT_ENV)
    candidates = [Path(override)] if override else list(paths)
    for path in candidates:
        if path.is_file():
            return path
    raise FontNotFoundError(
        "no colour emoji font found (install Debian's fonts-noto-color-emoji "
        f"or set {FONT_ENV}); looked in: {', '.join(map(str, candidates))}"
    )


@lru_cache(maxsize=64)
def glyph_image(glyph: str) -> Image.Image:
    """One glyph rendered in colour on transparency, cropped to its pixels."""
    font = _font(find_font())
    canvas = Image.new("RGBA", (FONT_SIZE * 2, FONT_SIZE * 2), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text(
        (FONT_SIZE // 4, FONT_SIZE // 4), glyph, font=font, embedded_color=True
    )
    box = canvas.getbbox()
    if box is None:
        raise ValueError(f"the emoji font has no glyph for {glyph!r}")
    return canvas.crop(box)


def render_sample(glyph: Image.Image, rng: np.random.Generator, image_size: int) -> Image.Image:
    """One varied RGB image of a glyph (an RGBA image) on a random background."""
    sprite = _jitter_colour(glyph, rng)
    if rng.random() < 0.5:
        sprite = sprite.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    sprite = sprite.rotate(
        float(rng.uniform(-30, 30)), resample=Image.Resampling.BICUBIC, expand=True
    )
    side = max(8, round(image_size * rng.uniform(0.45, 0.95)))
    scale = side / max(sprite.size)
    sprite = sprite.resize(
        (max(1, round(sprite.width * scale)), max(1, round(sprite.height * scale))),
        Image.Resampling.LANCZOS,
    )
    image = make_background(rng, image_size).convert("RGBA")
    # Up to a tenth of the glyph may fall off an edge, as in a loosely cropped photo.
    slack_x = sprite.width // 10
    slack_y = sprite.height // 10
    x = int(rng.integers(-slack_x, image_size - sprite.width + slack_x + 1))
    y = int(rng.integers(-slack_y, image_size - sprite.height + slack_y + 1))
    image.alpha_composite(sprite, dest=(max(x, 0), max(y, 0)), source=(max(-x, 0), max(-y, 0)))
    result = image.convert("RGB")
    if rng.random() < 0.35:
        result = result.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.4))))
    if rng.random() < 0.4:
        pixels = np.asarray(result, dtype=np.float32)
        pixels += rng.normal(0.0, rng.uniform(2.0, 12.0), pixels.shape)
        result = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    return result


def make_background(rng: np.random.Generator, size: int) -> Image.Image:
    """A random RGB background: solid, gradient, noise or one of a few textures."""
    kind = rng.choice(["solid", "gradient", "noise", "clouds", "stripes", "checks", "dots"])
    first, second = _colour(rng), _colour(rng)
    if kind == "solid":
        return Image.new("RGB", (size, size), first)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    if kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(angle) + yy * np.sin(angle)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        return _blend(first, second, t)
    if kind == "noise":
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        image = Image.fromarray(pixels, "RGB")
        return Image.blend(Image.new("RGB", image.size, first), image, float(rng.uniform(0.2, 0.8)))
    if kind == "clouds":
        coarse = rng.random((max(2, size // 16), max(2, size // 16))).astype(np.float32)
        smooth = Image.fromarray((coarse * 255).astype(np.uint8), "L").resize(
            (size, size), Image.Resampling.BICUBIC
        )
        return _blend(first, second, np.asarray(smooth, dtype=np.float32) / 255.0)
    period = rng.uniform(6, 24) / size
    if kind == "stripes":
        angle = rng.uniform(0, np.pi)
        t = (xx * np.cos(angle) + yy * np.sin(angle)) / period
        return _blend(first, second, (np.floor(t) % 2).astype(np.float32))
    if kind == "checks":
        t = (np.floor(xx / period) + np.floor(yy / period)) % 2
        return _blend(first, second, t.astype(np.float32))
    image = Image.new("RGB", (size, size), first)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(10, 60))):
        cx, cy = rng.uniform(0, size, 2)
        r = rng.uniform(1, size / 10)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_colour(rng))
    return image


def _jitter_colour(sprite: Image.Image, rng: np.random.Generator) -> Image.Image:
    rgb = sprite.convert("RGB")
    rgb = ImageEnhance.Brightness(rgb).enhance(float(rng.uniform(0.7, 1.3)))
    rgb = ImageEnhance.Contrast(rgb).enhance(float(rng.uniform(0.7, 1.3)))
    saturation = rng.uniform(0.0, 1.4) if rng.random() < 0.2 else rng.uniform(0.6, 1.4)
    rgb = ImageEnhance.Color(rgb).enhance(float(saturation))
    rgb.putalpha(sprite.getchannel("A"))
    return rgb


def _blend(first: tuple[int, int, int], second: tuple[int, int, int], t: np.ndarray) -> Image.Image:
    a = np.asarray(first, dtype=np.float32)
    b = np.asarray(second, dtype=np.float32)
    pixels = a + (b - a) * t[..., None]
    return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8), "RGB")


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(0, 256, 3))
    return (r, g, b)


def _jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@lru_cache(maxsize=4)
def _font(path: Path) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), FONT_SIZE)
