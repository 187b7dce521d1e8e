"""Named evaluation sets shared between models, so a challenger is judged where the champion was.

Every model this project trains or builds is evaluated on its own test split and on the
standard sets whose labels it has:
- `emoji-renderings`: emoji renderings of the ten Animals-10 classes from a fixed seed
  (never a training seed), generated once into the cache;
- `real-photos`: the held-out split of the real photographs assembled from packages
  (`training.datasets.photos`);
- `outside-photos`: the held-out photos of animals outside the ten classes; its `accuracy`
  is the share the model calls "unknown" (1 - `forced_rate`, the share forced into a class).
An image the model calls "unknown" counts as wrong on the in-class sets.
model.json's `metrics.evaluations` holds, per set, its fingerprint, size and accuracies.
Two models share a set when the name and the fingerprint agree.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.contracts import (
    ANNOTATED_OUTSIDE,
    ANNOTATED_PHOTOS,
    EMOJI_RENDERINGS,
    OUTSIDE_PHOTOS,
    REAL_PHOTOS,
)
from classifier.imaging import InputSpec
from training.backbones.efficientnet_lite import cache_root
from training.data import (
    DataError,
    FileIndex,
    LoadedImages,
    list_class_files,
    load_images,
)
from training.data_fingerprint import fingerprint
from training.datasets.annotated import EVALUATION
from training.evaluate import Evaluation, score

log = logging.getLogger(__name__)

TEST_SPLIT = "test"
OUTSIDE_CALIBRATION = "outside-calibration"  # chooses thresholds; never an evaluation set
ANNOTATED_CALIBRATION = "annotated-calibration"  # the same
OUTSIDE = -1  # the truth of an image outside the labels, and the prediction "unknown"
RENDERINGS_SEED = 7_777  # training renders with its own seed; the demo uploads with 90_210
RENDERINGS_PER_CLASS = 30
RENDERINGS_SIZE = 128

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EvaluationSet:
    """Images with label ids in a model's label order, and the fingerprint of the files."""

    name: str
    images: LoadedImages
    fingerprint: str

    @property
    def count(self) -> int:
        return len(self.images.label_ids)


def load_set(name: str, directory: Path, labels: Sequence[str], spec: InputSpec) -> EvaluationSet:
    """A folder-per-class set read through the Lambda's preprocessing."""
    index = list_class_files(directory, labels)
    return EvaluationSet(name, load_images(index, spec), fingerprint(index.root, index.files))


def load_outside(name: str, directory: Path, spec: InputSpec) -> EvaluationSet:
    """A flat folder of images outside the labels (truth OUTSIDE), read like `load_set`."""
    files = tuple(
        sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    )
    if not files:
        raise DataError(f"{directory} has no images")
    index = FileIndex(directory, (), files, (OUTSIDE,) * len(files))
    return EvaluationSet(name, load_images(index, spec), fingerprint(directory, files))


def load_outside_files(name: str, files: Sequence[Path], spec: InputSpec) -> EvaluationSet:
    """Given image files outside the labels (truth OUTSIDE), read like `load_set`."""
    if not files:
        raise DataError(f"{name} has no images")
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    ordered = tuple(sorted(files))
    index = FileIndex(root, (), ordered, (OUTSIDE,) * len(ordered))
    return EvaluationSet(name, load_images(index, spec), fingerprint(root, ordered))


def outside_set(split: str, spec: InputSpec) -> EvaluationSet:
    """The photos of animals outside the ten classes: split "heldout" or "calibration"."""
    from training.datasets import photos

    name = OUTSIDE_PHOTOS if split == "heldout" else OUTSIDE_CALIBRATION
    return load_outside(name, photos.outside_dir(split), spec)


def generated_once(directory: Path, generate: Callable[[Path], object]) -> Path:
    """`directory`, filled by `generate(directory)` on first use; a completion marker makes
    an interrupted generation start again rather than be used half-written."""
    marker = directory / ".complete"
    if not marker.is_file():
        generate(directory)
        marker.write_text("ok\n")
    return directory


def renderings_dir() -> Path:
    """The emoji evaluation renderings, generated on first use."""
    from training.datasets import emoji

    return generated_once(
        cache_root()
        / "evalsets"
        / f"{EMOJI_RENDERINGS}-s{RENDERINGS_SEED}-n{RENDERINGS_PER_CLASS}",
        lambda directory: emoji.generate(
            directory,
            images_per_class=RENDERINGS_PER_CLASS,
            seed=RENDERINGS_SEED,
            image_size=RENDERINGS_SIZE,
        ),
    )


def photos_dir() -> Path:
    """The held-out real photographs, assembled on first use."""
    from training.datasets import photos

    return photos.heldout_dir()


STANDARD_SETS: dict[str, Callable[[], Path]] = {
    EMOJI_RENDERINGS: renderings_dir,
    REAL_PHOTOS: photos_dir,
}


def standard_sets(
    labels: Sequence[str],
    spec: InputSpec,
    names: Sequence[str] = (*STANDARD_SETS, OUTSIDE_PHOTOS),
) -> list[EvaluationSet]:
    """The standard sets this label set can be scored on; one that cannot be built is skipped
    with a warning (no emoji font, no package registry), never silently."""
    from training.datasets.animals10 import has_animals10

    if not has_animals10(labels):
        return []
    sets = []
    for name in names:
        try:
            if name == OUTSIDE_PHOTOS:
                sets.append(outside_set("heldout", spec))
            else:
                sets.append(load_set(name, STANDARD_SETS[name](), labels, spec))
        except (DataError, ImportError, OSError, RuntimeError, ValueError) as error:
            log.warning("evaluation set %s is not available: %s", name, error)
    return sets


