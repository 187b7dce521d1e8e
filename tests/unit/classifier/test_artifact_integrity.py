"""Every artifact file's digest in model.json, checked wherever an artifact is read."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
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
    metadata_in_tarball,
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


def _tar_with(tmp_path: Path, source: Path, extra: dict[str, bytes]) -> bytes:
    """The artifact's files at the root, plus `extra` members (path -> bytes)."""
    tarball = tmp_path / "hand-made.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        for path in sorted(source.iterdir()):
            archive.add(path, arcname=path.name)
        for name, data in extra.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return tarball.read_bytes()


def test_only_the_files_at_the_root_are_the_artifacts(tmp_path: Path) -> None:
    # Given a report/model.json and a report/model.tflite beside the artifact's own
    source = written(tmp_path)
    shadow = {"report/model.json": b'{"version": "other"}', "report/model.tflite": b"x"}
    data = _tar_with(tmp_path, source, shadow)
    # Then every reader takes the root's: the listing's model.json and the unpacked files
    assert metadata_in_tarball(data)["version"] == "g1"
    unpacked = unpack_artifact(data, tmp_path / "out")
    assert (unpacked / "model.tflite").read_bytes() == b"model bytes"
    # And a file at the root twice is refused
    twice = _tar_with(tmp_path, source, {"./model.json": b"{}"})
    with pytest.raises(ArtifactError, match="artifact holds model.json twice"):
        unpack_artifact(twice, tmp_path / "twice")
    with pytest.raises(ArtifactError, match="artifact holds model.json twice"):
        metadata_in_tarball(twice)


@pytest.mark.parametrize(
    "stored", [b'{"version": "\xff"}', b"[" * 100_000], ids=["not utf-8", "nested 100,000 deep"]
)
def test_a_model_json_json_cannot_read_is_an_artifact_error(tmp_path: Path, stored: bytes) -> None:
    # Such a model.json was a UnicodeDecodeError or RecursionError that ended `model list`
    source = written(tmp_path)
    (source / "model.json").write_bytes(stored)
    data = _tar_with(tmp_path, source, {})
    with pytest.raises(ArtifactError, match="^its model.json cannot be read: "):
        metadata_in_tarball(data)
    with pytest.raises(ArtifactError, match=r"^cannot read model metadata \(.*model.json\): "):
        read_metadata(source)


def test_a_files_entry_naming_no_artifact_file_is_refused(tmp_path: Path) -> None:
    directory = written(tmp_path)
    data = json.loads((directory / "model.json").read_text())
    for name in ("/etc/hostname", "../model.tflite", "report/x.png"):
        changed = {**data, "files": {**data["files"], name: data["files"]["labels.json"]}}
        (directory / "model.json").write_text(json.dumps(changed))
        with pytest.raises(ArtifactError, match=f"files names {re.escape(repr(name))}"):
            read_metadata(directory)
