"""The assembled generic-label photo set names each photo's words, in its sources and through
photo_words(). (What every photo set writes is checked in test_photo_sets.py.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from training.datasets import generic_photos
from training.datasets.photo_manifest import SOURCES_JSON, SOURCES_MD

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


def test_sources_list_the_words_of_each_photo(
    root: Path, sources: dict[str, dict[str, Any]]
) -> None:
    by_path = {p.relative_path().as_posix(): p for p in generic_photos.load_manifest()}
    assert set(sources) == set(by_path)
    for name, record in sources.items():
        assert record["words"] == list(by_path[name].words), name
    table = (root / SOURCES_MD).read_text()
    assert all(f"| {name} | {', '.join(r['words'])} |" in table for name, r in sources.items())


def test_annotations_name_the_assembled_files(root: Path) -> None:
    heldout = generic_photos.photo_words("heldout")
    tune = generic_photos.photo_words("tune")
    assert heldout and tune and not set(heldout) & set(tune)
    for path, words in heldout.items():
        assert path.is_file() and path.parent == root / "heldout" and words
