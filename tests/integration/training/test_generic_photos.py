"""Assemble the generic-label photo set from its packages and check every file it wrote.

The set is built once into the default cache ($IMGCLF_CACHE/generic-photos/<manifest hash>,
else ~/.cache/imgclf/generic-photos/...), so later runs only read it back.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from classifier.imaging import ImageLimits, InputSpec, prepare_image
from training.datasets import generic_photos
from training.datasets.photo_manifest import MARKER, SOURCES_JSON, SOURCES_MD

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get (Debian)"),
]


@pytest.fixture(scope="module")
def root() -> Path:
    return generic_photos.assemble()


@pytest.fixture(scope="module")
def sources(root: Path) -> dict[str, dict[str, Any]]:
    summary = json.loads((root / SOURCES_JSON).read_text())
    return {record["file"]: record for record in summary["files"]}


def test_every_listed_photo_is_written_once(root: Path, sources: dict[str, Any]) -> None:
    manifest = generic_photos.load_manifest()
    expected = {photo.relative_path().as_posix() for photo in manifest}
    written = {
        path.relative_to(root).as_posix()
        for split in generic_photos.SPLITS
        for path in (root / split).iterdir()
    }
    assert written == expected == set(sources)
    assert (root / SOURCES_MD).is_file()
    assert (root / MARKER).read_text().strip() == generic_photos.manifest_hash(manifest)


def test_files_match_the_manifest(root: Path, sources: dict[str, Any]) -> None:
    by_path = {p.relative_path().as_posix(): p for p in generic_photos.load_manifest()}
    for name, record in sources.items():
        photo = by_path[name]
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == photo.sha256, name
        assert record["licence"] == photo.licence
        assert record["words"] == list(photo.words)


def test_every_photo_decodes_for_the_function(root: Path, sources: dict[str, Any]) -> None:
    spec = InputSpec(height=224, width=224)
    for name in sources:
        prepared = prepare_image((root / name).read_bytes(), spec, ImageLimits())
        assert prepared.array.shape == (224, 224, 3), name


def test_annotations_name_the_assembled_files(root: Path) -> None:
    heldout = generic_photos.photo_words("heldout")
    tune = generic_photos.photo_words("tune")
    assert heldout and tune and not set(heldout) & set(tune)
    for path, words in heldout.items():
        assert path.is_file() and path.parent == root / "heldout" and words


def test_a_warm_cache_is_reused(root: Path) -> None:
    marker = root / MARKER
    before = marker.stat().st_mtime_ns
    assert generic_photos.assemble() == root
    assert marker.stat().st_mtime_ns == before
