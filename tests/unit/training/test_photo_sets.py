"""What the three photo sets (animals, generic, everyday) have in common, checked for each
without downloading anything: a well-formed manifest that round-trips, a cache root named by
its hash, a complete cache reused as it is, and an assembly that checks every photo's sha256
and writes its sources."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from training.datasets import (
    everyday_photos,
    generic_photos,
    photo_assembly,
    photo_manifest,
    photos,
)
from training.datasets.photo_manifest import PackagedPhoto


@dataclass(frozen=True)
class PhotoSet:
    """One photo set as these tests see it."""

    manifest: ModuleType  # load_manifest, manifest_problems, manifest_hash, MANIFEST_PATH
    builder: ModuleType  # default_root, assemble and the private _build
    error: type[Exception]
    splits: tuple[str, str]  # the two splits a source photo must never straddle
    required: frozenset[str]  # manifest keys of every entry
    change: dict[str, Any]  # a change of one of its own fields, which the hash must follow
    shows: str  # SOURCES.md's heading for what a photo shows
    details: tuple[str, ...]  # the set's own keys of a sources.json record, in order


COMMON = frozenset({"name", "kind", "package", "version", "path", "sha256", "licence", "split"})
SETS = {
    "photos": PhotoSet(
        photo_manifest,
        photos,
        photo_manifest.PhotoSetError,
        ("train", "heldout"),
        COMMON,
        {"split": "heldout"},
        "shows",
        ("file_sha256", "converted", "split", "label", "animal", "imagenet"),
    ),
    "generic-photos": PhotoSet(
        generic_photos,
        generic_photos,
        generic_photos.GenericPhotoError,
        ("tune", "heldout"),
        COMMON | {"words"},
        {"words": ("thing",)},
        "words",
        ("split", "words"),
    ),
    "everyday-photos": PhotoSet(
        everyday_photos,
        everyday_photos,
        everyday_photos.EverydayPhotoError,
        ("train", "heldout"),
        COMMON | {"class"},
        {"label": "tree"},
        "class",
        ("class", "split", "copied_from_another_set"),
    ),
}
# The keys every sources.json record starts with (its set's details and "description" follow).
SOURCE_KEYS: tuple[str, ...] = ("file", "kind", "package", "version", "manifest_version")
SOURCE_KEYS += ("path", "member", "licence", "sha256")


@pytest.fixture(params=list(SETS))
def photo_set(request: pytest.FixtureRequest) -> PhotoSet:
    return SETS[request.param]


def _manifest(photo_set: PhotoSet) -> tuple[Any, ...]:
    return tuple(photo_set.manifest.load_manifest())


def test_every_entry_has_its_fields(photo_set: PhotoSet) -> None:
    raw = json.loads(photo_set.manifest.MANIFEST_PATH.read_text(encoding="utf-8"))
    for entry in raw["photos"]:
        assert photo_set.required <= set(entry), entry.get("name")
        assert all(str(entry[key]).strip() for key in photo_set.required), entry.get("name")
    manifest = _manifest(photo_set)
    assert photo_set.manifest.manifest_problems(manifest) == []
    for photo in manifest:
        assert photo.kind in photo_manifest.KINDS, photo.name
        assert re.fullmatch(r"[0-9a-f]{64}", photo.sha256), photo.name
        assert (photo.container != "file") == (photo.member is not None), photo.name


def test_the_manifest_round_trips(photo_set: PhotoSet) -> None:
    raw = json.loads(photo_set.manifest.MANIFEST_PATH.read_text(encoding="utf-8"))
    assert [photo.entry() for photo in _manifest(photo_set)] == [
        {key: value for key, value in entry.items() if value} for entry in raw["photos"]
    ]


def test_a_photo_in_both_splits_is_reported(photo_set: PhotoSet) -> None:
    manifest = _manifest(photo_set)
    first, second = photo_set.splits
    photo = next(p for p in manifest if p.split == first)
    twin = dataclasses.replace(photo, name="twin-" + photo.name, split=second)
    problems = photo_set.manifest.manifest_problems((*manifest, twin))
    assert f"{twin.name}: same sha256 as {photo.name}" in problems


def test_the_cache_hash_follows_the_manifest(photo_set: PhotoSet) -> None:
    manifest = _manifest(photo_set)
    digest = photo_set.manifest.manifest_hash
    changed = (dataclasses.replace(manifest[0], **photo_set.change), *manifest[1:])
    assert digest(manifest) == digest(_manifest(photo_set))
    assert digest(changed) != digest(manifest)


def test_default_root_honours_imgclf_cache(
    photo_set: PhotoSet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manifest = _manifest(photo_set)
    monkeypatch.setenv(photo_manifest.CACHE_ENV, str(tmp_path))
    root = photo_set.builder.default_root(manifest)
    assert root == tmp_path / root.parent.name / photo_set.manifest.manifest_hash(manifest)
    assert root.parent.name in SETS and SETS[root.parent.name] is photo_set


def test_a_complete_cache_is_reused_without_downloading(
    photo_set: PhotoSet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    digest = photo_set.manifest.manifest_hash(_manifest(photo_set))
    (tmp_path / photo_manifest.MARKER).write_text(digest + "\n")

    def no_build(*args: object) -> None:
        raise AssertionError("a complete cache must not be rebuilt")

    monkeypatch.setattr(photo_set.builder, "_build", no_build)
    assert photo_set.builder.assemble(tmp_path) == tmp_path


def _fetched(
    monkeypatch: pytest.MonkeyPatch, photo_set: PhotoSet, photo: PackagedPhoto, data: bytes
) -> None:
    """Make the set's manifest that one photo, and its download yield `data` for it."""
    monkeypatch.setattr(photo_set.builder, "load_manifest", lambda: (photo,))
    monkeypatch.setattr(
        photo_assembly, "fetch", lambda *args: iter([(photo, data, "9.9-1", False)])
    )


