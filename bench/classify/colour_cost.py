"""What the dominant colours add per image: the step alone (thumbnail of the model input,
k-means in Lab, CIEDE2000 naming), and classify with and without it, interleaved."""

from __future__ import annotations

import statistics
from functools import partial
from typing import Any

import numpy as np

from classifier import imaging
from classifier.colours import dominant_colours
from classifier.imaging import prepare_image
from classifier.model import LoadedModel

from .inputs import LIMITS
from .paths import TARGETS
from .timing import interleaved

MAX_ADDED_MS = 2.0


def colours_of(array: np.ndarray) -> list[Any]:
    return list(dominant_colours(imaging.thumbnail(array)))


def colours_section(model: LoadedModel, images: dict[str, bytes], repeats: int) -> None:
    """What the dominant colours add per image: the step alone, and classify with and without."""
    print(
        f"\ncolours (Lite0-224, p50 over {repeats} interleaved rounds; the colour step is "
        "imaging.thumbnail of the model input + colours.dominant_colours)"
    )
    print(
        f"  {'input':<24} {'colours':>9} {'classify':>10} {'+ colours':>10} {'added':>8} "
        f"{'ratio':>7}  top colours"
    )
    step_ms = [colours_row(model, name, data, repeats) for name, data in images.items()]
    worst = max(step_ms)
    print(
        f"  colour step p50, worst input: {worst:.2f} ms  target {TARGETS['colours']} "
        f"{'ok' if worst <= MAX_ADDED_MS else 'MISSED'}"
    )


def colours_row(model: LoadedModel, name: str, data: bytes, repeats: int) -> float:
    """Print one input's row; return the colour step's p50."""
    prepared = prepare_image(data, model.spec, LIMITS)

    def classify() -> None:
        model.predict(prepare_image(data, model.spec, LIMITS).array)

    def classify_with_colours() -> None:
        ready = prepare_image(data, model.spec, LIMITS)
        model.predict(ready.array)
        dominant_colours(ready.thumbnail)

    samples = interleaved(
        {
            "colours": partial(colours_of, prepared.array),
            "without": classify,
            "with": classify_with_colours,
        },
        repeats,
    )
    p50 = {key: statistics.median(values) for key, values in samples.items()}
    added = p50["with"] - p50["without"]
    top = ", ".join(f"{c.name} {c.fraction:.2f}" for c in dominant_colours(prepared.thumbnail))
    print(
        f"  {name:<24} {p50['colours']:>7.2f}ms {p50['without']:>8.1f}ms "
        f"{p50['with']:>8.1f}ms {added:>+6.2f}ms {p50['with'] / p50['without']:>6.3f}x  {top}"
    )
    return p50["colours"]
