"""The quality-gate function (functions/gate): reads model.json's verdict from model.tar.gz."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import pytest

from classifier.artifact import ModelMetadata, pack_artifact, write_artifact_dir
from classifier.contracts import ARTIFACT_METADATA_FILE
from classifier.imaging import InputSpec

GATE_SOURCE = Path(__file__).resolve().parents[2] / "functions" / "gate" / "gate.py"


@pytest.fixture(scope="module")
def gate() -> ModuleType:
    """The gate module as Lambda loads it: a plain file, not part of any package."""
    spec = importlib.util.spec_from_file_location("imgclf_gate", GATE_SOURCE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _artifact(tmp_path: Path, *, version: str, gate: dict[str, Any]) -> bytes:
    """A real model.tar.gz, packed as training packs it."""
    metadata = ModelMetadata(
        version=version,
        input=InputSpec(height=64, width=64),
        labels=("cat", "dog"),
        metrics={"int8_accuracy": 0.91, "float_accuracy": 0.92, "per_class": {"cat": {}}},
        gate=gate,
    )
    directory = write_artifact_dir(tmp_path / "model", b"tflite-bytes", metadata)
    (directory / "report").mkdir()
    (directory / "report" / "confusion.png").write_bytes(b"\x89PNG")
    return pack_artifact(directory, tmp_path / "model.tar.gz").read_bytes()


def _opener(objects: dict[tuple[str, str], bytes]) -> Any:
    def open_object(bucket: str, key: str) -> IO[bytes]:
        return io.BytesIO(objects[(bucket, key)])

    return open_object


def test_gate_reads_the_contracts_metadata_file(gate: ModuleType) -> None:
    # Then the gate and the artifact contract agree on the file name
    assert gate.METADATA_FILE == ARTIFACT_METADATA_FILE


def test_passing_gate_of_the_expected_version_passes(gate: ModuleType, tmp_path: Path) -> None:
    # Given an artifact whose training recorded a passing gate
    data = _artifact(tmp_path, version="v7", gate={"passed": True, "reason": "int8 0.91"})
    key = "models/v7/training/job/output/model.tar.gz"
    event = {"artifact_uri": f"s3://models/{key}", "expected_version": "v7"}
    # When the gate runs
    result = gate.evaluate(event, _opener({("models", key): data}))
    # Then it passes and reports where the artifact is, the version and scalar metrics
    assert result["passed"] is True
    assert result["reason"] == "int8 0.91"
    assert (result["bucket"], result["key"], result["version"]) == ("models", key, "v7")
    assert result["metrics"] == {"int8_accuracy": 0.91, "float_accuracy": 0.92}
    json.dumps(result)  # the state machine receives it as JSON


@pytest.mark.parametrize(
    ("recorded_gate", "version", "reason_part"),
    [
        ({"passed": False, "reason": "int8 accuracy 0.41 < 0.80"}, "v7", "0.41"),
        ({}, "v7", "no passing gate"),
        ({"passed": "yes"}, "v7", "no passing gate"),
        ({"passed": True}, "v6", "expected 'v7'"),
    ],
)
def test_gate_fails_without_a_passing_verdict_for_this_version(
    gate: ModuleType, tmp_path: Path, recorded_gate: dict[str, Any], version: str, reason_part: str
) -> None:
    # Given an artifact that failed, has no verdict, or is another version
    data = _artifact(tmp_path, version=version, gate=recorded_gate)
    event = {"artifact_uri": "s3://models/a/model.tar.gz", "expected_version": "v7"}
    # When the gate runs
    result = gate.evaluate(event, _opener({("models", "a/model.tar.gz"): data}))
    # Then promotion is blocked with a reason a person can read
    assert result["passed"] is False
    assert reason_part in result["reason"]


def test_unreadable_artifact_is_an_error_not_a_verdict(gate: ModuleType) -> None:
    # Given bytes that are not a gzipped tar, and a tar without model.json
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w:gz") as archive:
        info = tarfile.TarInfo("labels.json")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"[]"))
    objects = {("b", "junk"): b"not a tarball", ("b", "nometa"): plain.getvalue()}
    for key, message in (("junk", "not a readable"), ("nometa", "has no model.json")):
        # Then the gate raises, so the execution fails instead of promoting blindly
        with pytest.raises(gate.GateError, match=message):
            gate.evaluate(
                {"artifact_uri": f"s3://b/{key}", "expected_version": "v1"}, _opener(objects)
            )


@pytest.mark.parametrize("uri", ["https://b/k", "s3://bucket-only", "s3:///key", ""])
def test_gate_rejects_uris_that_are_not_s3_objects(gate: ModuleType, uri: str) -> None:
    with pytest.raises(gate.GateError, match="is not s3://bucket/key"):
        gate.parse_s3_uri(uri)


def test_gate_event_needs_uri_and_version(gate: ModuleType) -> None:
    with pytest.raises(gate.GateError, match="expected_version"):
        gate.evaluate({"artifact_uri": "s3://b/k"}, _opener({}))
