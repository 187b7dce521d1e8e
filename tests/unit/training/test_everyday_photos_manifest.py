"""The everyday-things photo manifest is well formed, without downloading anything."""

from __future__ import annotations

from collections import Counter

import pytest

from training.datasets import everyday_photos
from training.datasets.everyday_photos import EverydayPhoto
from training.labels import builtin_hierarchy
from training.labels.mapper import find_node

MIN_CLASSES = 5
MIN_PER_CLASS = 13  # 10 to train on and at least 3 held out
MIN_HELDOUT_PER_CLASS = 3

Manifest = tuple[EverydayPhoto, ...]


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return everyday_photos.load_manifest()


def test_classes_and_counts(manifest: Manifest) -> None:
    per_class = Counter(photo.label for photo in manifest)
    assert len(per_class) >= MIN_CLASSES
    assert set(per_class) == set(everyday_photos.CLASSES)
    counts = everyday_photos.class_counts(manifest)
    for label in everyday_photos.CLASSES:
        assert per_class[label] >= MIN_PER_CLASS, (label, per_class[label])
        assert counts["train"][label] == everyday_photos.TRAIN_PER_CLASS, label
        assert counts["heldout"][label] >= MIN_HELDOUT_PER_CLASS, label


def test_one_class_has_no_imagenet_name() -> None:
    hierarchy = builtin_hierarchy()
    unplaced = [label for label in everyday_photos.CLASSES if find_node(hierarchy, label) is None]
    placed = set(everyday_photos.CLASSES) - set(unplaced)
    assert unplaced, "every class has an ImageNet name: only training could help none"
    assert len(placed) >= 3, "the day-0 comparison needs classes ImageNet names"


def test_the_layout_puts_each_photo_under_its_split_and_class(manifest: Manifest) -> None:
    for photo in manifest:
        assert photo.relative_path().parts == (photo.split, photo.label, photo.name)
