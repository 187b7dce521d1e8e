"""The everyday-things photo manifest is well formed, without downloading anything."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from training.datasets import everyday_photos
from training.datasets.everyday_photos import EverydayPhoto
from training.labels import builtin_hierarchy
from training.labels.mapper import find_node

MIN_CLASSES = 5
MIN_PER_CLASS = 13  # 10 to train on and at least 3 held out
MIN_HELDOUT_PER_CLASS = 3
REQUIRED = {"package", "version", "path", "sha256", "licence", "class", "split"}

Manifest = tuple[EverydayPhoto, ...]


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return everyday_photos.load_manifest()


def test_every_entry_has_its_fields(manifest: Manifest) -> None:
    raw = json.loads(everyday_photos.MANIFEST_PATH.read_text(encoding="utf-8"))
    for entry in raw["photos"]:
        assert REQUIRED <= set(entry), entry.get("name")
        assert all(str(entry[key]).strip() for key in REQUIRED), entry.get("name")
    assert everyday_photos.manifest_problems(manifest) == []
    for photo in manifest:
        assert re.fullmatch(r"[0-9a-f]{64}", photo.sha256), photo.name
        assert photo.split in everyday_photos.SPLITS, photo.name
        assert photo.label in everyday_photos.CLASSES, photo.name


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


def test_no_source_photo_is_in_both_splits(manifest: Manifest) -> None:
    by_sha: dict[str, set[str]] = {}
    for photo in manifest:
        by_sha.setdefault(photo.sha256, set()).add(photo.split)
    assert all(len(splits) == 1 for splits in by_sha.values())
    assert len(by_sha) == len(manifest), "a photo is listed twice"
    sources = Counter((photo.package, photo.path, photo.member) for photo in manifest)
    assert max(sources.values()) == 1


def test_manifest_problems_catch_a_photo_in_both_splits(manifest: Manifest) -> None:
    photo = next(p for p in manifest if p.split == "train")
    twin = EverydayPhoto(**{**photo.__dict__, "name": "twin-" + photo.name, "split": "heldout"})
    problems = everyday_photos.manifest_problems((*manifest, twin))
    assert any("same sha256" in problem for problem in problems)


def test_the_layout_puts_each_photo_under_its_split_and_class(manifest: Manifest) -> None:
    for photo in manifest:
        assert photo.relative_path().parts == (photo.split, photo.label, photo.name)
