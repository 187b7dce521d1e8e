"""The quality gate: a small Lambda the training state machine asks whether a candidate may be
promoted (model.json's own verdict, then the candidate against the live model on their shared
evaluation sets; functions/gate)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from classifier.contracts import MODELS_PREFIX, artifact_key
from infra.constructs.inference import parameter_arn
from infra.constructs.nag import ANY_RESOURCE, arn_finding, default_policy, suppress
from infra.constructs.roles import function_role

GATE_TIMEOUT = Duration.seconds(120)
GATE_MEMORY_MB = 512
GATE_RUNTIME = lambda_.Runtime.PYTHON_3_14
TRAINING_OUTPUT_PATTERN = f"{MODELS_PREFIX}*/training/*"  # SageMaker's job output
ARTIFACT_PATTERN = artifact_key("*")  # models/*/model.tar.gz, what the pointer names


class QualityGate(Construct):
    """gate.py, champion.py and recorded.py as a zip; reads the candidate, the pointer and the live
    model's model.json. `function` is what the state machine invokes."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        code_directory: Path,
        models_bucket: s3.IBucket,
        model_pointer_parameter: str,
        max_regression_pp: float,
        log_retention: logs.RetentionDays,
        log_removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        log_group = logs.LogGroup(
            self, "GateLogs", retention=log_retention, removal_policy=log_removal_policy
        )
        role = function_role(
            self, "GateRole", description="imgclf quality gate", log_group=log_group
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[
                    # The candidate, in SageMaker's output.
                    models_bucket.arn_for_objects(TRAINING_OUTPUT_PATTERN),
                    # The live model, which the pointer names: models/<version>/model.tar.gz.
                    models_bucket.arn_for_objects(ARTIFACT_PATTERN),
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[parameter_arn(self, model_pointer_parameter)],
            )
        )
        self.function = lambda_.Function(
            self,
            "GateFunction",
            description="imgclf: model.json's quality-gate verdict, then champion vs challenger",
            runtime=GATE_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="gate.handler",
            code=lambda_.Code.from_asset(str(code_directory), exclude=["__pycache__", "*.pyc"]),
            memory_size=GATE_MEMORY_MB,
            timeout=GATE_TIMEOUT,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            environment={
                "MODEL_POINTER_PARAMETER": model_pointer_parameter,
                "MAX_REGRESSION_PP": str(max_regression_pp),
            },
        )
        _suppress_nag(self.function, models_bucket)


def _suppress_nag(function: lambda_.Function, models_bucket: s3.IBucket) -> None:
    suppress(
        default_policy(function.role),
        "AwsSolutions-IAM5",
        "The gate reads model.tar.gz from SageMaker's output (models/<version>/training/"
        "<job>/output/), whose key is known only at run time, and the live model's "
        "models/<version>/model.tar.gz, whose version the pointer names at run time; "
        "X-Ray's PutTraceSegments/PutTelemetryRecords support no resource scoping.",
        arn_finding(models_bucket, f"/{TRAINING_OUTPUT_PATTERN}"),
        arn_finding(models_bucket, f"/{ARTIFACT_PATTERN}"),
        ANY_RESOURCE,
    )
    gate = function.node.default_child
    assert gate is not None
    suppress(
        gate,
        "Serverless-LambdaDLQ",
        "Only the state machine invokes the gate, synchronously, with retries; a failure "
        "fails the execution (alarmed). A Lambda DLQ applies to asynchronous invokes.",
    )
