"""Every packaged real photo with the everyday words that describe it, from the three photo sets.

- the generic photo set (`generic_photos`, both splits): its annotated words, at several
  levels ("golden retriever", "dog", "animal");
- the everyday photo set (`everyday_photos`, both splits): its class ("flower",
  "musical instrument");
- the animal photo set (`photos`): the Animals-10 label of a train or heldout photo, the
  animal of an outside photo ("fox").

A source photo that more than one set ships (the same sha256 in their manifests) is listed
once, at its first set's path, with every word any set gives it. This is the pool a model
for any label names is scored on when no set of its own exists
(`training.evalsets.annotated_set`). Each set is assembled on first use, from its packages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from training.datasets import everyday_photos, generic_photos, photos
from training.datasets.photo_manifest import load_manifest as load_animal_manifest


def annotated_photos() -> dict[Path, frozenset[str]]:
    """Each photo of the three sets (one path per source photo) with its words."""
    first_path: dict[str, Path] = {}
    words: dict[str, set[str]] = {}
    for sha256, path, given in _listed():
        first_path.setdefault(sha256, path)
        words.setdefault(sha256, set()).update(word.replace("_", " ") for word in given)
    return {first_path[sha]: frozenset(words[sha]) for sha in first_path}


def _listed() -> Iterator[tuple[str, Path, tuple[str, ...]]]:
    """(sha256, assembled path, words) for every photo of every set that has words."""
    root = generic_photos.assemble()
    for photo in generic_photos.load_manifest():
        yield photo.sha256, root / photo.relative_path(), photo.words
    root = everyday_photos.assemble()
    for everyday in everyday_photos.load_manifest():
        yield everyday.sha256, root / everyday.relative_path(), (everyday.label,)
    root = photos.assemble()
    for animal in load_animal_manifest():
        shown = animal.label or animal.animal
        if shown:  # an ImageNet photo names classes, not words
            yield animal.sha256, root / animal.relative_path(), (shown,)