def test_a_sha256_mismatch_names_the_file(
    photo_set: PhotoSet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(photo_manifest.CACHE_ENV, str(tmp_path / "cache"))
    photo = _manifest(photo_set)[0]
    _fetched(monkeypatch, photo_set, photo, b"not the photo")
    with pytest.raises(photo_set.error) as raised:
        photo_set.builder.assemble(tmp_path / "set")
    message = str(raised.value)
    assert photo.path in message and hashlib.sha256(b"not the photo").hexdigest() in message
    assert "\n" not in message
    assert not (tmp_path / "set").exists()


def test_assembly_writes_each_photo_and_its_sources(
    photo_set: PhotoSet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(photo_manifest.CACHE_ENV, str(tmp_path / "cache"))
    data = b"the photo's bytes"
    plain = (p for p in _manifest(photo_set) if p.container == "file")
    first = next(p for p in plain if getattr(p, "convert", None) is None)
    photo = dataclasses.replace(first, sha256=hashlib.sha256(data).hexdigest())
    _fetched(monkeypatch, photo_set, photo, data)
    root = photo_set.builder.assemble(tmp_path / "set")
    assert (root / photo.relative_path()).read_bytes() == data
    digest = photo_set.manifest.manifest_hash((photo,))
    assert (root / photo_manifest.MARKER).read_text() == digest + "\n"
    summary = json.loads((root / photo_manifest.SOURCES_JSON).read_text())
    assert summary["manifest_hash"] == digest
    (record,) = summary["files"]
    assert tuple(record) == (*SOURCE_KEYS, *photo_set.details, "description")
    assert record["version"] == "9.9-1" and record["manifest_version"] == photo.version
    table = (root / photo_manifest.SOURCES_MD).read_text().splitlines()
    assert table[5].startswith(f"| file | {photo_set.shows} | package | version |")
    assert table[-1].startswith(f"| {record['file']} | ")
    assert table[-1].endswith(f"| {photo.licence} | {photo.sha256} |")


@pytest.mark.parametrize("name", ["generic-photos", "everyday-photos"])
def test_no_source_photo_is_in_both_splits(name: str) -> None:
    manifest = _manifest(SETS[name])
    by_sha: dict[str, set[str]] = {}
    for photo in manifest:
        by_sha.setdefault(photo.sha256, set()).add(photo.split)
    assert all(len(splits) == 1 for splits in by_sha.values())
    assert len(by_sha) == len(manifest), "a photo is listed twice"
    sources = Counter((photo.package, photo.path, photo.member) for photo in manifest)
    assert max(sources.values()) == 1
