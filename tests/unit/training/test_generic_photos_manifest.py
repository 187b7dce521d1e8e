"""The generic-label photo manifest is well formed, without downloading anything."""

from __future__ import annotations

import dataclasses
import json
import re
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


def test_every_entry_has_its_fields(manifest: Manifest) -> None:
    raw = json.loads(generic_photos.MANIFEST_PATH.read_text(encoding="utf-8"))
    required = {"name", "kind", "package", "version", "path", "sha256", "licence", "split"}
    for entry in raw["photos"]:
        assert required | {"words"} <= set(entry), entry.get("name")
    assert generic_photos.manifest_problems(manifest) == []
    for photo in manifest:
        assert photo.package and photo.version and photo.path and photo.licence
        assert photo.kind in generic_photos.KINDS
        assert re.fullmatch(r"[0-9a-f]{64}", photo.sha256), photo.name
        assert (photo.container != "file") == (photo.member is not None), photo.name


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


def test_no_source_photo_is_in_both_splits(manifest: Manifest) -> None:
    by_sha: dict[str, set[str]] = {}
    for photo in manifest:
        by_sha.setdefault(photo.sha256, set()).add(photo.split)
    assert all(len(splits) == 1 for splits in by_sha.values())
    assert len(by_sha) == len(manifest), "a photo is listed twice"
    sources = Counter((photo.package, photo.path, photo.member) for photo in manifest)
    assert max(sources.values()) == 1


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


def test_the_hash_follows_the_words(manifest: Manifest) -> None:
    changed = (dataclasses.replace(manifest[0], words=("thing",)), *manifest[1:])
    assert generic_photos.manifest_hash(changed) != generic_photos.manifest_hash(manifest)


def test_default_root_is_under_the_cache(
    manifest: Manifest, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("IMGCLF_CACHE", str(tmp_path))
    root = generic_photos.default_root(manifest)
    assert root.parent.name == generic_photos.NAME
    assert root.name == generic_photos.manifest_hash(manifest)
