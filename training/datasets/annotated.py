"""Every packaged real photo with the everyday words that describe it, from the three photo sets.

- the generic photo set (`generic_photos`): its annotated words, at several levels
  ("golden retriever", "dog", "animal");
- the everyday photo set (`everyday_photos`): its class ("flower", "musical instrument");
- the animal photo set (`photos`): the Animals-10 label of a train or heldout photo, the
  animal of an outside photo ("fox").

A source photo that more than one set ships (the same sha256 in their manifests) is listed
once, at its first set's path, with every word any set gives it. The pool has two parts:
`calibration`, every photo that some set lists in a split for choosing or learning (generic
tune, everyday train, the animal set's train and outside-calibration), and `evaluation`,
every other photo, so that what chose a model's thresholds never scores it. A model for any
label names is scored on it when no set of its own exists (`training.evalsets.
annotated_set`). Each set is assembled on first use, from its packages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from training.datasets import everyday_photos, generic_photos, photos
from training.datasets.photo_manifest import NAME as ANIMAL_SET
from training.datasets.photo_manifest import load_manifest as load_animal_manifest

CALIBRATION = "calibration"
EVALUATION = "evaluation"
PARTS = (CALIBRATION, EVALUATION)
# The splits, per set, whose photos choose or learn something: the calibration part.
_CHOOSING_SPLITS = {
    generic_photos.NAME: ("tune",),
    everyday_photos.NAME: ("train",),
    ANIMAL_SET: ("train", "outside-calibration"),
}


def annotated_photos(part: str | None = None) -> dict[Path, frozenset[str]]:
    """Each photo of the three sets (one path per source photo) with its words: of one part
    (`calibration` or `evaluation`), or all of them."""
    if part is not None and part not in PARTS:
        raise ValueError(f"part {part!r} is not one of {list(PARTS)}")
    first_path: dict[str, Path] = {}
    words: dict[str, set[str]] = {}
    choosing: set[str] = set()
    for sha256, path, given, chooses in _listed():
        first_path.setdefault(sha256, path)
        words.setdefault(sha256, set()).update(word.replace("_", " ") for word in given)
        if chooses:
            choosing.add(sha256)
    return {
        first_path[sha]: frozenset(words[sha])
        for sha in first_path
        if part is None or (sha in choosing) == (part == CALIBRATION)
    }


def _listed() -> Iterator[tuple[str, Path, tuple[str, ...], bool]]:
    """(sha256, assembled path, words, in a choosing split) for every photo with words."""
    root = generic_photos.assemble()
    chooses = _CHOOSING_SPLITS[generic_photos.NAME]
    for photo in generic_photos.load_manifest():
        yield photo.sha256, root / photo.relative_path(), photo.words, photo.split in chooses
    root = everyday_photos.assemble()
    chooses = _CHOOSING_SPLITS[everyday_photos.NAME]
    for everyday in everyday_photos.load_manifest():
        path = root / everyday.relative_path()
        yield everyday.sha256, path, (everyday.label,), everyday.split in chooses
    root = photos.assemble()
    chooses = _CHOOSING_SPLITS[ANIMAL_SET]
    for animal in load_animal_manifest():
        shown = animal.label or animal.animal
        if shown:  # an ImageNet photo names classes, not words
            path = root / animal.relative_path()
            yield animal.sha256, path, (shown,), animal.split in chooses
