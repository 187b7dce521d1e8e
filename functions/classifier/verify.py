"""A model that cannot run never goes live: the checks promotion runs on an artifact.

Training writes a probe beside the model: a few preprocessed images (probe.npz) and, in
model.json `probe`, the label the int8 model gave each at export. `check_artifact` is what
`imgclf model promote`, the state machine's gate and training's own gate run, with the
function's own LiteRT wrapper:
- every file matches model.json's digests (`files`), and the hierarchy fits the outputs;
- the model loads, and its input and output agree with model.json's spec, labels and kind;
- it gives each probe image the label it gave at export.
Each failure is one `ArtifactError` line. An artifact made before digests (no `files`) is
refused unless the caller allows legacy artifacts.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from .artifact import DIGESTED_FILES, ArtifactError, ModelMetadata, ProbeSpec
from .artifact_files import (
    read_hierarchy,
    read_metadata,
    require_digests,
    verify_digests,
    write_artifact_dir,
)
from .contracts import ARTIFACT_MODEL_FILE, ARTIFACT_PROBE_FILE
from .hierarchy import LabelHierarchy, LabelSettings
from .model import LoadedModel, ModelUnavailableError

PROBE_IMAGES = 4  # enough to catch a wrong file, few enough to keep the artifact small
PROBE_ARRAY = "images"  # the array's name in probe.npz (savez_compressed's keyword)


def probe_bytes(images: np.ndarray) -> bytes:
    """probe.npz: the images as the model takes them (N x H x W x 3 uint8), compressed."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=np.asarray(images, np.uint8))
    return buffer.getvalue()


def read_probe(directory: Path) -> np.ndarray:
    """probe.npz's images; ArtifactError when missing or unreadable."""
    try:
        with np.load(directory / ARTIFACT_PROBE_FILE, allow_pickle=False) as data:
            return np.asarray(data[PROBE_ARRAY])
    except FileNotFoundError:  # not the temporary folder's path: the artifact lacks it
        raise ArtifactError(f"the artifact has no {ARTIFACT_PROBE_FILE}") from None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ArtifactError(f"cannot read {ARTIFACT_PROBE_FILE}: {error}") from None


def probe_labels(model: LoadedModel, images: np.ndarray) -> tuple[str, ...]:
    """The label (possibly `unknown`) the model gives each image, as the function decides."""
    return tuple(model.classify(image, 1, LabelSettings()).best.label for image in images)


def write_checked_artifact(
    directory: Path,
    tflite_model: bytes,
    metadata: ModelMetadata,
    hierarchy: LabelHierarchy | None = None,
    probe_images: np.ndarray | None = None,
) -> Path:
    """Write an artifact with its probe (the first PROBE_IMAGES images, labelled by this very
    int8 model) and every file's digest."""
    probe = None
    if probe_images is not None and len(probe_images):
        images = np.asarray(probe_images[:PROBE_IMAGES], np.uint8)
        model = LoadedModel(tflite_model, metadata, hierarchy=hierarchy)
        metadata = replace(metadata, probe=ProbeSpec(probe_labels(model, images)))
        probe = probe_bytes(images)
    return write_artifact_dir(directory, tflite_model, metadata, hierarchy, probe)


def check_artifact(directory: Path, *, allow_legacy: bool = False) -> LoadedModel:
    """The artifact's model, loaded and smoke-run; ArtifactError (one line) when it cannot
    be trusted to run. `allow_legacy` lets through an artifact without digests or probe."""
    metadata = read_metadata(directory)
    name = f"model {metadata.version}"
    if not metadata.files and not allow_legacy:
        raise ArtifactError(
            f"{name} records no file digests (made before they were): rebuild it, or allow "
            "legacy artifacts"
        )
    verify_digests(directory, metadata)  # every file it lists
    require_digests(directory, metadata, DIGESTED_FILES)  # and those the function checks
    hierarchy = read_hierarchy(directory, metadata)
    try:
        model = LoadedModel(
            (directory / ARTIFACT_MODEL_FILE).read_bytes(), metadata, hierarchy=hierarchy
        )
    except (ModelUnavailableError, OSError) as error:
        raise ArtifactError(f"{name} cannot run: {error}") from None
    check_probe(directory, model, allow_missing=allow_legacy)
    return model


def check_probe(directory: Path, model: LoadedModel, *, allow_missing: bool = False) -> None:
    """ArtifactError unless the model gives every probe image its label from export."""
    spec = model.metadata.probe
    name = f"model {model.version}"
    if spec is None:
        if allow_missing:
            return
        raise ArtifactError(f"{name} has no probe images to run it on: rebuild it")
    images = read_probe(directory)
    if len(images) != len(spec.labels):
        raise ArtifactError(
            f"{name}: {ARTIFACT_PROBE_FILE} holds {len(images)} images but model.json "
            f"labels {len(spec.labels)}"
        )
    try:
        found = probe_labels(model, images)
    except (ModelUnavailableError, ValueError) as error:
        raise ArtifactError(f"{name} cannot run on its probe images: {error}") from None
    for index, (expected, got) in enumerate(zip(spec.labels, found, strict=True)):
        if got != expected:
            raise ArtifactError(
                f"{name} labels probe image {index + 1} of {len(found)} {got!r}, but it was "
                f"{expected!r} at export"
            )
