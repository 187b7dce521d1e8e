"""`--env NAME` finds a deployed stack's resources from its CloudFormation outputs (on moto)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from classifier.contracts import model_pointer_name
from infra.local.server import DUMMY_CREDENTIALS, MotoServer
from infra.resources import StackOutputs, results_table_create_args, stack_name

from .conftest import CliRun

ENV = "dev"  # a name cdk.json knows


def table_resource(name: str) -> dict[str, Any]:
    """The results table as a CloudFormation resource, from the shared create_table args."""
    args = results_table_create_args(name)
    properties = {key: value for key, value in args.items() if key != "TableName"}
    return {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": name, **properties}}


def stack_template(state_machine_arn: str | None = None, prefix: str = ENV) -> dict[str, Any]:
    resources = {
        "Images": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": f"{prefix}-images"}},
        "Models": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": f"{prefix}-models"}},
        "DeadLetters": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{prefix}-dlq"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{prefix}-queue"}},
        "Results": table_resource(f"{prefix}-results"),
    }
    outputs = {
        StackOutputs.IMAGES_BUCKET: {"Ref": "Images"},
        StackOutputs.MODELS_BUCKET: {"Ref": "Models"},
        StackOutputs.QUEUE_URL: {"Ref": "Queue"},
        StackOutputs.DEAD_LETTER_QUEUE_URL: {"Ref": "DeadLetters"},
        StackOutputs.RESULTS_TABLE: {"Ref": "Results"},
    }
    return {
        "Resources": resources,
        "Outputs": {
            **{key: {"Value": value} for key, value in outputs.items()},
            StackOutputs.MODEL_POINTER_PARAMETER: {"Value": model_pointer_name(ENV)},
            StackOutputs.INDEX_SHARDS: {"Value": "8"},  # every query asks each shard
            **(
                {StackOutputs.STATE_MACHINE_ARN: {"Value": state_machine_arn}}
                if state_machine_arn
                else {}
            ),
        },
    }


@pytest.fixture()
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = MotoServer().start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        for name, value in DUMMY_CREDENTIALS.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        boto3.client("cloudformation").create_stack(
            StackName=stack_name(ENV), TemplateBody=json.dumps(stack_template())
        )
        yield server.endpoint_url
    finally:
        server.stop()


def test_a_deployed_environment_is_found_from_its_stack_outputs(
    deployed: str, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    from imgclf.deployment import resolve

    deployment = resolve(ENV)
    assert deployment.images_bucket == "dev-images"
    assert deployment.results_table == "dev-results"
    assert deployment.model_pointer_parameter == "/imgclf/dev/model"
    assert not deployment.is_local

    # And the commands work against it
    image = tmp_path / "cat.jpg"
    image.write_bytes(b"\xff\xd8 not really")
    assert cli("upload", str(image), "--env", ENV).code == 0
    listed = boto3.client("s3").list_objects_v2(Bucket="dev-images")["Contents"]
    assert [entry["Key"] for entry in listed] == ["cat.jpg"]
    run = cli("results", "--env", ENV, "--format", "json")
    assert run.code == 0 and json.loads(run.out) == []
    assert cli("dlq", "list", "--env", ENV).code == 0

    # And nothing promoted is a one-line error
    run = cli("reclassify", "--env", ENV)
    assert run.code == 1 and "no model is promoted in environment 'dev'" in run.err


def test_a_stack_that_is_not_deployed_is_a_one_line_error(
    deployed: str, cli: Callable[..., CliRun]
) -> None:
    run = cli("results", "--env", "prod")
    assert run.code == 1
    assert run.err.strip() == (
        "imgclf: error: environment 'prod' is not deployed: no stack imgclf-prod in "
        "eu-west-1 (deploy it with `cdk deploy`)"
    )


def test_a_stack_without_a_state_machine_cannot_train_in_the_cloud(
    deployed: str, cli: Callable[..., CliRun]
) -> None:
    run = cli("train", "--cloud", "--env", ENV)
    assert run.code == 1
    assert "has no TrainingStateMachineArn" in run.err
    assert os.environ["AWS_ENDPOINT_URL"] == deployed


def test_train_cloud_starts_the_state_machine(deployed: str, cli: Callable[..., CliRun]) -> None:
    # Given a stack whose outputs name a training state machine
    stepfunctions = boto3.client("stepfunctions")
    arn = stepfunctions.create_state_machine(
        name="imgclf-staging-training",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/training",
    )["stateMachineArn"]
    boto3.client("cloudformation").create_stack(
        StackName=stack_name("prod"), TemplateBody=json.dumps(stack_template(arn, prefix="prod"))
    )
    # When training is started in the cloud
    run = cli("train", "--cloud", "--env", "prod", "--version", "v9", "--epochs", "3", "--promote")
    # Then one execution runs with the version, the hyperparameters and the promote flag
    assert run.code == 0, run.err
    (execution,) = stepfunctions.list_executions(stateMachineArn=arn)["executions"]
    assert execution["name"] == "train-v9"
    described = stepfunctions.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {
        "version": "v9",
        "promote": True,
        "force": False,
        "hyperparameters": {"epochs": "3"},
    }


def test_force_without_promote_is_a_one_line_error(
    deployed: str, cli: Callable[..., CliRun]
) -> None:
    run = cli("train", "--cloud", "--env", ENV, "--force")
    assert run.code == 1
    assert run.err.strip() == "imgclf: error: --force only applies with --promote"


@pytest.fixture()
def training_stack(deployed: str) -> str:
    """Stack imgclf-prod with a training state machine and its models bucket; the machine."""
    arn: str = boto3.client("stepfunctions").create_state_machine(
        name="imgclf-prod-training",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/training",
    )["stateMachineArn"]
    boto3.client("cloudformation").create_stack(
        StackName=stack_name("prod"), TemplateBody=json.dumps(stack_template(arn, prefix="prod"))
    )
    s3 = boto3.client("s3")
    for label, count in {"cat": 5, "dog": 6}.items():
        for n in range(count):
            s3.put_object(Bucket="prod-models", Key=f"data/pets/{label}/{n}.jpg", Body=b"jpeg")
    for n in range(3):
        s3.put_object(Bucket="prod-models", Key=f"data/few/cat/{n}.jpg", Body=b"jpeg")
        s3.put_object(Bucket="prod-models", Key=f"data/few/dog/{n}.jpg", Body=b"jpeg")
    return arn


def test_train_cloud_trains_on_the_s3_data_dir_it_checked(
    training_stack: str, cli: Callable[..., CliRun]
) -> None:
    # When training starts in the cloud on a prefix per label under the models bucket's data/
    run = cli(
        "train", "--cloud", "--env", "prod", "--version", "v9",
        "--data-dir", "s3://prod-models/data/pets",
    )  # fmt: skip
    # Then the execution's data_uri is that prefix: the state machine's train channel
    assert run.code == 0, run.err
    stepfunctions = boto3.client("stepfunctions")
    (execution,) = stepfunctions.list_executions(stateMachineArn=training_stack)["executions"]
    described = stepfunctions.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"])["data_uri"] == "s3://prod-models/data/pets/"


@pytest.mark.parametrize(
    ("data_dir", "message"),
    [
        (
            "s3://prod-models/data/few/",
            "s3://prod-models/data/few/: every label needs at least 5 images: cat 3, dog 3",
        ),
        (
            "s3://prod-images/pets/",
            "the training job reads only s3://prod-models/data/; copy s3://prod-images/pets/ "
            "under it (aws s3 sync s3://prod-images/pets/ s3://prod-models/data/<name>/) and "
            "pass that as --data-dir",
        ),
        (
            "photos",
            "--cloud trains on S3: upload photos to s3://prod-models/data/<name>/ (a prefix "
            "per label) and pass that as --data-dir",
        ),
    ],
)
def test_train_cloud_refuses_data_the_job_cannot_train_on_in_one_line(
    training_stack: str, cli: Callable[..., CliRun], data_dir: str, message: str
) -> None:
    run = cli("train", "--cloud", "--env", "prod", "--data-dir", data_dir)
    # Then one line, and no execution started
    assert (run.code, run.err.strip()) == (1, f"imgclf: error: {message}")
    stepfunctions = boto3.client("stepfunctions")
    assert stepfunctions.list_executions(stateMachineArn=training_stack)["executions"] == []


def test_train_on_an_s3_prefix_checks_its_layout_before_training(
    training_stack: str, cli: Callable[..., CliRun]
) -> None:
    run = cli("train", "--env", "prod", "--data-dir", "s3://prod-models/data/few/cat/")
    assert (run.code, run.err.strip()) == (
        1,
        "imgclf: error: s3://prod-models/data/few/cat/ has no label prefixes; put each "
        "label's images under s3://prod-models/data/few/cat/<label>/",
    )
