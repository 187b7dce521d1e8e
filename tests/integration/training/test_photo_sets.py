"""Assemble each photo set (animals, generic, everyday) from its packages and check every file
it wrote, the same way for the three.

Each set is built once into the default cache ($IMGCLF_CACHE/<set>/<manifest hash>, else
~/.cache/imgclf/<set>/...), so later runs only read it back.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from classifier.imaging import ImageLimits, InputSpec, prepare_image
from training.datasets import everyday_photos, generic_photos, photo_manifest, photos

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get (Debian)"),
]

# builder (assemble), and the module of its manifest (load_manifest, manifest_hash)
SETS: dict[str, tuple[ModuleType, ModuleType]] = {
    "photos": (photos, photo_manifest),
    "generic-photos": (generic_photos, generic_photos),
    "everyday-photos": (everyday_photos, everyday_photos),
}


@pytest.fixture(scope="module", params=list(SETS))
def photo_set(request: pytest.FixtureRequest) -> tuple[Path, ModuleType, ModuleType]:
    builder, manifest = SETS[request.param]
    return builder.assemble(), builder, manifest


def _sources(root: Path) -> dict[str, dict[str, Any]]:
    summary = json.loads((root / photo_manifest.SOURCES_JSON).read_text())
    return {record["file"]: record for record in summary["files"]}


def test_every_listed_photo_is_written_once(
    photo_set: tuple[Path, ModuleType, ModuleType],
) -> None:
    root, _, manifest_module = photo_set
    manifest = manifest_module.load_manifest()
    expected = {photo.relative_path().as_posix() for photo in manifest}
    written = {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.parent != root
    }
    assert written == expected == set(_sources(root))
    assert (root / photo_manifest.SOURCES_MD).is_file()
    marker = (root / photo_manifest.MARKER).read_text().strip()
    assert marker == manifest_module.manifest_hash(manifest)


def test_files_match_the_manifest(photo_set: tuple[Path, ModuleType, ModuleType]) -> None:
    root, _, manifest_module = photo_set
    by_path = {p.relative_path().as_posix(): p for p in manifest_module.load_manifest()}
    for name, record in _sources(root).items():
        digest = hashlib.sha256((root / name).read_bytes()).hexdigest()
        photo = by_path[name]
        assert record["sha256"] == photo.sha256 and record["licence"] == photo.licence, name
        # a converted photo (animal set only) records its own sha256 beside the shipped one
        assert record.get("file_sha256", digest) == digest, name
        assert digest == photo.sha256 or record.get("converted"), name


def test_every_photo_decodes_for_the_function(
    photo_set: tuple[Path, ModuleType, ModuleType],
) -> None:
    root = photo_set[0]
    spec = InputSpec(height=224, width=224)
    for name in _sources(root):
        prepared = prepare_image((root / name).read_bytes(), spec, ImageLimits())
        assert prepared.array.shape == (224, 224, 3), name


def test_a_warm_cache_is_reused(photo_set: tuple[Path, ModuleType, ModuleType]) -> None:
    root, builder, _ = photo_set
    marker = root / photo_manifest.MARKER
    before = marker.stat().st_mtime_ns
    assert builder.assemble() == root
    assert marker.stat().st_mtime_ns == before
