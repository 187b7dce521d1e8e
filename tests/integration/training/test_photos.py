"""The assembled real-photograph set reads as the training code reads it: a folder per label
for each split, and ImageNet photos with their indices. (What every photo set writes is
checked in test_photo_sets.py.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from training.data import list_class_files
from training.datasets import photo_manifest, photos

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get (Debian)"),
]


@pytest.fixture(scope="module")
def root() -> Path:
    return photos.assemble()


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
