"""The quality-gate function (functions/gate): reads model.json's verdict from model.tar.gz,
then compares the candidate with the live model (champion.py, shipped beside gate.py)."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import boto3
import pytest
from moto import mock_aws

from classifier.artifact_files import pack_artifact, write_artifact_dir
from classifier.contracts import ARTIFACT_METADATA_FILE
from tests.fixtures.artifacts import evaluated_metadata, pointer_digest

GATE_DIRECTORY = Path(__file__).resolve().parents[2] / "functions" / "gate"
POINTER = "/imgclf/test/model"
LIVE_KEY = "models/v6/model.tar.gz"
CANDIDATE_KEY = "models/v7/training/job/output/model.tar.gz"
PASSING = {"passed": True, "reasons": []}  # model.json's gate, as training.gate writes it


@pytest.fixture(scope="module")
def gate() -> Iterator[ModuleType]:
    """The gate module as Lambda loads it: gate.py from the zip's root, which is on sys.path
    (so champion.py beside it imports as a top-level module)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(GATE_DIRECTORY))
        spec = importlib.util.spec_from_file_location("imgclf_gate", GATE_DIRECTORY / "gate.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        patch.setitem(sys.modules, spec.name, module)  # as `import gate` registers it
        spec.loader.exec_module(module)
        yield module
    sys.modules.pop("champion", None)  # the zip's top-level name, not this project's


def _artifact(
    tmp_path: Path,
    *,
    version: str,
    gate: dict[str, Any],
    evaluations: dict[str, float] | None = None,
) -> bytes:
    """A real model.tar.gz, packed as training packs it (evaluations: set -> int8 accuracy)."""
    metadata = evaluated_metadata(
        version,
        metrics={"int8_accuracy": 0.91, "float_accuracy": 0.92, "per_class": {"cat": {}}},
        evaluations=evaluations,
        gate=gate,
        count=200,
        size=64,
    )
    directory = write_artifact_dir(tmp_path / version / "model", b"tflite-bytes", metadata)
    (directory / "report").mkdir()
    (directory / "report" / "confusion.png").write_bytes(b"\x89PNG")
    return pack_artifact(directory, tmp_path / version / "model.tar.gz").read_bytes()


def _opener(objects: dict[tuple[str, str], bytes]) -> Any:
    def open_object(bucket: str, key: str) -> IO[bytes]:
        return io.BytesIO(objects[(bucket, key)])

    return open_object


def _parameters(values: dict[str, str]) -> Any:
    """A fake SSM reader: the value, or None for a parameter that does not exist."""

    def read_parameter(name: str) -> str | None:
        return values.get(name)

    return read_parameter


def _live_pointer(key: str = LIVE_KEY, version: str = "v6") -> dict[str, str]:
    return {POINTER: json.dumps({"uri": f"s3://models/{key}", "version": version})}


def _settings(gate: ModuleType, max_regression_pp: float = 1.0) -> Any:
    return gate.GateSettings(model_pointer_parameter=POINTER, max_regression_pp=max_regression_pp)


def _evaluate(gate: ModuleType, event: dict[str, Any], objects: dict[Any, bytes]) -> Any:
    """The gate with nothing live."""
    return gate.evaluate(event, _opener(objects), _parameters({}), _settings(gate))


def test_gate_reads_the_contracts_metadata_file(gate: ModuleType) -> None:
    # Then the gate and the artifact contract agree on the file name
    assert gate.METADATA_FILE == ARTIFACT_METADATA_FILE


def test_passing_gate_of_the_expected_version_passes(gate: ModuleType, tmp_path: Path) -> None:
    # Given an artifact whose training recorded a passing gate
    data = _artifact(tmp_path, version="v7", gate=PASSING)
    key = "models/v7/training/job/output/model.tar.gz"
    event = {"artifact_uri": f"s3://models/{key}", "expected_version": "v7"}
    # When the gate runs
    result = _evaluate(gate, event, {("models", key): data})
    # Then it passes and reports where the artifact is, the version and scalar metrics
    assert result["passed"] is True
    assert result["reason"] == "quality gate passed"
    assert (result["bucket"], result["key"], result["version"]) == ("models", key, "v7")
    assert result["metrics"] == {"int8_accuracy": 0.91, "float_accuracy": 0.92}
    json.dumps(result)  # the state machine receives it as JSON


@pytest.mark.parametrize(
    ("recorded_gate", "version", "reason_part"),
    [
        # training's reasons reach the state machine (it read a "reason" no one wrote)
        (
            {"passed": False, "reasons": ["int8 accuracy 41.00% is below the minimum 80%"]},
            "v7",
            "quality gate failed: int8 accuracy 41.00% is below",
        ),
        ({}, "v7", "training recorded no gate"),
        ({"passed": "yes"}, "v7", "quality gate failed: no reason recorded"),
        ({"passed": True}, "v6", "expected 'v7'"),
    ],
)
def test_gate_fails_without_a_passing_verdict_for_this_version(
    gate: ModuleType,
    tmp_path: Path,
    recorded_gate: dict[str, Any],
    version: str,
    reason_part: str,
) -> None:
    # Given an artifact that failed, has no verdict, or is another version
    data = _artifact(tmp_path, version=version, gate=recorded_gate)
    event = {"artifact_uri": "s3://models/a/model.tar.gz", "expected_version": "v7"}
    # When the gate runs
    result = _evaluate(gate, event, {("models", "a/model.tar.gz"): data})
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
            _evaluate(gate, {"artifact_uri": f"s3://b/{key}", "expected_version": "v1"}, objects)


@pytest.mark.parametrize("uri", ["https://b/k", "s3://bucket-only", "s3:///key", ""])
def test_gate_rejects_uris_that_are_not_s3_objects(gate: ModuleType, uri: str) -> None:
    with pytest.raises(gate.GateError, match="is not s3://bucket/key"):
        gate.parse_s3_uri(uri)


def test_gate_event_needs_uri_and_version(gate: ModuleType) -> None:
    with pytest.raises(gate.GateError, match="expected_version"):
        _evaluate(gate, {"artifact_uri": "s3://b/k"}, {})


def test_champion_ships_beside_the_gate_as_a_top_level_module(gate: ModuleType) -> None:
    # Then the gate imports champion.py the way the Lambda zip lays it out
    assert gate.champion.__name__ == "champion"
    assert Path(gate.champion.__file__) == GATE_DIRECTORY / "champion.py"


def _champion_case(
    gate: ModuleType, tmp_path: Path, *, candidate: float, live: float
) -> tuple[dict[tuple[str, str], bytes], dict[str, Any]]:
    """A passing v7 candidate and a live v6, both evaluated on real-photos."""
    objects = {
        ("models", CANDIDATE_KEY): _artifact(
            tmp_path, version="v7", gate=PASSING, evaluations={"real-photos": candidate}
        ),
        ("models", LIVE_KEY): _artifact(
            tmp_path, version="v6", gate=PASSING, evaluations={"real-photos": live}
        ),
    }
    return objects, {"artifact_uri": f"s3://models/{CANDIDATE_KEY}", "expected_version": "v7"}


def test_challenger_worse_than_the_live_model_fails_with_the_reason(
    gate: ModuleType, tmp_path: Path
) -> None:
    # Given a candidate 6.8 pp worse than the live model on a shared set
    objects, event = _champion_case(gate, tmp_path, candidate=0.812, live=0.880)
    # When the gate runs
    result = gate.evaluate(event, _opener(objects), _parameters(_live_pointer()), _settings(gate))
    # Then it fails, naming the set, the numbers and how to override
    assert result["passed"] is False
    assert (
        "real-photos: 81.2% vs live 88.0% (-6.8 pp, more than the 1.0 pp allowed)"
        in (result["reason"])
    )
    assert '"force": true' in result["reason"]
    assert result["champion"]["live_version"] == "v6"
    json.dumps(result)  # the state machine receives it as JSON


def test_challenger_within_the_margin_passes(gate: ModuleType, tmp_path: Path) -> None:
    # Given a candidate 0.5 pp worse, and a margin from the settings
    objects, event = _champion_case(gate, tmp_path, candidate=0.875, live=0.880)
    # When the gate runs
    result = gate.evaluate(event, _opener(objects), _parameters(_live_pointer()), _settings(gate))
    # Then it passes with the training verdict's reason, and reports the comparison
    assert (result["passed"], result["reason"]) == (True, "quality gate passed")
    assert result["champion"]["passed"] is True
    assert result["champion"]["rows"][0]["status"] == "within margin"


def test_force_skips_the_comparison(gate: ModuleType, tmp_path: Path) -> None:
    # Given a losing candidate and an execution started with "force": true
    objects, event = _champion_case(gate, tmp_path, candidate=0.5, live=0.9)

    def no_parameters(name: str) -> str | None:
        raise AssertionError("a forced gate does not read the pointer")

    # When the gate runs
    result = gate.evaluate(
        {**event, "force": True}, _opener(objects), no_parameters, _settings(gate)
    )
    # Then it passes without comparing
    assert (result["passed"], result["champion"]) == (True, None)


def test_without_promotion_the_comparison_is_reported_not_enforced(
    gate: ModuleType, tmp_path: Path
) -> None:
    # Given a losing candidate that the execution will not promote
    objects, event = _champion_case(gate, tmp_path, candidate=0.5, live=0.9)
    result = gate.evaluate(
        {**event, "promote": False},
        _opener(objects),
        _parameters(_live_pointer()),
        _settings(gate),
    )
    # Then the artifact passes (it is kept for `imgclf model promote`) and the loss is recorded
    assert result["passed"] is True
    assert result["champion"]["passed"] is False


def test_nothing_live_passes_and_says_so(gate: ModuleType, tmp_path: Path) -> None:
    objects, event = _champion_case(gate, tmp_path, candidate=0.5, live=0.9)
    result = gate.evaluate(event, _opener(objects), _parameters({}), _settings(gate))
    assert result["passed"] is True
    assert result["champion"]["summary"] == "nothing is live: nothing to compare"


def test_a_failed_training_verdict_is_not_compared(gate: ModuleType, tmp_path: Path) -> None:
    # Given a candidate whose own gate failed
    data = _artifact(tmp_path, version="v7", gate={"passed": False, "reasons": ["int8 0.41"]})
    event = {"artifact_uri": f"s3://models/{CANDIDATE_KEY}", "expected_version": "v7"}
    result = gate.evaluate(
        event, _opener({("models", CANDIDATE_KEY): data}), _parameters({}), _settings(gate)
    )
    # Then the training verdict's reason stands
    assert result["reason"] == "quality gate failed: int8 0.41"
    assert (result["passed"], result["champion"]) == (False, None)


@pytest.mark.parametrize(
    ("event_fields", "message"),
    [({"force": "yes"}, "must be true or false"), ({"promote": 1}, "must be true or false")],
)
def test_force_and_promote_must_be_booleans(
    gate: ModuleType, event_fields: dict[str, Any], message: str
) -> None:
    event = {"artifact_uri": "s3://b/k", "expected_version": "v1", **event_fields}
    with pytest.raises(gate.GateError, match=message):
        _evaluate(gate, event, {})


def test_a_malformed_pointer_is_an_error(gate: ModuleType, tmp_path: Path) -> None:
    # Given a pointer that is not {"uri", "version"}
    objects, event = _champion_case(gate, tmp_path, candidate=0.9, live=0.9)
    parameters = _parameters({POINTER: "not json"})
    # Then the gate fails the execution rather than skipping the comparison
    with pytest.raises(gate.GateError, match="not JSON with a uri"):
        gate.evaluate(event, _opener(objects), parameters, _settings(gate))


def test_settings_come_from_the_environment(gate: ModuleType) -> None:
    settings = gate.GateSettings.from_environ(
        {"MODEL_POINTER_PARAMETER": POINTER, "MAX_REGRESSION_PP": "2.5"}
    )
    assert (settings.model_pointer_parameter, settings.max_regression_pp) == (POINTER, 2.5)
    default = gate.GateSettings.from_environ({"MODEL_POINTER_PARAMETER": POINTER})
    assert default.max_regression_pp == gate.champion.DEFAULT_MAX_REGRESSION_PP
    with pytest.raises(gate.GateError, match="MODEL_POINTER_PARAMETER"):
        gate.GateSettings.from_environ({})


def test_handler_reads_s3_and_ssm_through_boto3(
    gate: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_aws: str
) -> None:
    # Given moto: a losing candidate, the live artifact, the pointer, and the gate's environment
    monkeypatch.setenv("MODEL_POINTER_PARAMETER", POINTER)
    monkeypatch.setenv("MAX_REGRESSION_PP", "1.0")
    objects, event = _champion_case(gate, tmp_path, candidate=0.812, live=0.880)
    caches = (gate._s3, gate._ssm, gate._settings)
    with mock_aws():
        for cache in caches:
            cache.cache_clear()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="models")
        for (bucket, key), body in objects.items():
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        # When nothing is live, then the candidate passes
        assert gate.handler(event, None)["passed"] is True
        # When the live model is better, then it fails
        boto3.client("ssm").put_parameter(
            Name=POINTER, Value=_live_pointer()[POINTER], Type="String"
        )
        assert gate.handler(event, None)["passed"] is False
        for cache in caches:
            cache.cache_clear()


