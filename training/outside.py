"""Real photographs outside any label set: what the head learns to call "none of these",
and what the "unknown" rule's thresholds are chosen on.

The source is the generic photo set (training.datasets.generic_photos): photographs of
objects, food, vehicles, plants, scenes and animals from free-licensed packages, each
annotated with the words that describe it at several levels. For a label set, a photo is
outside when none of its words is a label or lies under one in the hierarchy ("golden
retriever" is a dog; "animal" is not). Photos of the shared animal sets
(training.datasets.photos: the real-photo and outside-photo evaluation sets) are never used,
so a model is not measured on what it learnt from.

The set's two splits have two jobs: `heldout` photos teach the head (`head_photos`), `tune`
photos choose the thresholds (`calibration_photos`), those of the labels' own kind first
(training.labels.domain): for animal labels, a toucan says more than a teapot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from classifier.hierarchy import LabelHierarchy
from training.labels import builtin_hierarchy
from training.labels.mapper import normalise

log = logging.getLogger(__name__)

HEAD_SPLIT = "heldout"
CALIBRATION_SPLIT = "tune"
# Fewer photos of the labels' kind than this: the thresholds also see the other outside ones.
MIN_IN_DOMAIN = 12


def touches(
    words: Iterable[str],
    labels: Sequence[str],
    mapping: Mapping[str, Sequence[int]] | None,
    hierarchy: LabelHierarchy,
) -> bool:
    """Whether a photo with these words may show one of the labels: a word is a label's
    name, or every ImageNet class under the word is one the labels own (it lies under them)."""
    names = {normalise(label) for label in labels}
    owned = {i for indices in (mapping or {}).values() for i in indices}
    for word in words:
        if normalise(word) in names:
            return True
        node = hierarchy.find(word)
        under = set(hierarchy.classes_of(node.name)) if node is not None else set()
        if under and under <= owned:
            return True
        if node is not None and any(normalise(a) in names for a in node.aliases):
            return True
    return False


def in_domain(words: Iterable[str], domain: set[int], hierarchy: LabelHierarchy) -> bool:
    """Whether a photo shows something of the labels' kind: some word's classes meet it."""
    for word in words:
        node = hierarchy.find(word)
        if node is not None and domain.intersection(hierarchy.classes_of(node.name)):
            return True
    return False


def outside_photos(
    split: str,
    labels: Sequence[str],
    mapping: Mapping[str, Sequence[int]] | None,
) -> list[tuple[Path, frozenset[str]]]:
    """The photos of a generic split that show none of the labels, with their words; []
    (and a warning) when the set cannot be assembled here."""
    from training.datasets import generic_photos, photo_manifest
    from training.datasets.packages import PackageError

    try:
        photos = generic_photos.photo_words(split)
        shared = {p.sha256 for p in photo_manifest.load_manifest()}
        by_name = {p.name: p.sha256 for p in generic_photos.load_manifest()}
    except (PackageError, OSError) as error:
        log.warning("no generic outside photos: %s", error)
        return []
    hierarchy = builtin_hierarchy()
    return [
        (path, words)
        for path, words in sorted(photos.items())
        if by_name.get(path.name) not in shared and not touches(words, labels, mapping, hierarchy)
    ]


def head_photos(labels: Sequence[str], mapping: Mapping[str, Sequence[int]] | None) -> list[Path]:
    """Photos outside the labels for the head's "none of these" output."""
    return [path for path, _ in outside_photos(HEAD_SPLIT, labels, mapping)]


def calibration_photos(
    labels: Sequence[str],
    mapping: Mapping[str, Sequence[int]] | None,
    domain: Sequence[int] = (),
) -> list[Path]:
    """Photos outside the labels to choose the thresholds on: those of the labels' kind,
    and the others too when fewer than MIN_IN_DOMAIN are."""
    found = outside_photos(CALIBRATION_SPLIT, labels, mapping)
    hierarchy = builtin_hierarchy()
    kind = set(domain)
    near = [path for path, words in found if kind and in_domain(words, kind, hierarchy)]
    if len(near) >= MIN_IN_DOMAIN:
        return near
    return [path for path, _ in found]
