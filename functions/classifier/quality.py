"""Image quality in DetectLabels' terms: brightness, sharpness and contrast, each 0..100.

Computed on the model input the function already has (224 x 224 for Lite0), never on a
second decode, so it costs well under a millisecond. The scales are ours (Rekognition does
not publish its formulas); what they mean:

- brightness: the mean luma (BT.601) as a percentage of white;
- contrast: the luma's standard deviation against the largest possible (127.5), as a
  percentage: a flat grey image is 0, a half-black, half-white one 100;
- sharpness: the mean absolute 4-neighbour Laplacian of the luma, mapped through
  100 * (1 - exp(-value / SHARPNESS_SCALE)): a blurred photo scores low, a crisp one high.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LUMA_WEIGHTS = np.asarray([0.299, 0.587, 0.114], np.float32)
SHARPNESS_SCALE = 12.0  # a mean |Laplacian| that reads as 63 of 100
MAX_STD = 127.5


@dataclass(frozen=True)
class Quality:
    """DetectLabels' ImageProperties.Quality: Brightness, Sharpness, Contrast (0..100)."""

    brightness: float
    sharpness: float
    contrast: float

    def to_item(self) -> dict[str, int]:
        """As the results item stores it: whole numbers, short keys' values."""
        return {
            "brightness": round(self.brightness),
            "sharpness": round(self.sharpness),
            "contrast": round(self.contrast),
        }


def image_quality(array: np.ndarray) -> Quality:
    """The quality figures of one H x W x 3 uint8 image."""
    luma = np.asarray(array, np.float32) @ LUMA_WEIGHTS
    brightness = float(luma.mean()) / 255.0 * 100.0
    contrast = min(float(luma.std()) / MAX_STD, 1.0) * 100.0
    if luma.shape[0] < 3 or luma.shape[1] < 3:
        return Quality(brightness, 0.0, contrast)
    laplacian = (
        4.0 * luma[1:-1, 1:-1] - luma[:-2, 1:-1] - luma[2:, 1:-1] - luma[1:-1, :-2] - luma[1:-1, 2:]
    )
    edges = float(np.abs(laplacian).mean())
    sharpness = 100.0 * (1.0 - math.exp(-edges / SHARPNESS_SCALE))
    return Quality(brightness, sharpness, contrast)
