"""A moto-backed account with the function's resources, built from the shared definitions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from classifier import handler
from classifier.contracts import ModelPointer, artifact_key, model_pointer_name
from infra.environment_config import load_environment
from infra.resources import function_environment, results_table_create_args

REGION = "us-east-1"


@pytest.fixture
def aws(
    monkeypatch: pytest.MonkeyPatch, fake_aws: str, tmp_path: Path, tiny_model_tarball: Path
) -> Iterator[SimpleNamespace]:
    """Images bucket, results table, models bucket, the pointer, and the handler's env vars."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        ssm = boto3.client("ssm", region_name=REGION)
        s3.create_bucket(Bucket="images")
        s3.create_bucket(Bucket="models")
        dynamodb.create_table(**results_table_create_args("results"))
        s3.upload_file(str(tiny_model_tarball), "models", artifact_key("tiny-v1"))
        pointer = model_pointer_name("test")
        ssm.put_parameter(
            Name=pointer,
            Type="String",
            Value=ModelPointer(f"s3://models/{artifact_key('tiny-v1')}", "tiny-v1").to_json(),
        )
        env = function_environment(
            load_environment("local"), results_table="results", model_pointer_parameter=pointer
        )
        for name, value in {**env, "MODEL_CACHE_DIR": str(tmp_path / "models")}.items():
            monkeypatch.setenv(name, value)
        handler.reset_runtime()
        yield SimpleNamespace(s3=s3, table=dynamodb.Table("results"), ssm=ssm, pointer=pointer)
        handler.reset_runtime()


def pointer_json(version: str) -> str:
    return json.dumps({"uri": f"s3://models/{artifact_key(version)}", "version": version})
