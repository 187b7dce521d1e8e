"""Inference: the classifier container function, its SQS event source and its grants."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from classifier.contracts import MODELS_PREFIX
from infra.constructs.nag import ANY_RESOURCE, arn_finding, suppress
from infra.constructs.retention import log_retention
from infra.constructs.roles import function_role

# Files in the image build context that never belong in the image (or its asset hash).
# Host builds of the native unfilter stay out: the Dockerfile builds it for the target.
IMAGE_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.mypy_cache", "**/.pytest_cache", "**/*.so"]

# The item-level actions the function's code calls (adapters.DynamoResults), and no others:
# no Query, Scan or DeleteItem, no batch or table-level operations.
TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
IMAGE_OBJECT_ACTIONS = ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging"]
# With versioning on, the function reads and tags the exact version an event names, and S3
# authorises a request that carries a VersionId with the *Version* twin of each action.
IMAGE_OBJECT_VERSION_ACTIONS = [
    "s3:GetObjectVersion",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectVersionTagging",
]


def parameter_arn(scope: Construct, parameter_name: str) -> str:
    """The ARN of an SSM parameter by name (the pointer is written by promotion, not CFN)."""
    return Stack.of(scope).format_arn(
        service="ssm", resource="parameter", resource_name=parameter_name.lstrip("/")
    )


class InferenceConstruct(Construct):
    """The container Lambda that classifies images, fed by the queue in batches."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        image_directory: Path,
        images_bucket: s3.IBucket,
        images_key_prefix: str,
        images_versioned: bool,
        models_bucket: s3.IBucket,
        results_table: dynamodb.ITable,
        queue: sqs.IQueue,
        model_pointer_parameter: str,
        environment: dict[str, str],
        architecture: Literal["arm64", "x86_64"],
        memory_mb: int,
        timeout_seconds: int,
        batch_size: int,
        batch_window_seconds: int,
        max_concurrency: int,
        log_retention_days: int,
        retain_logs: bool,
    ) -> None:
        super().__init__(scope, id_)
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=log_retention(log_retention_days),
            removal_policy=RemovalPolicy.RETAIN if retain_logs else RemovalPolicy.DESTROY,
        )
        self.role = self._build_role()
        self.function = self._build_function(
            image_directory=image_directory,
            environment=environment,
            architecture=architecture,
            memory_mb=memory_mb,
            timeout_seconds=timeout_seconds,
        )
        self._grant_least_privilege(
            images_bucket=images_bucket,
            images_key_prefix=images_key_prefix,
            images_versioned=images_versioned,
            models_bucket=models_bucket,
            results_table=results_table,
            model_pointer_parameter=model_pointer_parameter,
        )
        self.function.add_event_source(
            event_sources.SqsEventSource(
                queue,
                batch_size=batch_size,
                max_batching_window=(
                    Duration.seconds(batch_window_seconds) if batch_window_seconds else None
                ),
                report_batch_item_failures=True,
                max_concurrency=max_concurrency,
            )
        )
        self._suppress_nag(
            images_bucket=images_bucket,
            images_key_prefix=images_key_prefix,
            models_bucket=models_bucket,
        )

    def _build_role(self) -> iam.Role:
        return function_role(
            self, "Role", description="imgclf classifier function", log_group=self.log_group
        )

    def _build_function(
        self,
        *,
        image_directory: Path,
        environment: dict[str, str],
        architecture: Literal["arm64", "x86_64"],
        memory_mb: int,
        timeout_seconds: int,
    ) -> lambda_.DockerImageFunction:
        arm = architecture == "arm64"
        return lambda_.DockerImageFunction(
            self,
            "Function",
            description="imgclf: classify images from the queue with the int8 LiteRT model",
            code=lambda_.DockerImageCode.from_image_asset(
                str(image_directory),
                platform=(
                    ecr_assets.Platform.LINUX_ARM64 if arm else ecr_assets.Platform.LINUX_AMD64
                ),
                exclude=IMAGE_EXCLUDES,
            ),
            architecture=lambda_.Architecture.ARM_64 if arm else lambda_.Architecture.X86_64,
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_seconds),
            environment=environment,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            role=self.role,
        )

    def _grant_least_privilege(
        self,
        *,
        images_bucket: s3.IBucket,
        images_key_prefix: str,
        images_versioned: bool,
        models_bucket: s3.IBucket,
        results_table: dynamodb.ITable,
        model_pointer_parameter: str,
    ) -> None:
        # Explicit statements, not bucket.grant_read(): those add s3:GetObject*, s3:List*...
        object_actions = IMAGE_OBJECT_ACTIONS + (
            IMAGE_OBJECT_VERSION_ACTIONS if images_versioned else []
        )
        statements = [
            iam.PolicyStatement(
                actions=object_actions,
                resources=[images_bucket.arn_for_objects(f"{images_key_prefix}*")],
            ),
            # Without ListBucket, S3 answers a GET for a deleted key with 403 instead of 404:
            # the core acknowledges a gone object, but would retry a 403 into the DLQ.
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[images_bucket.bucket_arn]),
            iam.PolicyStatement(actions=TABLE_ACTIONS, resources=[results_table.table_arn]),
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[parameter_arn(self, model_pointer_parameter)],
            ),
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[models_bucket.arn_for_objects(f"{MODELS_PREFIX}*")],
            ),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)

    def _suppress_nag(
        self, *, images_bucket: s3.IBucket, images_key_prefix: str, models_bucket: s3.IBucket
    ) -> None:
        function = self.function.node.default_child
        assert function is not None
        suppress(
            function,
            "Serverless-LambdaDLQ",
            "Only the SQS event source mapping invokes this function (synchronously); a "
            "Lambda DLQ applies to asynchronous invokes. Failed messages reach the queue's "
            "own DLQ through its redrive policy.",
        )
        for mapping in self.function.node.find_all():
            if isinstance(mapping, lambda_.CfnEventSourceMapping):
                suppress(
                    mapping,
                    "Serverless-LambdaEventSourceMappingDestination",
                    "SQS event source mappings support no on-failure destination; the "
                    "queue's redrive policy moves a message to the DLQ after "
                    "maxReceiveCount receives.",
                )
        policy = self.role.node.find_child("DefaultPolicy").node.default_child
        assert policy is not None
        suppress(
            policy,
            "AwsSolutions-IAM5",
            "Object-level actions on the objects users upload, whose keys are not known in "
            "advance: s3:GetObject/GetObjectTagging/PutObjectTagging on the images bucket "
            "(no PutObject, no Delete), s3:GetObject on the models/ prefix only, and X-Ray's "
            "PutTraceSegments/PutTelemetryRecords, which support no resource-level scoping.",
            arn_finding(images_bucket, f"/{images_key_prefix}*"),
            arn_finding(models_bucket, f"/{MODELS_PREFIX}*"),
            ANY_RESOURCE,
        )
