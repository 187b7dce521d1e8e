"""The generic-label photo manifest is well formed, without downloading anything."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from training.datasets import generic_photos
from training.datasets.generic_photos import GenericPhoto

MIN_PHOTOS = 250
# Words the set exists to measure: each must be on a few held-out photos.
MIN_HELDOUT = {"animal": 10, "dog": 3, "bird": 3, "food": 5, "fruit": 3, "flower": 3}
MIN_HELDOUT |= {"vehicle": 3, "cup": 3, "plant": 5, "building": 3, "tool": 3}
MIN_HELDOUT |= {"cat": 4, "insect": 4, "car": 3}

Manifest = tuple[GenericPhoto, ...]


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return generic_photos.load_manifest()


def test_words_are_lower_case_and_non_empty(manifest: Manifest) -> None:
    for photo in manifest:
        assert photo.words, photo.name
        for word in photo.words:
            assert word == word.lower() == word.strip() and word, (photo.name, word)


def test_size_and_mix(manifest: Manifest) -> None:
    assert len(manifest) >= MIN_PHOTOS
    animals = sum(photo.is_animal for photo in manifest)
    assert len(manifest) - animals >= len(manifest) / 2


def test_splits_are_about_forty_sixty(manifest: Manifest) -> None:
    counts = Counter(photo.split for photo in manifest)
    assert set(counts) == set(generic_photos.SPLITS)
    share = counts["tune"] / len(manifest)
    assert 0.3 <= share <= 0.5, share


def test_the_key_words_have_held_out_photos(manifest: Manifest) -> None:
    counts = generic_photos.word_counts(manifest, "heldout")
    for word, floor in MIN_HELDOUT.items():
        assert counts[word] >= floor, (word, counts[word])


def test_animals_carry_the_animal_word(manifest: Manifest) -> None:
    kinds = {"dog", "cat", "bird", "fish", "insect", "reptile", "horse", "rabbit"}
    for photo in manifest:
        if kinds & set(photo.words):
            assert photo.is_animal, photo.name


def test_problems_are_reported(manifest: Manifest) -> None:
    photo = manifest[0]
    bad = [
        dataclasses.replace(photo, words=("Dog",)),
        dataclasses.replace(photo, name="x.gif", split="train", sha256="abc"),
        dataclasses.replace(photo, words=()),
    ]
    problems = generic_photos.manifest_problems([photo, *bad])
    assert any("word 'Dog'" in line for line in problems)
    assert any("split 'train'" in line for line in problems)
    assert any("sha256 is not" in line for line in problems)
    assert any("at least one word" in line for line in problems)
    assert any("same sha256" in line for line in problems)
