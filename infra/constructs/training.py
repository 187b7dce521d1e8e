"""Training: a Step Functions state machine that trains, gates, promotes and reclassifies.

Execution input (every field optional except `version` when training):

    {
      "action": "train",            # or "reclassify": skip training, re-enqueue objects whose
                                    #   recorded model_version differs from the live model's
      "version": "v20260101-1",     # train: the new model's version (contracts'
                                    #   MODEL_VERSION_RULE, checked first); names the job
                                    #   and models/<version>/model.tar.gz
      "data_uri": "s3://<models-bucket>/data/<set>/",  # train: the training channel
                                    #   (default: the whole data/ prefix)
      "hyperparameters": {"epochs": "10", "arch": "..."},  # train: strings, passed to
                                    #   train.py as --name value; version/sagemaker_* are ours
      "promote": true,              # train: write the pointer when the gate passes; false
                                    #   keeps models/<version>/model.tar.gz for `model promote`
      "force": false,               # train: promote even if the candidate is worse than the
                                    #   live model on a shared evaluation set
      "reclassify": false           # train: after promotion, re-enqueue older objects too
    }

Unknown fields are ignored. `imgclf train --cloud` sends {"version": ..., "promote": ...}.

`train`: SageMaker training job (managed spot, checkpoints under models/<version>/checkpoints/)
-> quality gate (model.json's verdict, read from the artifact by a small Lambda, then the
candidate against the live model on their shared evaluation sets; a failing gate fails the
execution) -> copy the artifact to models/<version>/model.tar.gz -> write the
model pointer (SSM) unless "promote" is false -> optionally reclassify.
`reclassify`: read the live version from the pointer -> reclassify.

Reclassify is a Distributed Map over the images bucket (S3 ListObjectsV2): batches of keys go
to Express child workflows, which read each key's recorded status and model_version from the
results table and send `reclassify_message(bucket, key)` to the queue for objects that were
never recorded or were classified by another version (REJECTED items are skipped: their
reasons do not depend on the model). The function then classifies them like new uploads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, Duration, Fn, RemovalPolicy, Size, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from classifier.contracts import (
    DATA_PREFIX,
    MODEL_VERSION_MAX_LENGTH,
    MODEL_VERSION_PATTERN,
    MODEL_VERSION_RULE,
    MODELS_PREFIX,
    STATUS_ATTRIBUTE,
    TABLE_PARTITION_KEY,
    Status,
    artifact_key,
    reclassify_message,
)
from infra.constructs.inference import parameter_arn
from infra.constructs.nag import ANY_RESOURCE, arn_finding, resource_finding, suppress
from infra.constructs.retention import log_retention
from infra.constructs.roles import function_role
from infra.constructs.training_job import (
    InputS3Location,
    ManagedSpotTrainingJob,
    dlc_registry_account,
    training_image_repository_arn,
    training_image_uri,
)
from infra.constructs.training_source import TRAINING_PROGRAM, training_source_asset

ACTION_TRAIN = "train"
VERSION_CHOICE = "ValidVersion?"
INVALID_VERSION = "InvalidVersion"
TRAINING_JOB_NAME_MAX_LENGTH = 63  # SageMaker: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
JOB_NAME_SUFFIX_LENGTH = 8  # the first group of a UUID
ACTION_RECLASSIFY = "reclassify"
TRAINING_CHANNEL = "train"  # SM_CHANNEL_TRAIN in the container
TRAINING_VOLUME = Size.gibibytes(50)
STATE_MACHINE_TIMEOUT = Duration.hours(24)
GATE_TIMEOUT = Duration.seconds(120)
GATE_MEMORY_MB = 512
GATE_RUNTIME = lambda_.Runtime.PYTHON_3_14
# Result attributes the reclassify step reads (DESIGN.md's results table), besides status.
MODEL_VERSION_ATTRIBUTE = "model_version"
RECLASSIFY_BATCH_ITEMS = 250  # keys per Express child workflow (well under its 5 minutes)
RECLASSIFY_CHILD_CONCURRENCY = 20  # child workflows at once
RECLASSIFY_ITEM_CONCURRENCY = 10  # keys at once inside one child
# Keys under these prefixes of the models bucket (see classifier.contracts):
TRAINING_OUTPUT_PATTERN = f"{MODELS_PREFIX}*/training/*"  # SageMaker's job output
CHECKPOINTS_PATTERN = f"{MODELS_PREFIX}*/checkpoints/*"
ARTIFACT_PATTERN = artifact_key("*")  # models/*/model.tar.gz, what the pointer names

DEFAULT_INPUT: dict[str, Any] = {
    "action": ACTION_TRAIN,
    "hyperparameters": {},
    "promote": True,
    "force": False,
    "reclassify": False,
}
_TASK_RETRY: dict[str, Any] = {
    "errors": [sfn.Errors.TASKS_FAILED],
    "interval": Duration.seconds(1),
    "max_attempts": 4,
    "backoff_rate": 2.0,
    "jitter_strategy": sfn.JitterType.FULL,
}


def version_condition(path: str) -> str:
    """A JSONata condition: the value at `path` is a string that can name a model version.

    The same rule as `classifier.contracts.model_version_problem`, in the state machine.
    """
    return (
        f"{{% $type({path}) = 'string' and $length({path}) <= {MODEL_VERSION_MAX_LENGTH} "
        f"and $contains({path}, /^(?:{MODEL_VERSION_PATTERN})$/) %}}"
    )


def check_job_name_prefix(prefix: str) -> str:
    """`prefix` if every job name PrepareTraining builds from it fits SageMaker's limit."""
    longest = len(prefix) + 1 + MODEL_VERSION_MAX_LENGTH + 1 + JOB_NAME_SUFFIX_LENGTH
    if longest > TRAINING_JOB_NAME_MAX_LENGTH:
        raise ValueError(
            f"training job names {prefix}-<version>-<suffix> could be {longest} characters "
            f"long (SageMaker allows {TRAINING_JOB_NAME_MAX_LENGTH}): shorten the prefix"
        )
    return prefix


