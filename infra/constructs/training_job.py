"""The SageMaker training task: AWS's TensorFlow GPU container, managed spot, checkpoints,
and the role the job runs as.

`SageMakerCreateTrainingJob` has no properties for managed spot, MaxWaitTimeInSeconds or
CheckpointConfig, although the Step Functions integration passes them through to
CreateTrainingJob. `ManagedSpotTrainingJob` adds them, and takes the whole HyperParameters
map from the state input (so callers pass any hyperparameter train.py accepts).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, CfnMapping, Duration, Size, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from classifier.contracts import DATA_PREFIX, MODELS_PREFIX
from infra.environment_config import ConfigError

# AWS Deep Learning Containers: TensorFlow 2.21 training, GPU (CUDA 12.9), Python 3.12 (the
# training requirements pin numpy 2.4, which needs Python >= 3.11). Its TensorFlow minor must
# equal local training's tensorflow-cpu pin (tests/infra/test_training_versions.py).
TRAINING_IMAGE_REPOSITORY = "tensorflow-training"
TRAINING_IMAGE_TAG = "2.21.0-gpu-py312"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
TRAINING_CHANNEL = "train"  # SM_CHANNEL_TRAIN in the container
TRAINING_VOLUME = Size.gibibytes(50)
# The training job's checkpoints (spot resume), under its version in the models bucket.
CHECKPOINTS_PATTERN = f"{MODELS_PREFIX}*/checkpoints/*"

# The registry account that serves the Deep Learning Containers in each commercial region.
DLC_REGISTRY_ACCOUNTS = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-1": "763104351884",
    "ap-northeast-2": "763104351884",
    "ap-northeast-3": "364406365360",
    "ap-south-1": "763104351884",
    "ap-south-2": "772153158452",
    "ap-southeast-1": "763104351884",
    "ap-southeast-2": "763104351884",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ca-central-1": "763104351884",
    "eu-central-1": "763104351884",
    "eu-central-2": "380420809688",
    "eu-north-1": "763104351884",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "eu-west-1": "763104351884",
    "eu-west-2": "763104351884",
    "eu-west-3": "763104351884",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "sa-east-1": "763104351884",
    "us-east-1": "763104351884",
    "us-east-2": "763104351884",
    "us-west-1": "763104351884",
    "us-west-2": "763104351884",
}


def dlc_registry_account(scope: Construct) -> str:
    """The DLC registry account for the stack's region, resolved at deploy time.

    A CloudFormation mapping keeps synthesis free of lookups and works for
    environment-agnostic stacks (a region missing from the map fails the deploy by name);
    with a known region the account is resolved at synthesis, and a missing one fails it in
    one line.
    """
    region = Stack.of(scope).region
    if not Token.is_unresolved(region) and region not in DLC_REGISTRY_ACCOUNTS:
        raise ConfigError(
            f"region {region} has no SageMaker TensorFlow training image this stack knows "
            f"(infra/constructs/training_job.py, DLC_REGISTRY_ACCOUNTS): deploy to one of "
            f"{', '.join(sorted(DLC_REGISTRY_ACCOUNTS))}"
        )
    mapping = CfnMapping(
        Stack.of(scope),
        "TrainingImageRegistry",
        mapping={region: {"account": account} for region, account in DLC_REGISTRY_ACCOUNTS.items()},
        lazy=True,
    )
    return mapping.find_in_map(Stack.of(scope).region, "account")


def training_image_uri(scope: Construct, registry_account: str) -> str:
    """The training image in the stack's region (a literal once the region is known)."""
    stack = Stack.of(scope)
    return (
        f"{registry_account}.dkr.ecr.{stack.region}.{stack.url_suffix}/"
        f"{TRAINING_IMAGE_REPOSITORY}:{TRAINING_IMAGE_TAG}"
    )


def training_image_repository_arn(scope: Construct, registry_account: str) -> str:
    stack = Stack.of(scope)
    return (
        f"arn:{stack.partition}:ecr:{stack.region}:{registry_account}:"
        f"repository/{TRAINING_IMAGE_REPOSITORY}"
    )


class InputS3Location(tasks.S3Location):
    """An S3 URI taken from the state input, granting nothing.

    `S3Location.from_json_expression` grants s3:GetObject / s3:PutObject / s3:ListBucket on
    "*" to the training role, since it cannot know the bucket; the role's own statements
    scope it to the data and models prefixes instead.
    """

    def __init__(self, json_path: str) -> None:
        super().__init__()
        self._json_path = json_path

    def bind(
        self,
        task: tasks.ISageMakerTask,
        *_options: Any,  # jsii passes the options struct positionally
        for_reading: bool | None = None,
        for_writing: bool | None = None,
    ) -> tasks.S3LocationConfig:
        del task, for_reading, for_writing  # nothing to grant: see the class docstring
        return tasks.S3LocationConfig(uri=sfn.JsonPath.string_at(self._json_path))


