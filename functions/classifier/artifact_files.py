"""The artifact's files, both ways: training writes the directory (every file's digest in
model.json) and packs model.tar.gz as SageMaker packs SM_MODEL_DIR; the function and
promotion unpack it and check it; listings read model.json straight out of the tarball.
What model.json says is `classifier.artifact`'s."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from .artifact import (
    ARTIFACT_FILES,
    OPTIONAL_ARTIFACT_FILES,
    ArtifactError,
    FileDigest,
    ModelMetadata,
)
from .contracts import (
    ARTIFACT_HIERARCHY_FILE,
    ARTIFACT_LABELS_FILE,
    ARTIFACT_METADATA_FILE,
    ARTIFACT_MODEL_FILE,
    ARTIFACT_PROBE_FILE,
    model_digest,
)
from .hierarchy import HierarchyError, LabelHierarchy


def pack_artifact(directory: Path, tarball: Path) -> Path:
    """Pack an artifact directory into model.tar.gz, as SageMaker packs SM_MODEL_DIR.

    The three contract files must be there (and hierarchy.json when model.json names it);
    anything else (the evaluation report's PNGs) travels along. The function extracts only
    the contract files.
    """
    missing = [name for name in ARTIFACT_FILES if not (directory / name).is_file()]
    if missing:
        raise ArtifactError(f"artifact directory {directory} has no {', '.join(missing)}")
    metadata = read_metadata(directory)
    verify_digests(directory, metadata)
    read_hierarchy(directory, metadata)
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "w:gz") as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and path != tarball:
                archive.add(path, arcname=str(path.relative_to(directory)))
    return tarball


def unpack_artifact(
    data: bytes, directory: Path, optional: tuple[str, ...] = OPTIONAL_ARTIFACT_FILES
) -> Path:
    """Extract the contract files from model.tar.gz bytes, and those of `optional` it has
    (promotion asks for the probe too); nothing else is written."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            members = _root_files(archive)
            for name in ARTIFACT_FILES + optional:
                if name not in members:
                    if name in optional:
                        continue
                    raise ArtifactError(f"artifact has no {name}")
                source = archive.extractfile(members[name])
                assert source is not None
                (directory / name).write_bytes(source.read())
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArtifactError(f"artifact is not a readable model.tar.gz: {error}") from None
    return directory


def _root_files(archive: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    """The regular files at the archive's root, by name (`model.json`, `./model.json`), the
    only ones any reader takes; ArtifactError for a name there twice. A `report/model.json`
    is the report's, never the artifact's."""
    found: dict[str, tarfile.TarInfo] = {}
    for member in archive.getmembers():
        parts = [part for part in PurePosixPath(member.name).parts if part != "."]
        if member.isfile() and len(parts) == 1:
            if parts[0] in found:
                raise ArtifactError(f"artifact holds {parts[0]} twice")
            found[parts[0]] = member
    return found


def _member_bytes(archive: tarfile.TarFile, name: str) -> bytes:
    member = _root_files(archive).get(name)
    if member is None:
        raise ArtifactError(f"artifact has no {name}")
    source = archive.extractfile(member)
    assert source is not None
    return source.read()


def metadata_in_tarball(data: bytes) -> dict[str, Any]:
    """model.json straight from model.tar.gz bytes, unchecked (listings read it without
    unpacking the model); ArtifactError when the tarball or its model.json is unreadable."""
    return metadata_and_digest_in_tarball(data)[0]


def metadata_and_digest_in_tarball(data: bytes) -> tuple[dict[str, Any], str]:
    """`metadata_in_tarball`, and the sha256 of model.json as stored (`model_digest`: what a
    pointer's `digest` pins)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            stored = _member_bytes(archive, ARTIFACT_METADATA_FILE)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArtifactError(f"artifact is not a readable model.tar.gz: {error}") from None
    try:
        metadata = json.loads(stored)
    except (ValueError, RecursionError) as error:  # JSON or UTF-8; nesting JSON refuses
        raise ArtifactError(f"its {ARTIFACT_METADATA_FILE} cannot be read: {error}") from None
    if not isinstance(metadata, dict):
        raise ArtifactError(f"{ARTIFACT_METADATA_FILE} is not a JSON object")
    return metadata, model_digest(stored)


def write_artifact_dir(
    directory: Path,
    tflite_model: bytes,
    metadata: ModelMetadata,
    hierarchy: LabelHierarchy | None = None,
    probe: bytes | None = None,
) -> Path:
    """Write model.tflite, labels.json, hierarchy.json when the model has one (model.json
    `hierarchy` must name it), probe.npz's bytes when model.json has a `probe`, and last
    model.json with every other file's digest (`files`)."""
    if (hierarchy is None) != (metadata.hierarchy is None) or (
        hierarchy is not None
        and metadata.hierarchy is not None
        and hierarchy.version != metadata.hierarchy.version
    ):
        raise ArtifactError("model.json `hierarchy` and the hierarchy written disagree")
    if (probe is None) != (metadata.probe is None):
        raise ArtifactError("model.json `probe` and the probe written disagree")
    contents = {
        ARTIFACT_MODEL_FILE: tflite_model,
        ARTIFACT_LABELS_FILE: json.dumps(list(metadata.labels), indent=2).encode(),
    }
    if hierarchy is not None:
        text = json.dumps(hierarchy.to_dict(), separators=(",", ":"))
        contents[ARTIFACT_HIERARCHY_FILE] = text.encode()
    if probe is not None:
        contents[ARTIFACT_PROBE_FILE] = probe
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        (directory / name).write_bytes(data)
    digests = {name: FileDigest.of(data) for name, data in contents.items()}
    final = replace(metadata, files=digests)
    (directory / ARTIFACT_METADATA_FILE).write_text(json.dumps(final.to_dict(), indent=2))
    return directory


def verify_digests(
    directory: Path, metadata: ModelMetadata, names: tuple[str, ...] | None = None
) -> None:
    """ArtifactError, naming the file and both digests, unless every file model.json lists
    (or those of `names` it lists) has its recorded size and sha256."""
    for name, expected in metadata.files.items():
        if names is not None and name not in names:
            continue
        try:
            data = (directory / name).read_bytes()
        except FileNotFoundError:
            raise ArtifactError(f"{name} is listed in model.json but not in the artifact") from None
        actual = FileDigest.of(data)
        if actual != expected:
            raise ArtifactError(
                f"{name} does not match model.json: sha256 {actual.sha256[:16]}… "
                f"({actual.size} bytes) in the artifact, {expected.sha256[:16]}… "
                f"({expected.size} bytes) recorded"
            )
    require_digests(directory, metadata, names or ())


def require_digests(directory: Path, metadata: ModelMetadata, names: tuple[str, ...]) -> None:
    """ArtifactError when model.json records digests but none of one of `names` that the
    artifact holds (bytes nothing vouches for)."""
    missing = [name for name in names if name not in metadata.files]
    present = [name for name in missing if (directory / name).is_file()]
    if metadata.files and present:
        raise ArtifactError(f"{present[0]} is in the artifact but model.json has no digest of it")


def metadata_digest(directory: Path) -> str:
    """An unpacked artifact's model.json digest, as a model pointer records it."""
    return model_digest((directory / ARTIFACT_METADATA_FILE).read_bytes())


def read_metadata(directory: Path) -> ModelMetadata:
    """Read model.json (and check labels.json agrees with it)."""
    data = _json_file(directory / ARTIFACT_METADATA_FILE)
    labels = _json_file(directory / ARTIFACT_LABELS_FILE)
    metadata = ModelMetadata.from_dict(data)
    if list(metadata.labels) != labels:
        raise ArtifactError("labels.json and model.json disagree on the labels")
    return metadata


def _json_file(path: Path) -> Any:
    """One JSON file of an artifact; ArtifactError (one line, naming it) when unreadable."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as error:  # ValueError: JSON or UTF-8
        why = "it is missing" if isinstance(error, FileNotFoundError) else str(error)
        raise ArtifactError(f"cannot read model metadata ({path.name}): {why}") from None


def read_hierarchy(directory: Path, metadata: ModelMetadata) -> LabelHierarchy | None:
    """The hierarchy an unpacked artifact carries, checked against model.json (None: the
    model has none)."""
    if metadata.hierarchy is None:
        return None
    try:
        raw = json.loads((directory / ARTIFACT_HIERARCHY_FILE).read_text())
    except FileNotFoundError:
        raise ArtifactError(
            f"model.json names hierarchy {metadata.hierarchy.version} but the artifact has no "
            f"{ARTIFACT_HIERARCHY_FILE}"
        ) from None
    except (OSError, json.JSONDecodeError) as error:
        raise ArtifactError(f"cannot read {ARTIFACT_HIERARCHY_FILE}: {error}") from None
    return checked_hierarchy(raw, metadata)


def checked_hierarchy(raw: Any, metadata: ModelMetadata) -> LabelHierarchy:
    assert metadata.hierarchy is not None
    try:
        hierarchy = LabelHierarchy.from_dict(raw)
        if hierarchy.version != metadata.hierarchy.version:
            raise HierarchyError(
                f"{ARTIFACT_HIERARCHY_FILE} is version {hierarchy.version} but model.json "
                f"names {metadata.hierarchy.version}"
            )
        hierarchy.check_outputs(metadata.hierarchy.classes)
    except HierarchyError as error:
        raise ArtifactError(str(error)) from None
    return hierarchy
