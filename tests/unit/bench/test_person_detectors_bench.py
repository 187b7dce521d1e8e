"""bench/person_detectors.py's scoring: which person photos a detector separates from the
rest, and the letterbox its models take (no model run, no download).

bench/ is not a package; the module is imported from the bench directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

BENCH = Path(__file__).resolve().parents[3] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import person_detectors  # noqa: E402


def test_a_person_photo_counts_only_above_every_other_photo() -> None:
    result = person_detectors.separation([0.95, 0.91, 0.5], [0.2, 0.91, 0.4])
    assert (result.found, result.persons, result.highest_other) == (1, 3, 0.91)
    # No other photo at all: every positive score counts
    assert person_detectors.separation([0.1, 0.0], []).found == 1


def test_the_letterbox_keeps_the_aspect_and_centres_on_black() -> None:
    wide = Image.new("RGB", (400, 100), (255, 255, 255))
    boxed = person_detectors.letterboxed(wide, 128)
    assert boxed.size == (128, 128)
    assert boxed.getpixel((64, 0)) == (0, 0, 0) and boxed.getpixel((64, 64)) == (255, 255, 255)
    assert boxed.getpixel((64, 48)) == (255, 255, 255) and boxed.getpixel((64, 47)) == (0, 0, 0)


def test_every_detector_names_a_tflite_member_of_the_wheel() -> None:
    assert person_detectors.MEDIAPIPE_WHEEL == "mediapipe==0.10.14"
    for detector in person_detectors.DETECTORS:
        assert detector.member.startswith("mediapipe/modules/")
        assert detector.member.endswith(".tflite") and detector.side in (128, 192, 224, 256)
