"""The soak's models: the tests' tiny model under two versions, and one that cannot run, written
to the pointer the way a broken deploy script would."""

from __future__ import annotations

import dataclasses
import random
import sys
from pathlib import Path

from classifier.artifact_files import pack_artifact, read_metadata, write_artifact_dir
from classifier.contracts import ModelPointer
from imgclf.deployment import Deployment

from .parameters import BROKEN_MODEL, FIRST_MODEL, SECOND_MODEL

REPO = Path(__file__).resolve().parents[2]
TEST_CACHE = REPO / ".imgclf" / "test-cache"


def tiny_artifacts(directory: Path, source: Path | None = None) -> dict[str, Path]:
    """tiny-v1 and tiny-v2: the tests' red/green/blue int8 model under two versions."""
    sys.path.insert(0, str(REPO / "tests" / "fixtures"))
    try:
        import tiny_model
    finally:
        sys.path.remove(str(REPO / "tests" / "fixtures"))
    source = source or tiny_model.cached(TEST_CACHE)
    artifacts = {
        version: tiny_model.reversioned(source, version, directory / version)
        for version in (FIRST_MODEL, SECOND_MODEL)
    }
    return {**artifacts, BROKEN_MODEL: broken_artifact(source, directory / BROKEN_MODEL)}


def broken_artifact(source: Path, directory: Path) -> Path:
    """A model that cannot run: 4 KB of noise under the tiny model's model.json (version
    changed, digests recomputed so only loading it fails), packed."""
    metadata = dataclasses.replace(read_metadata(source), version=BROKEN_MODEL, probe=None)
    noise = random.Random(22).randbytes(4096)
    written = write_artifact_dir(directory / "model", noise, metadata)
    return pack_artifact(written, directory / "model.tar.gz")


def break_pointer(deployment: Deployment) -> None:
    """Point the environment at BROKEN_MODEL without promotion's checks, keeping the live
    version as `previous`, as a deploy script that writes SSM directly would."""
    ssm = deployment.client("ssm")
    name = deployment.model_pointer_parameter
    live = ModelPointer.from_json(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    broken = ModelPointer(deployment.artifact_uri(BROKEN_MODEL), BROKEN_MODEL, live.last)
    ssm.put_parameter(Name=name, Value=broken.to_json(), Type="String", Overwrite=True)
