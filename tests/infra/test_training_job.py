"""ManagedSpotTrainingJob in a bare stack: what it adds to SageMakerCreateTrainingJob."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Duration, Size, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk.assertions import Template

from infra.constructs.training_job import InputS3Location, ManagedSpotTrainingJob


def _train_state(*, use_spot: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The rendered Train state and the role policy statements of a one-task machine."""
    stack = Stack(App(), "Bare")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    task = ManagedSpotTrainingJob(
        stack,
        "Train",
        use_spot=use_spot,
        max_wait_seconds=7200,
        checkpoint_uri_path="$.checkpoints",
        hyperparameters_path="$.hp",
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        training_job_name=sfn.JsonPath.string_at("$.name"),
        role=role,
        algorithm_specification=tasks.AlgorithmSpecification(
            training_image=tasks.DockerImage.from_registry("registry/image:tag")
        ),
        input_data_config=[
            tasks.Channel(
                channel_name="train",
                data_source=tasks.DataSource(
                    s3_data_source=tasks.S3DataSource(s3_location=InputS3Location("$.data"))
                ),
            )
        ],
        output_data_config=tasks.OutputDataConfig(s3_output_location=InputS3Location("$.out")),
        resource_config=tasks.ResourceConfig(
            instance_count=1,
            instance_type=ec2.InstanceType("g5.xlarge"),
            volume_size=Size.gibibytes(10),
        ),
        stopping_condition=tasks.StoppingCondition(max_runtime=Duration.seconds(3600)),
    )
    sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(task))
    data = Template.from_stack(stack).to_json()
    machine = next(
        r for r in data["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "<token>" for p in parts)
    statements = [
        statement
        for r in data["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    return json.loads(text)["States"]["Train"], statements


@pytest.fixture(scope="module")
def spot_state() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return _train_state(use_spot=True)


def test_spot_job_waits_for_capacity_and_checkpoints(spot_state: Any) -> None:
    state, _ = spot_state
    parameters = state["Parameters"]
    # Then spot is requested with a wait bound, and checkpoints go where the input says
    assert parameters["EnableManagedSpotTraining"] is True
    assert parameters["StoppingCondition"]["MaxWaitTimeInSeconds"] == 7200
    assert parameters["CheckpointConfig"] == {
        "S3Uri.$": "$.checkpoints",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert parameters["HyperParameters.$"] == "$.hp"


def test_on_demand_job_keeps_checkpoints_but_requests_no_spot() -> None:
    # Given spot turned off in the settings
    state, _ = _train_state(use_spot=False)
    parameters = state["Parameters"]
    # Then no spot flag and no wait bound (SageMaker rejects MaxWait without spot)
    assert "EnableManagedSpotTraining" not in parameters
    assert parameters["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert parameters["CheckpointConfig"]["S3Uri.$"] == "$.checkpoints"


def test_input_s3_locations_grant_nothing_on_star(spot_state: Any) -> None:
    state, statements = spot_state
    # Then the URIs come from the state input
    parameters = state["Parameters"]
    assert parameters["OutputDataConfig"] == {"S3OutputPath.$": "$.out"}
    source = parameters["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert source["S3Uri.$"] == "$.data"
    # And unlike S3Location.from_json_expression, no S3 action on "*" reaches any role
    s3_on_star = [
        s
        for s in statements
        if "*" in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        and any(
            str(a).startswith("s3:")
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        )
    ]
    assert s3_on_star == []