def _retar(data: bytes, change: dict[str, bytes | None]) -> bytes:
    """The artifact with some members replaced (None: model.json's `files` dropped)."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as source,
        tarfile.open(fileobj=out, mode="w:gz") as target,
    ):
        for member in source.getmembers():
            body = source.extractfile(member)
            content = body.read() if body else b""
            name = Path(member.name).name
            if name in change:
                replacement = change[name]
                if replacement is None:
                    metadata = json.loads(content)
                    metadata.pop("files")
                    replacement = json.dumps(metadata).encode()
                content = replacement
            info = tarfile.TarInfo(member.name)
            info.size = len(content)
            target.addfile(info, io.BytesIO(content))
    return out.getvalue()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"model.tflite": b"4 KB of noise"}, "model.tflite does not match model.json: sha256 "),
        ({"labels.json": b'["dog"]'}, "labels.json does not match model.json"),
        ({"model.json": None}, "model.json records no file digests"),
    ],
)
def test_an_artifact_whose_files_are_not_what_training_recorded_fails(
    gate: ModuleType, tmp_path: Path, change: dict[str, bytes | None], reason: str
) -> None:
    # Given a passing training verdict, but files changed after training wrote them (a
    # truncated upload, a wrong file, a hand-edited artifact), or none recorded
    data = _retar(_artifact(tmp_path, version="v7", gate=PASSING), change)
    event = {"artifact_uri": f"s3://models/{CANDIDATE_KEY}", "expected_version": "v7"}
    # When the gate runs, then it fails, naming the file
    result = _evaluate(gate, event, {("models", CANDIDATE_KEY): data})
    assert result["passed"] is False
    assert result["reason"].startswith("artifact cannot go live: " + reason)


def test_the_pointer_to_write_keeps_the_live_version_as_previous(
    gate: ModuleType, tmp_path: Path
) -> None:
    # Given v6 live (intact) and a passing v7, with the pointer the execution will write
    objects = {
        ("models", CANDIDATE_KEY): _artifact(tmp_path, version="v7", gate=PASSING),
        ("models", LIVE_KEY): _artifact(tmp_path, version="v6", gate=PASSING),
    }
    pointer = {"uri": "s3://models/models/v7/model.tar.gz", "version": "v7"}
    event = {
        "artifact_uri": f"s3://models/{CANDIDATE_KEY}",
        "expected_version": "v7",
        "pointer": pointer,
    }
    result = gate.evaluate(event, _opener(objects), _parameters(_live_pointer()), _settings(gate))
    # Then the pointer carries v7's model.json digest, and v6 as previous with v6's
    candidate_digest = pointer_digest(objects[("models", CANDIDATE_KEY)])
    live_digest = pointer_digest(objects[("models", LIVE_KEY)])
    assert result["pointer"] == {
        **pointer,
        "digest": candidate_digest,
        "previous": {"uri": f"s3://models/{LIVE_KEY}", "version": "v6", "digest": live_digest},
    }
    # And a live pointer that records its digest keeps that one, not today's bytes'
    recorded = json.dumps({"uri": f"s3://models/{LIVE_KEY}", "version": "v6", "digest": "ab" * 32})
    kept = gate.evaluate(event, _opener(objects), _parameters({POINTER: recorded}), _settings(gate))
    assert kept["pointer"]["previous"]["digest"] == "ab" * 32
    # And a live artifact whose files no longer hold is not kept: its own previous is
    objects[("models", LIVE_KEY)] = _retar(objects[("models", LIVE_KEY)], {"model.tflite": b"x"})
    live = json.dumps(
        {
            "uri": f"s3://models/{LIVE_KEY}",
            "version": "v6",
            "previous": {"uri": "s3://models/models/v5/model.tar.gz", "version": "v5"},
        }
    )
    again = gate.evaluate(event, _opener(objects), _parameters({POINTER: live}), _settings(gate))
    assert again["pointer"]["previous"]["version"] == "v5"
    # And with nothing live there is no previous
    alone = _evaluate(gate, event, {("models", CANDIDATE_KEY): objects[("models", CANDIDATE_KEY)]})
    assert alone["pointer"] == {**pointer, "digest": candidate_digest}
