"""Every artifact file's digest in model.json, checked wherever an artifact is read."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from classifier.artifact import (
    OUTPUT_GENERIC,
    ArtifactError,
    HierarchyRef,
    ModelMetadata,
    OutputSpec,
    ProbeSpec,
)
from classifier.artifact_files import (
    pack_artifact,
    read_metadata,
    unpack_artifact,
    verify_digests,
    write_artifact_dir,
)
from classifier.hierarchy import LabelHierarchy
from classifier.imaging import InputSpec
from tests.fixtures.hierarchy import SMALL_HIERARCHY

FILES = ("model.tflite", "labels.json", "hierarchy.json", "probe.npz")


def written(tmp_path: Path) -> Path:
    """A generic model's artifact with a hierarchy and a probe."""
    hierarchy = LabelHierarchy.from_dict(SMALL_HIERARCHY)
    metadata = ModelMetadata(
        version="g1",
        input=InputSpec(height=8, width=8),
        labels=(),
        output=OutputSpec(OUTPUT_GENERIC, sources=len(hierarchy.class_ids)),
        hierarchy=HierarchyRef.of(hierarchy),
        probe=ProbeSpec(("dog", "unknown")),
    )
    return write_artifact_dir(tmp_path / "g1", b"model bytes", metadata, hierarchy, b"probe")


def test_model_json_records_every_other_files_digest(tmp_path: Path) -> None:
    directory = written(tmp_path)
    metadata = read_metadata(directory)
    assert set(metadata.files) == set(FILES)
    model = metadata.files["model.tflite"]
    assert (model.sha256, model.size) == (hashlib.sha256(b"model bytes").hexdigest(), 11)
    verify_digests(directory, metadata)  # as written: no error


@pytest.mark.parametrize("name", FILES)
def test_a_changed_file_is_an_error_naming_it_and_both_digests(tmp_path: Path, name: str) -> None:
    # Given an artifact, when one of its files changes after it was written
    directory = written(tmp_path)
    (directory / name).write_bytes(b"something else")
    metadata = read_metadata(directory) if name != "labels.json" else None
    # Then reading it says which file, with the digest found and the one recorded
    with pytest.raises(ArtifactError) as raised:
        verify_digests(directory, metadata or _unchecked(directory))
    message = str(raised.value)
    assert message.startswith(f"{name} does not match model.json: sha256 ")
    assert hashlib.sha256(b"something else").hexdigest()[:16] in message
    assert "14 bytes" in message
    # And it cannot be packed either
    with pytest.raises(ArtifactError):
        pack_artifact(directory, tmp_path / "model.tar.gz")


def _unchecked(directory: Path) -> ModelMetadata:
    """model.json without labels.json's agreement check (labels.json was changed)."""
    import json

    return ModelMetadata.from_dict(json.loads((directory / "model.json").read_text()))


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    directory = written(tmp_path)
    (directory / "probe.npz").unlink()
    with pytest.raises(ArtifactError, match="probe.npz is listed in model.json but not in"):
        verify_digests(directory, read_metadata(directory))


def test_the_function_unpacks_what_it_needs_and_checks_it(tmp_path: Path) -> None:
    tarball = pack_artifact(written(tmp_path), tmp_path / "model.tar.gz")
    unpacked = unpack_artifact(tarball.read_bytes(), tmp_path / "out")
    assert sorted(p.name for p in unpacked.iterdir()) == [
        "hierarchy.json",
        "labels.json",
        "model.json",
        "model.tflite",
    ]
    metadata = read_metadata(unpacked)
    verify_digests(unpacked, metadata, ("model.tflite", "labels.json", "hierarchy.json"))