def annotated_set(
    groups: Mapping[str, Sequence[int]],
    labels: Sequence[str],
    spec: InputSpec,
    part: str = EVALUATION,
) -> EvaluationSet:
    """The packaged photos of one part of the pool (training.datasets.annotated) that show
    exactly one of these labels, each labelled with it: a photo shows a label when one of its
    words means ImageNet classes that the label owns (`groups`, as the day-0 mapper shares
    them out), so "golden retriever" and "dog" show `dog`, and "tulip" or "tree", which no
    ImageNet class is, show nothing. A photo that shows two labels is left out. Named
    ANNOTATED_PHOTOS (evaluation part) or ANNOTATED_CALIBRATION; DataError when no photo
    shows any label."""
    shown = _shown_by_photo(groups, labels, part)
    chosen = {
        path: list(labels).index(next(iter(s))) for path, (_, s) in shown.items() if len(s) == 1
    }
    if not chosen:
        raise DataError(f"no packaged photo shows {', '.join(labels)}")
    name = ANNOTATED_PHOTOS if part == EVALUATION else ANNOTATED_CALIBRATION
    return _listed_set(name, chosen, labels, spec)


def annotated_outside_set(
    groups: Mapping[str, Sequence[int]], labels: Sequence[str], spec: InputSpec
) -> EvaluationSet:
    """ANNOTATED_OUTSIDE: the evaluation part's photos that show none of the labels, by
    their words or by a word's name (training.outside.touches); its accuracy is the share
    called "unknown"."""
    from training.labels import builtin_hierarchy
    from training.outside import touches

    hierarchy = builtin_hierarchy()
    chosen = {
        path: OUTSIDE
        for path, (words, found) in _shown_by_photo(groups, labels, EVALUATION).items()
        if not found and not touches(words, labels, groups, hierarchy)
    }
    if not chosen:
        raise DataError(f"every packaged photo shows one of {', '.join(labels)}")
    return _listed_set(ANNOTATED_OUTSIDE, chosen, (), spec)


def _shown_by_photo(
    groups: Mapping[str, Sequence[int]], labels: Sequence[str], part: str
) -> dict[Path, tuple[frozenset[str], set[str]]]:
    """Each photo of a part of the pool, with its words and the labels it shows
    (`shown_labels`)."""
    from training.datasets.annotated import annotated_photos
    from training.labels import builtin_hierarchy
    from training.labels.mapper import word_classes

    hierarchy = builtin_hierarchy()
    owned = {label: frozenset(groups[label]) for label in labels}
    meanings: dict[str, frozenset[int]] = {}

    def classes_of(word: str) -> frozenset[int]:
        if word not in meanings:
            meanings[word] = word_classes(hierarchy, word)
        return meanings[word]

    return {
        path: (words, shown_labels(words, owned, classes_of))
        for path, words in sorted(annotated_photos(part).items())
    }


def _listed_set(
    name: str, chosen: Mapping[Path, int], labels: Sequence[str], spec: InputSpec
) -> EvaluationSet:
    """Given files with label ids (OUTSIDE for none), read like `load_set`."""
    files = tuple(chosen)
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    index = FileIndex(root, tuple(labels), files, tuple(chosen.values()))
    return EvaluationSet(name, load_images(index, spec), fingerprint(root, files))


def shown_labels(
    words: frozenset[str],
    owned: Mapping[str, frozenset[int]],
    classes_of: Callable[[str], frozenset[int]],
) -> set[str]:
    """The labels a photo with these words shows: each label owning every ImageNet class of
    one of the words (a word that means no class shows nothing)."""
    return {
        label
        for word in words
        if (classes := classes_of(word))
        for label, mine in owned.items()
        if classes <= mine
    }


def evaluate(
    evaluation_set: EvaluationSet,
    labels: Sequence[str],
    int8_predict: Predict,
    float_predict: Predict | None = None,
    forced_predict: Predict | None = None,
) -> tuple[dict[str, Any], Evaluation | None]:
    """model.json's entry for one set, and the int8 model's full evaluation (None for a set
    outside the labels). Predictions are label ids, OUTSIDE for "unknown"; `forced_predict`
    is the int8 model made to pick a label every time, the "before" of an outside set."""
    truth, images = evaluation_set.images.label_ids, evaluation_set.images.images
    int8_ids = int8_predict(images)
    float_ids = float_predict(images) if float_predict is not None else None
    if evaluation_set.count and bool(np.all(truth == OUTSIDE)):
        caught = float(np.mean(int8_ids == OUTSIDE))
        forced = Counter(labels[i] for i in int8_ids if i != OUTSIDE)
        return {
            "fingerprint": evaluation_set.fingerprint,
            "count": evaluation_set.count,
            "accuracy": round(caught, 6),
            "float_accuracy": (
                round(float(np.mean(float_ids == OUTSIDE)), 6) if float_ids is not None else None
            ),
            "forced_rate": round(1.0 - caught, 6),
            "forced_rate_without_unknown": (
                round(float(np.mean(forced_predict(images) != OUTSIDE)), 6)
                if forced_predict is not None
                else None
            ),
            "forced_into": dict(sorted(forced.items())),
        }, None
    int8_eval = score(truth, int8_ids, labels)
    float_eval = score(truth, float_ids, labels) if float_ids is not None else None
    entry: dict[str, Any] = {
        "fingerprint": evaluation_set.fingerprint,
        "count": evaluation_set.count,
        "accuracy": round(int8_eval.accuracy, 6),
        "float_accuracy": round(float_eval.accuracy, 6) if float_eval else None,
        "unknown_rate": round(float(np.mean(int8_ids == OUTSIDE)), 6),
        "per_class": int8_eval.per_class,
    }
    return entry, int8_eval
