"""Trained person detectors on the photo sets: could one fill ImageNet-1k's "person" gap?

    .venv/bin/python bench/person_detectors.py

ImageNet-1k has no person class, so the generic labeller finds a person only through a
groom, a scuba diver or a ballplayer. MediaPipe's wheel on PyPI (MEDIAPIPE_WHEEL,
Apache-2.0; its 1.x wheels no longer ship them) holds trained TFLite models that LiteRT runs
without MediaPipe. This bench downloads that wheel once (`pip download`, cached under
$IMGCLF_CACHE or ~/.cache/imgclf/mediapipe), reads four models from it, and scores each on
the generic photo set's photos annotated "person" (tune and heldout) against every other
photo of the generic, animal and everyday photo sets: an image's score is its most
confident anchor (sigmoid; letterboxed input in [-1, 1]) or, for the segmenter, the share of
its pixels at 0.5 or more. It prints, per model, the person photos scored above every photo
without a person (found with no false detection on these photos), the highest such score,
and the ms per image on one thread beside Lite0 int8's (the generic labeller of this code
version, from the imgclf home's cache: imgclf.model_generic.home_generic; timed in the same
run), as a ratio.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from classifier.imaging import ImageLimits, prepare_image  # noqa: E402
from classifier.model import LoadedModel  # noqa: E402
from training.datasets import everyday_photos, generic_photos  # noqa: E402
from training.datasets import photos as animal_photos  # noqa: E402
from training.datasets.photo_manifest import cache_base  # noqa: E402

MEDIAPIPE_WHEEL = "mediapipe==0.10.14"
PERSON = "person"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")


@dataclass(frozen=True)
class Detector:
    """One model in the wheel: its member path, input side, and how an output scores."""

    name: str
    member: str
    side: int
    segmenter: bool = False


DETECTORS = (
    Detector("pose detector", "mediapipe/modules/pose_detection/pose_detection.tflite", 224),
    Detector(
        "face detector, full range",
        "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        192,
    ),
    Detector(
        "face detector, short range",
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        128,
    ),
    Detector(
        "selfie segmentation",
        "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
        256,
        segmenter=True,
    ),
)


@dataclass(frozen=True)
class Separation:
    """How far a detector's scores separate person photos from the rest."""

    found: int  # person photos scored above every photo without a person
    persons: int
    highest_other: float


def separation(person_scores: Sequence[float], other_scores: Sequence[float]) -> Separation:
    """The person photos a threshold just above the highest other photo's score keeps."""
    highest = max(other_scores, default=0.0)
    found = sum(score > highest for score in person_scores)
    return Separation(found, len(person_scores), highest)


def wheel_models(cache: Path) -> Path:
    """The directory holding the detectors' .tflite files, downloaded and extracted once."""
    target = cache / "models"
    if all((target / d.member).is_file() for d in DETECTORS):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        + ["--quiet", "-d", str(cache), MEDIAPIPE_WHEEL],
        check=True,
    )
    wheel = next(cache.glob("mediapipe-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        for detector in DETECTORS:
            archive.extract(detector.member, target)
    return target


def photo_sets() -> tuple[list[Path], list[Path]]:
    """(photos annotated "person", every other photo of the three sets)."""
    persons: list[Path] = []
    others: list[Path] = []
    for split in ("tune", "heldout"):
        for path, words in generic_photos.photo_words(split).items():
            (persons if PERSON in words else others).append(path)
    roots = [animal_photos.train_dir(), animal_photos.heldout_dir()]
    roots += [animal_photos.outside_dir(split) for split in ("calibration", "heldout")]
    everyday_photos.assemble()
    roots += [everyday_photos.train_dir(), everyday_photos.heldout_dir()]
    for root in roots:
        others += sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return persons, others


def letterboxed(image: Image.Image, side: int) -> Image.Image:
    """The image scaled to fit a side x side square, centred on black."""
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    canvas = Image.new("RGB", (side, side))
    canvas.paste(
        image.resize(size, Image.Resampling.BILINEAR),
        ((side - size[0]) // 2, (side - size[1]) // 2),
    )
    return canvas


def scorer(detector: Detector, models: Path) -> Callable[[Image.Image], tuple[float, float]]:
    """A function from an RGB image to (score, seconds of inference)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(models / detector.member), num_threads=1)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]["index"]
    outputs = interpreter.get_output_details()

    def score(image: Image.Image) -> tuple[float, float]:
        pixels = np.asarray(letterboxed(image, detector.side), np.float32)
        pixels = pixels / 255.0 if detector.segmenter else pixels / 127.5 - 1.0
        started = time.perf_counter()
        interpreter.set_tensor(source, pixels[None])
        interpreter.invoke()
        seconds = time.perf_counter() - started
        if detector.segmenter:
            mask = interpreter.get_tensor(outputs[0]["index"])
            return float((mask >= 0.5).mean()), seconds
        scores = next(o for o in outputs if o["shape"][-1] == 1)
        best = float(np.clip(interpreter.get_tensor(scores["index"]).max(), -100, 100))
        return 1.0 / (1.0 + np.exp(-best)), seconds

    return score


def lite0_ms(paths: Sequence[Path]) -> float:
    """Lite0 int8's inference ms per image (the generic labeller's network, one thread)."""
    from imgclf.model_generic import home_generic

    model = LoadedModel.from_directory(home_generic().model_dir)
    total = 0.0
    for path in paths:
        prepared = prepare_image(path.read_bytes(), model.spec, ImageLimits())
        started = time.perf_counter()
        model.raw(prepared.array)
        total += time.perf_counter() - started
    return 1000 * total / len(paths)


def main() -> int:
    cache = cache_base() / "mediapipe"
    models = wheel_models(cache)
    persons, others = photo_sets()
    images = {path: Image.open(path).convert("RGB") for path in (*persons, *others)}
    print(f"{len(persons)} photos annotated {PERSON!r}, {len(others)} photos without one")
    baseline = lite0_ms(list(images))
    print(f"Lite0 int8 (the generic labeller): {baseline:.2f} ms per image, one thread")
    for detector in DETECTORS:
        score = scorer(detector, models)
        scored = {path: score(image) for path, image in images.items()}
        ms = 1000 * sum(seconds for _, seconds in scored.values()) / len(scored)
        result = separation([scored[p][0] for p in persons], [scored[p][0] for p in others])
        print(
            f"  {detector.name:28} {detector.side} px  {ms:5.2f} ms ({ms / baseline:.2f}x Lite0)  "
            f"found {result.found} of {result.persons} above the highest other photo "
            f"({result.highest_other:.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
