"""`imgclf model show VERSION` against moto: it reads the version's model.json from the models
bucket, prints it readably or as JSON, and an unknown version is a one-line error."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from classifier.contracts import artifact_key, model_pointer_name
from imgclf.deployment import Deployment
from imgclf.main import main
from infra.resources import StackOutputs
from training.per_label import UNKNOWN, evaluate

REGION = "us-east-1"
MODELS_BUCKET = "models"


@pytest.fixture
def deployment(fake_aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """A deployed environment's models bucket, on moto, that every command resolves to."""
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=MODELS_BUCKET)
        found = Deployment(
            env="test",
            outputs={
                StackOutputs.MODELS_BUCKET: MODELS_BUCKET,
                StackOutputs.MODEL_POINTER_PARAMETER: model_pointer_name("test"),
            },
            region=REGION,
        )
        monkeypatch.setattr("imgclf.commands.resolve", lambda env: found)
        yield found


def _upload(deployment: Deployment, metadata: dict[str, Any]) -> None:
    """A model.tar.gz holding only model.json: all that `model show` reads."""
    body, data = io.BytesIO(), json.dumps(metadata).encode()
    with tarfile.open(fileobj=body, mode="w:gz") as archive:
        member = tarfile.TarInfo("model.json")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    deployment.client("s3").put_object(
        Bucket=MODELS_BUCKET, Key=artifact_key(metadata["version"]), Body=body.getvalue()
    )


def _metadata(version: str, with_per_label: bool = True) -> dict[str, Any]:
    labels = ["red", "green", "blue"]
    metrics: dict[str, Any] = {"int8_accuracy": 0.75, "float_accuracy": 0.75, "test_count": 4}
    if with_per_label:
        evaluation = evaluate(
            [0, 1, 2, 2], [0, 1, 2, UNKNOWN], [0.99, 0.8, 0.9, 0.4], labels, ["r", "g", "b", "b2"]
        )
        metrics["per_label"] = {"test": evaluation.to_dict()}
    return {
        "version": version,
        "architecture": "tiny-colour-cnn",
        "labels": labels,
        "gate": {"passed": True, "reasons": []},
        "unknown": {"min_confidence": 0.5},
        "metrics": metrics,
    }


def test_model_show_prints_the_per_label_table(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    _upload(deployment, _metadata("v1"))

    assert main(["model", "show", "v1"]) == 0

    out = capsys.readouterr().out
    assert out.startswith("model v1 (tiny-colour-cnn)")
    assert "unknown rule: min_confidence 0.5" in out
    assert "per-label evaluation, test split: 4 images, 75.00% right, 1 called unknown" in out
    blue = next(line for line in out.splitlines() if line.startswith("blue "))
    assert blue.split()[:5] == ["blue", "1.000", "0.500", "0.667", "2"]
    assert "images it got wrong: 1;" in out


def test_model_show_json_is_the_model_json(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    metadata = _metadata("v1")
    _upload(deployment, metadata)

    assert main(["model", "show", "v1", "--format", "json"]) == 0

    assert json.loads(capsys.readouterr().out) == metadata


def test_an_older_model_says_it_has_no_per_label_evaluation(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    _upload(deployment, _metadata("old", with_per_label=False))

    assert main(["model", "show", "old"]) == 0

    out = capsys.readouterr().out
    assert "gate: passed" in out
    assert out.strip().endswith("no per-label evaluation in model.json")


def test_an_unknown_version_is_one_line_and_a_non_zero_exit(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    _upload(deployment, _metadata("v1"))

    assert main(["model", "show", "v9"]) != 0

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("imgclf: error: no model version 'v9' in s3://models/")
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
