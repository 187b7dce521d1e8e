"""The per-image table: our path (bytes -> prepare_image -> LiteRT int8 -> top-k) against a
naive one (full Pillow decode -> resize -> Keras predict) for each input, with its target."""

from __future__ import annotations

import io
from functools import partial
from typing import Any

import numpy as np
from PIL import Image

from classifier.imaging import prepare_image
from classifier.model import LoadedModel

from .inputs import LIMITS
from .timing import percentiles, time_calls

TARGETS = {
    "p50 <= 2 MP": "<= 15 ms",
    "p50 1 MP PNG": "<= 12 ms",
    "p50 12 MP JPEG": "<= 40 ms",
    "speed-up": ">= 10x",
    "cold start": "<= 1 s",
    "install": "<= 200 MB",
    "colours": "<= 2 ms p50 added",
    "generic labels + quality": "<= 1 ms p50 added",
}


def classify(model: LoadedModel, data: bytes) -> None:
    """The function's path: prepare_image, LiteRT int8, top-k."""
    model.predict(prepare_image(data, model.spec, LIMITS).array)


def naive_path(data: bytes, keras_model: Any, size: int) -> None:
    """What a first version would do: decode everything, resize, Keras predict."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    array = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), np.float32)
    keras_model.predict(array[None], verbose=0)


def target(input_name: str) -> str:
    if input_name.startswith("12 MP"):
        return TARGETS["p50 12 MP JPEG"]
    if input_name.startswith("1 MP PNG"):
        return TARGETS["p50 1 MP PNG"]
    return TARGETS["p50 <= 2 MP"]


def met(p50: float, input_name: str) -> str:
    return "ok" if p50 <= float(target(input_name).split()[1]) else "MISSED"


def table_header() -> None:
    print(
        f"{'model':<10} {'input':<24} {'LiteRT p50':>10} {'p95':>7} {'naive p50':>10} "
        f"{'p95':>7} {'speed-up':>9}  target (p50)"
    )


def measure(
    label: str,
    size: int,
    model: LoadedModel,
    keras_model: Any,
    images: dict[str, bytes],
    repeats: int,
) -> list[float]:
    """Print p50/p95 of our path and the naive one for each input; return the speed-ups."""
    ratios = []
    for name, data in images.items():
        ours = time_calls(partial(classify, model, data), repeats)
        naive = time_calls(partial(naive_path, data, keras_model, size), max(5, repeats // 4))
        (p50, p95), (n50, n95) = percentiles(ours), percentiles(naive)
        ratios.append(n50 / p50)
        print(
            f"{label:<10} {name:<24} {p50:>8.1f}ms {p95:>5.1f}ms {n50:>8.1f}ms "
            f"{n95:>5.1f}ms {n50 / p50:>8.1f}x  {target(name)} {met(p50, name)}"
        )
    blank = np.zeros((size, size, 3), np.uint8)
    infer = percentiles(time_calls(lambda: model.predict(blank), repeats))
    print(f"{label:<10} {'(inference only)':<24} {infer[0]:>8.1f}ms {infer[1]:>5.1f}ms")
    return ratios