class ManagedSpotTrainingJob(tasks.SageMakerCreateTrainingJob):
    """SageMakerCreateTrainingJob plus managed spot, checkpoints and input hyperparameters."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        use_spot: bool,
        max_wait_seconds: int,
        checkpoint_uri_path: str,
        hyperparameters_path: str,
        **props: Any,
    ) -> None:
        super().__init__(scope, id_, **props)
        self._use_spot = use_spot
        self._max_wait_seconds = max_wait_seconds
        self._checkpoint_uri_path = checkpoint_uri_path
        self._hyperparameters_path = hyperparameters_path

    def to_state_json(self, top_level_query_language: Any = None) -> Any:
        """The state as CDK renders it, with the CreateTrainingJob fields CDK lacks."""
        state = super().to_state_json(top_level_query_language)
        parameters = state["Parameters"]
        parameters.pop("HyperParameters", None)
        parameters["HyperParameters.$"] = self._hyperparameters_path
        # Checkpoints also let an on-demand job that hits MaxRuntime resume on a retry.
        parameters["CheckpointConfig"] = {
            "S3Uri.$": self._checkpoint_uri_path,
            "LocalPath": CHECKPOINT_LOCAL_PATH,
        }
        if self._use_spot:
            parameters["EnableManagedSpotTraining"] = True
            parameters["StoppingCondition"]["MaxWaitTimeInSeconds"] = self._max_wait_seconds
        return state


def training_logs_arn(scope: Construct) -> str:
    """The log group SageMaker writes one stream per training job into."""
    return Stack.of(scope).format_arn(
        service="logs",
        resource="log-group",
        resource_name="/aws/sagemaker/TrainingJobs:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def sagemaker_role(
    scope: Construct, bucket: s3.IBucket, registry_account: str, source: s3_assets.Asset
) -> iam.Role:
    """Reads the data prefix (and its own checkpoints), writes only the models prefix."""
    role = iam.Role(
        scope,
        "SageMakerRole",
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description="imgclf training jobs",
    )
    statements = [
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{DATA_PREFIX}*", f"{MODELS_PREFIX}*"]}},
        ),
        iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[
                bucket.arn_for_objects(f"{DATA_PREFIX}*"),
                bucket.arn_for_objects(CHECKPOINTS_PATTERN),  # resume after a spot stop
                source.bucket.arn_for_objects(source.s3_object_key),
            ],
        ),
        iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{MODELS_PREFIX}*")]
        ),
        iam.PolicyStatement(
            actions=[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            resources=[training_image_repository_arn(scope, registry_account)],
        ),
        # GetAuthorizationToken has no resource type: it can only be granted on "*".
        iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
        iam.PolicyStatement(
            actions=[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ],
            resources=[training_logs_arn(scope)],
        ),
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        ),
    ]
    for statement in statements:
        role.add_to_policy(statement)
    return role


def training_task(
    scope: Construct,
    role: iam.IRole,
    *,
    registry_account: str,
    instance_type: str,
    use_spot: bool,
    max_run_seconds: int,
    max_wait_seconds: int,
) -> ManagedSpotTrainingJob:
    return ManagedSpotTrainingJob(
        scope,
        "Train",
        use_spot=use_spot,
        max_wait_seconds=max_wait_seconds,
        checkpoint_uri_path="$.job.checkpoint_uri",
        hyperparameters_path="$.hyperparameters.merged",
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        training_job_name=sfn.JsonPath.string_at("$.job.name"),
        role=role,
        algorithm_specification=tasks.AlgorithmSpecification(
            training_image=tasks.DockerImage.from_registry(
                training_image_uri(scope, registry_account)
            ),
            training_input_mode=tasks.InputMode.FILE,
        ),
        input_data_config=[
            tasks.Channel(
                channel_name=TRAINING_CHANNEL,
                data_source=tasks.DataSource(
                    s3_data_source=tasks.S3DataSource(
                        s3_location=InputS3Location("$.args.data_uri"),
                        s3_data_type=tasks.S3DataType.S3_PREFIX,
                    )
                ),
            )
        ],
        output_data_config=tasks.OutputDataConfig(
            s3_output_location=InputS3Location("$.job.output_uri")
        ),
        resource_config=tasks.ResourceConfig(
            instance_count=1,
            instance_type=ec2.InstanceType(instance_type.removeprefix("ml.")),
            volume_size=TRAINING_VOLUME,
        ),
        stopping_condition=tasks.StoppingCondition(max_runtime=Duration.seconds(max_run_seconds)),
        result_selector={
            "artifact_uri.$": "$.ModelArtifacts.S3ModelArtifacts",
            "job_name.$": "$.TrainingJobName",
            "billable_seconds.$": "$.BillableTimeInSeconds",
        },
        result_path="$.training",
    )