def reclassify_message_fields(*, bucket_path: str, key_path: str) -> dict[str, str]:
    """Pass-state parameters that build `reclassify_message(bucket, key)` from JSON paths.

    Derived from the contract itself, so the state machine cannot drift from the function.
    """
    bucket_marker, key_marker = "\x00bucket\x00", "\x00key\x00"
    template = json.loads(reclassify_message(bucket_marker, key_marker))
    fields: dict[str, str] = {}
    for name, value in template.items():
        if value == bucket_marker:
            fields[f"{name}.$"] = bucket_path
        elif value == key_marker:
            fields[f"{name}.$"] = key_path
        else:
            fields[name] = value
    if set(template.values()) & {bucket_marker, key_marker} != {bucket_marker, key_marker}:
        raise ValueError("reclassify_message no longer carries both bucket and key")
    return fields


class TrainingConstruct(Construct):
    """The training state machine, its SageMaker role and its quality-gate function."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        repo_root: Path,
        job_name_prefix: str,
        models_bucket: s3.IBucket,
        images_bucket: s3.IBucket,
        images_key_prefix: str,
        images_key_suffix: str,
        results_table: dynamodb.ITable,
        queue: sqs.IQueue,
        model_pointer_parameter: str,
        instance_type: str,
        use_spot: bool,
        max_run_seconds: int,
        max_wait_seconds: int,
        max_regression_pp: float,
        log_retention_days: int,
        retain_logs: bool,
    ) -> None:
        check_job_name_prefix(job_name_prefix)
        super().__init__(scope, id_)
        self._models_bucket = models_bucket
        self._model_pointer_parameter = model_pointer_parameter
        self._log_removal_policy = RemovalPolicy.RETAIN if retain_logs else RemovalPolicy.DESTROY
        self._log_retention = log_retention(log_retention_days)
        self.source_asset = training_source_asset(self, "SourceDir", repo_root=repo_root)
        registry_account = dlc_registry_account(self)
        self.sagemaker_role = self._build_sagemaker_role(registry_account)
        self.gate_function = self._build_gate_function(
            repo_root / "functions" / "gate", max_regression_pp=max_regression_pp
        )

        prepare = self._build_input_states(job_name_prefix=job_name_prefix)
        train = self._build_training_task(
            registry_account=registry_account,
            instance_type=instance_type,
            use_spot=use_spot,
            max_run_seconds=max_run_seconds,
            max_wait_seconds=max_wait_seconds,
        )
        reclassify = self._build_reclassify_map(
            images_bucket=images_bucket,
            key_prefix=images_key_prefix,
            key_suffix=images_key_suffix,
            results_table=results_table,
            queue=queue,
        )
        definition = self._build_definition(prepare=prepare, train=train, reclassify=reclassify)
        self.log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            retention=self._log_retention,
            removal_policy=self._log_removal_policy,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="imgclf: train -> quality gate -> promote -> reclassify",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=STATE_MACHINE_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        self._suppress_nag()

    def _build_sagemaker_role(self, registry_account: str) -> iam.Role:
        """Reads the data prefix (and its own checkpoints), writes only the models prefix."""
        role = iam.Role(
            self,
            "SageMakerRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="imgclf training jobs",
        )
        # SageMaker writes one log stream per job into this log group.
        self._training_logs_arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/TrainingJobs:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        bucket = self._models_bucket
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
                    self.source_asset.bucket.arn_for_objects(self.source_asset.s3_object_key),
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
                resources=[training_image_repository_arn(self, registry_account)],
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
                resources=[self._training_logs_arn],
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

    def _build_gate_function(
        self, code_directory: Path, *, max_regression_pp: float
    ) -> lambda_.Function:
        """gate.py and champion.py as a zip; reads the candidate, the pointer and the live
        model's model.json."""
        log_group = logs.LogGroup(
            self,
            "GateLogs",
            retention=self._log_retention,
            removal_policy=self._log_removal_policy,
        )
        role = function_role(
            self, "GateRole", description="imgclf quality gate", log_group=log_group
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[
                    # The candidate, in SageMaker's output.
                    self._models_bucket.arn_for_objects(TRAINING_OUTPUT_PATTERN),
                    # The live model, which the pointer names: models/<version>/model.tar.gz.
                    self._models_bucket.arn_for_objects(ARTIFACT_PATTERN),
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[parameter_arn(self, self._model_pointer_parameter)],
            )
        )
        return lambda_.Function(
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
                "MODEL_POINTER_PARAMETER": self._model_pointer_parameter,
                "MAX_REGRESSION_PP": str(max_regression_pp),
            },
        )

    def _build_input_states(self, *, job_name_prefix: str) -> sfn.Pass:
        """Defaults merged under the execution input; then the training job's derived names."""
        bucket = self._models_bucket.bucket_name
        self._defaults = sfn.Pass(
            self,
            "ApplyDefaults",
            comment="Defaults for every optional input field",
            result=sfn.Result.from_object(
                {**DEFAULT_INPUT, "data_uri": f"s3://{bucket}/{DATA_PREFIX}"}
            ),
            result_path="$.defaults",
        )
        self._read_input = sfn.Pass(
            self,
            "ReadInput",
            parameters={"args.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)"},
        )
        self._prepare_training = sfn.Pass(
            self,
            "PrepareTraining",
            comment="Job name, output, checkpoint and artifact locations of this version",
            parameters={
                # A short random suffix (a UUID's first group): a retried version gets a fresh
                # job name.
                "name.$": (
                    f"States.Format('{job_name_prefix}-{{}}-{{}}', $.args.version, "
                    "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 0))"
                ),
                "output_uri.$": f"States.Format('s3://{bucket}/{MODELS_PREFIX}{{}}/training/', "
                "$.args.version)",
                "checkpoint_uri.$": f"States.Format('s3://{bucket}/{MODELS_PREFIX}{{}}/checkpoints/'"
                ", $.args.version)",
                "artifact_key.$": f"States.Format('{artifact_key('{}')}', $.args.version)",
                "pointer": {
                    "uri.$": f"States.Format('s3://{bucket}/{artifact_key('{}')}', $.args.version)",
                    "version.$": "$.args.version",
                },
                "fixed_hyperparameters": {
                    "version.$": "$.args.version",
                    "sagemaker_program": TRAINING_PROGRAM,
                    "sagemaker_submit_directory": self.source_asset.s3_object_url,
                    "sagemaker_region": Stack.of(self).region,
                    "sagemaker_container_log_level": "20",
                },
            },
            result_path="$.job",
        )
        self._merge_hyperparameters = sfn.Pass(
            self,
            "MergeHyperparameters",
            comment="The caller's hyperparameters; version and sagemaker_* are always ours",
            parameters={
                "merged.$": "States.JsonMerge($.args.hyperparameters, "
                "$.job.fixed_hyperparameters, false)"
            },
            result_path="$.hyperparameters",
        )
        return self._defaults

    def _build_training_task(
        self,
        *,
        registry_account: str,
        instance_type: str,
        use_spot: bool,
        max_run_seconds: int,
        max_wait_seconds: int,
    ) -> ManagedSpotTrainingJob:
        return ManagedSpotTrainingJob(
            self,
            "Train",
            use_spot=use_spot,
            max_wait_seconds=max_wait_seconds,
            checkpoint_uri_path="$.job.checkpoint_uri",
            hyperparameters_path="$.hyperparameters.merged",
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            training_job_name=sfn.JsonPath.string_at("$.job.name"),
            role=self.sagemaker_role,
            algorithm_specification=tasks.AlgorithmSpecification(
                training_image=tasks.DockerImage.from_registry(
                    training_image_uri(self, registry_account)
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
            stopping_condition=tasks.StoppingCondition(
                max_runtime=Duration.seconds(max_run_seconds)
            ),
            result_selector={
                "artifact_uri.$": "$.ModelArtifacts.S3ModelArtifacts",
                "job_name.$": "$.TrainingJobName",
                "billable_seconds.$": "$.BillableTimeInSeconds",
            },
            result_path="$.training",
        )

    def _build_definition(
        self, *, prepare: sfn.Pass, train: ManagedSpotTrainingJob, reclassify: sfn.DistributedMap
    ) -> sfn.IChainable:
        bucket = self._models_bucket
        pointer_arn = parameter_arn(self, self._model_pointer_parameter)
        gate = tasks.LambdaInvoke(
            self,
            "QualityGate",
            lambda_function=self.gate_function,
            payload=sfn.TaskInput.from_object(
                {
                    "artifact_uri": sfn.JsonPath.string_at("$.training.artifact_uri"),
                    "expected_version": sfn.JsonPath.string_at("$.args.version"),
                    "force": sfn.JsonPath.string_at("$.args.force"),
                    "promote": sfn.JsonPath.string_at("$.args.promote"),
                }
            ),
            payload_response_only=True,
            result_path="$.gate",
        )
        copy_artifact = tasks.CallAwsService(
            self,
            "CopyArtifact",
            comment="SageMaker's output -> models/<version>/model.tar.gz, the contract's key",
            service="s3",
            action="copyObject",
            parameters={
                "Bucket": bucket.bucket_name,
                "Key": sfn.JsonPath.string_at("$.job.artifact_key"),
                "CopySource": sfn.JsonPath.format(
                    "{}/{}",
                    sfn.JsonPath.string_at("$.gate.bucket"),
                    sfn.JsonPath.string_at("$.gate.key"),
                ),
                # No tags copied, so no tagging permissions needed.
                "TaggingDirective": "REPLACE",
            },
            iam_action="s3:PutObject",
            iam_resources=[bucket.arn_for_objects(ARTIFACT_PATTERN)],
            additional_iam_statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(TRAINING_OUTPUT_PATTERN)],
                )
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        promote = tasks.CallAwsService(
            self,
            "PromoteModel",
            comment="Write the model pointer: the function picks the version up within 60 s",
            service="ssm",
            action="putParameter",
            iam_action="ssm:PutParameter",
            parameters={
                "Name": self._model_pointer_parameter,
                "Value": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.job.pointer")),
                "Type": "String",
                "Overwrite": True,
            },
            iam_resources=[pointer_arn],
            result_path=sfn.JsonPath.DISCARD,
        )
        read_pointer = tasks.CallAwsService(
            self,
            "ReadModelPointer",
            service="ssm",
            action="getParameter",
            iam_action="ssm:GetParameter",
            parameters={"Name": self._model_pointer_parameter},
            iam_resources=[pointer_arn],
            result_selector={"pointer.$": "States.StringToJson($.Parameter.Value)"},
            result_path="$.current",
        )
        for task in (copy_artifact, promote, read_pointer):
            task.add_retry(**_TASK_RETRY)
        no_model = sfn.Fail(
            self,
            "NoModelPromoted",
            error="NoModelPromoted",
            cause=f"{self._model_pointer_parameter} does not exist: train or promote a model first",
        )
        read_pointer.add_catch(no_model, errors=["Ssm.ParameterNotFoundException"])

        set_trained_version = sfn.Pass(
            self,
            "ReclassifyTrainedVersion",
            parameters={"version.$": "$.args.version"},
            result_path="$.reclassify",
        )
        set_live_version = sfn.Pass(
            self,
            "ReclassifyLiveVersion",
            parameters={"version.$": "$.current.pointer.version"},
            result_path="$.reclassify",
        )
        reclassify.next(sfn.Succeed(self, "Reclassified"))
        set_trained_version.next(reclassify)

        after_promotion = (
            sfn.Choice(self, "ReclassifyAfterPromotion?")
            .when(sfn.Condition.boolean_equals("$.args.reclassify", True), set_trained_version)
            .otherwise(sfn.Succeed(self, "Promoted"))
        )
        gate_choice = (
            sfn.Choice(self, "GatePassed?")
            .when(
                sfn.Condition.boolean_equals("$.gate.passed", True),
                copy_artifact.next(
                    sfn.Choice(self, "Promote?")
                    .when(
                        sfn.Condition.boolean_equals("$.args.promote", True),
                        promote.next(after_promotion),
                    )
                    .otherwise(sfn.Succeed(self, "TrainedNotPromoted"))
                ),
            )
            .otherwise(
                sfn.Fail(
                    self,
                    "QualityGateFailed",
                    error="QualityGateFailed",
                    cause_path="$.gate.reason",
                )
            )
        )
        training_path = (
            self._prepare_training.next(self._merge_hyperparameters)
            .next(train)
            .next(gate)
            .next(gate_choice)
        )
        # JSONata (this state only): JSONPath conditions cannot match a regex or a length.
        valid_version = (
            sfn.Choice.jsonata(
                self,
                VERSION_CHOICE,
                comment="The version names the job, the hyperparameter and models/<version>/",
            )
            .when(
                sfn.Condition.jsonata(version_condition("$states.input.args.version")),
                training_path,
            )
            .otherwise(
                sfn.Fail(
                    self,
                    INVALID_VERSION,
                    error=INVALID_VERSION,
                    cause=f'training needs "version" in the execution input: {MODEL_VERSION_RULE}',
                )
            )
        )
        action = (
            sfn.Choice(self, "Action?")
            .when(sfn.Condition.string_equals("$.args.action", ACTION_TRAIN), valid_version)
            .when(
                sfn.Condition.string_equals("$.args.action", ACTION_RECLASSIFY),
                read_pointer.next(set_live_version).next(reclassify),
            )
            .otherwise(
                sfn.Fail(
                    self,
                    "UnknownAction",
                    error="UnknownAction",
                    cause=f'"action" must be "{ACTION_TRAIN}" or "{ACTION_RECLASSIFY}"',
                )
            )
        )
        return prepare.next(self._read_input).next(action)

    def _build_reclassify_map(
        self,
        *,
        images_bucket: s3.IBucket,
        key_prefix: str,
        key_suffix: str,
        results_table: dynamodb.ITable,
        queue: sqs.IQueue,
    ) -> sfn.DistributedMap:
        """Fan out over the bucket listing; each child checks and re-enqueues its keys."""
        read_recorded = tasks.DynamoGetItem(
            self,
            "ReadRecordedVersion",
            table=results_table,
            key={
                TABLE_PARTITION_KEY: tasks.DynamoAttributeValue.from_string(
                    sfn.JsonPath.format(
                        "{}/{}", sfn.JsonPath.string_at("$.bucket"), sfn.JsonPath.string_at("$.key")
                    )
                )
            },
            expression_attribute_names={
                "#status": STATUS_ATTRIBUTE,
                "#version": MODEL_VERSION_ATTRIBUTE,
            },
            projection_expression=[
                tasks.DynamoProjectionExpression().with_attribute("#status"),
                tasks.DynamoProjectionExpression().with_attribute("#version"),
            ],
            result_path="$.recorded",
        )
        build_message = sfn.Pass(
            self,
            "BuildReclassifyMessage",
            parameters={
                "message": reclassify_message_fields(bucket_path="$.bucket", key_path="$.key")
            },
        )
        enqueue = tasks.SqsSendMessage(
            self,
            "EnqueueReclassify",
            queue=queue,
            message_body=sfn.TaskInput.from_text(
                sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.message"))
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        for task in (read_recorded, enqueue):
            task.add_retry(**_TASK_RETRY)
        up_to_date = sfn.Pass(self, "AlreadyCurrent")
        recorded_status = f"$.recorded.Item.{STATUS_ATTRIBUTE}.S"
        recorded_version = f"$.recorded.Item.{MODEL_VERSION_ATTRIBUTE}.S"
        needs_reclassify = (
            sfn.Choice(self, "NeedsReclassify?")
            .when(
                sfn.Condition.is_not_present("$.recorded.Item"),
                build_message,
            )
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present(recorded_status),
                    sfn.Condition.string_equals(recorded_status, Status.REJECTED.value),
                ),
                up_to_date,
            )
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present(recorded_version),
                    sfn.Condition.string_equals_json_path(recorded_version, "$.version"),
                ),
                up_to_date,
            )
            .otherwise(build_message)
        )
        build_message.next(enqueue)
        out_of_scope = [sfn.Condition.string_matches("$.key", "*/")]  # folder placeholders
        if key_suffix:
            out_of_scope.append(
                sfn.Condition.not_(sfn.Condition.string_matches("$.key", f"*{_escape(key_suffix)}"))
            )
        in_scope = (
            sfn.Choice(self, "InScope?")
            .when(sfn.Condition.or_(*out_of_scope), up_to_date)
            .otherwise(read_recorded.next(needs_reclassify))
        )
        per_key = sfn.Map(
            self,
            "ReclassifyBatch",
            items_path="$.Items",
            item_selector={
                "bucket.$": "$.BatchInput.bucket",
                "version.$": "$.BatchInput.version",
                "key.$": "$$.Map.Item.Value.key",
            },
            max_concurrency=RECLASSIFY_ITEM_CONCURRENCY,
            result_path=sfn.JsonPath.DISCARD,
            output_path=sfn.JsonPath.DISCARD,
        )
        per_key.item_processor(in_scope)
        reclassify = sfn.DistributedMap(
            self,
            "Reclassify",
            comment="Every object of the images bucket, in batches, on Express child workflows",
            item_reader=sfn.S3ObjectsItemReader(bucket=images_bucket, prefix=key_prefix or None),
            item_selector={"key.$": "$$.Map.Item.Value.Key"},
            item_batcher=sfn.ItemBatcher(
                max_items_per_batch=RECLASSIFY_BATCH_ITEMS,
                batch_input={
                    "bucket": images_bucket.bucket_name,
                    "version.$": "$.reclassify.version",
                },
            ),
            max_concurrency=RECLASSIFY_CHILD_CONCURRENCY,
            map_execution_type=sfn.StateMachineType.EXPRESS,
            label="Reclassify",
            result_path=sfn.JsonPath.DISCARD,
        )
        reclassify.item_processor(per_key)
        return reclassify

    def _suppress_nag(self) -> None:
        bucket = self._models_bucket
        suppress(
            _default_policy(self.sagemaker_role),
            "AwsSolutions-IAM5",
            "Training reads data/* (the data set's keys are the caller's) and its own "
            "models/*/checkpoints/* (spot resume), and writes under models/* (the job output, "
            "keyed by version and job name, and the checkpoints). ecr:GetAuthorizationToken "
            "and cloudwatch:PutMetricData (namespace-conditioned) support no resource scoping; "
            "SageMaker names a log stream per job inside /aws/sagemaker/TrainingJobs.",
            arn_finding(bucket, f"/{DATA_PREFIX}*"),
            arn_finding(bucket, f"/{CHECKPOINTS_PATTERN}"),
            arn_finding(bucket, f"/{MODELS_PREFIX}*"),
            ANY_RESOURCE,
            resource_finding(self, self._training_logs_arn),
        )
        suppress(
            _default_policy(self.gate_function.role),
            "AwsSolutions-IAM5",
            "The gate reads model.tar.gz from SageMaker's output (models/<version>/training/"
            "<job>/output/), whose key is known only at run time, and the live model's "
            "models/<version>/model.tar.gz, whose version the pointer names at run time; "
            "X-Ray's PutTraceSegments/PutTelemetryRecords support no resource scoping.",
            arn_finding(bucket, f"/{TRAINING_OUTPUT_PATTERN}"),
            arn_finding(bucket, f"/{ARTIFACT_PATTERN}"),
            ANY_RESOURCE,
        )
        gate = self.gate_function.node.default_child
        assert gate is not None
        suppress(
            gate,
            "Serverless-LambdaDLQ",
            "Only the state machine invokes the gate, synchronously, with retries; a failure "
            "fails the execution (alarmed). A Lambda DLQ applies to asynchronous invokes.",
        )
        # How CDK's DistributedMapPolicy names this machine's executions and map runs.
        executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=Fn.select(6, Fn.split(":", self.state_machine.state_machine_arn)),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        suppress(
            _default_policy(self.state_machine.role),
            "AwsSolutions-IAM5",
            "Training job names are generated per execution (version + random suffix); "
            "LambdaInvoke grants the gate's versions and aliases; promotion copies SageMaker's "
            "output (models/*/training/*) to models/<version>/model.tar.gz. Log delivery, "
            "X-Ray and sagemaker:ListTags support no resource scoping.",
            resource_finding(
                self,
                Stack.of(self).format_arn(
                    service="sagemaker", resource="training-job", resource_name="*"
                ),
            ),
            f"{arn_finding(self.gate_function)}:*",
            arn_finding(bucket, f"/{ARTIFACT_PATTERN}"),
            arn_finding(bucket, f"/{TRAINING_OUTPUT_PATTERN}"),
            ANY_RESOURCE,
        )
        suppress(
            self.state_machine.node.find_child("DistributedMapPolicy").node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "The Distributed Map describes, stops and redrives the map runs and child "
            "executions of this state machine, whose IDs exist only at run time.",
            resource_finding(self, f"{executions}:*"),
            resource_finding(self, f"{executions}/Reclassify:*"),
        )


def _escape(literal: str) -> str:
    """Escape a literal for a StringMatches pattern (`*` and `\\` are special)."""
    return literal.replace("\\", "\\\\").replace("*", "\\*")


def _default_policy(role: iam.IRole | None) -> Any:
    assert role is not None
    policy = role.node.find_child("DefaultPolicy").node.default_child
    assert policy is not None
    return policy
