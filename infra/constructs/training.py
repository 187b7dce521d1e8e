"""Training: a Step Functions state machine that trains, gates, promotes and reclassifies.

`train`: SageMaker training job (managed spot, checkpoints under models/<version>/checkpoints/)
-> quality gate (model.json's verdict, read from the artifact by a small Lambda, then the
candidate against the live model on their shared evaluation sets; a failing gate fails the
execution) -> copy the artifact to models/<version>/model.tar.gz -> write the
model pointer (SSM) unless "promote" is false -> optionally reclassify.
`reclassify`: read the live version from the pointer -> reclassify.

Beside it: the execution input and its first states (training_input.py), the training job
task (training_job.py) and its source directory (training_source.py), the quality gate's
Lambda (quality_gate.py) and the reclassify Distributed Map (reclassify.py).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from classifier.contracts import (
    DATA_PREFIX,
    MODEL_VERSION_RULE,
    MODELS_PREFIX,
)
from infra.constructs.inference import parameter_arn
from infra.constructs.nag import (
    ANY_RESOURCE,
    arn_finding,
    default_policy,
    resource_finding,
    suppress,
)
from infra.constructs.quality_gate import ARTIFACT_PATTERN, TRAINING_OUTPUT_PATTERN, QualityGate
from infra.constructs.reclassify import ReclassifyMap
from infra.constructs.retention import log_retention
from infra.constructs.task_retry import TASK_RETRY
from infra.constructs.training_input import (
    ACTION_RECLASSIFY,
    ACTION_TRAIN,
    INVALID_VERSION,
    VERSION_CHOICE,
    InputStates,
    check_job_name_prefix,
    input_states,
    version_condition,
)
from infra.constructs.training_job import (
    CHECKPOINTS_PATTERN,
    ManagedSpotTrainingJob,
    dlc_registry_account,
    sagemaker_role,
    training_logs_arn,
    training_task,
)
from infra.constructs.training_source import training_source_asset

STATE_MACHINE_TIMEOUT = Duration.hours(24)


class TrainingConstruct(Construct):
    """The training state machine and its SageMaker role; the quality gate and the reclassify
    map are constructs of their own inside it."""

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
        log_removal_policy = RemovalPolicy.RETAIN if retain_logs else RemovalPolicy.DESTROY
        self.source_asset = training_source_asset(self, "SourceDir", repo_root=repo_root)
        registry_account = dlc_registry_account(self)
        self.sagemaker_role = sagemaker_role(
            self, models_bucket, registry_account, self.source_asset
        )
        self.gate_function = QualityGate(
            self,
            "Gate",
            code_directory=repo_root / "functions" / "gate",
            models_bucket=models_bucket,
            model_pointer_parameter=model_pointer_parameter,
            max_regression_pp=max_regression_pp,
            log_retention=log_retention(log_retention_days),
            log_removal_policy=log_removal_policy,
        ).function
        reclassify = ReclassifyMap(
            self,
            "ReclassifyMap",
            images_bucket=images_bucket,
            key_prefix=images_key_prefix,
            key_suffix=images_key_suffix,
            results_table=results_table,
            queue=queue,
        ).map
        inputs = input_states(
            self,
            models_bucket,
            job_name_prefix=job_name_prefix,
            source_url=self.source_asset.s3_object_url,
        )
        train = training_task(
            self,
            self.sagemaker_role,
            registry_account=registry_account,
            instance_type=instance_type,
            use_spot=use_spot,
            max_run_seconds=max_run_seconds,
            max_wait_seconds=max_wait_seconds,
        )
        definition = self._build_definition(
            inputs, train, reclassify, models_bucket=models_bucket, pointer=model_pointer_parameter
        )
        self.log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            retention=log_retention(log_retention_days),
            removal_policy=log_removal_policy,
        )
        self.state_machine = self._state_machine(definition)
        self._suppress_nag(models_bucket)

    def _state_machine(self, definition: sfn.IChainable) -> sfn.StateMachine:
        return sfn.StateMachine(
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

    def _build_definition(
        self,
        inputs: InputStates,
        train: ManagedSpotTrainingJob,
        reclassify: sfn.DistributedMap,
        *,
        models_bucket: s3.IBucket,
        pointer: str,
    ) -> sfn.IChainable:
        """ReadInput -> Action? -> train (version checked, job, gate, promotion) or
        reclassify (the live version from the pointer)."""
        reclassify.next(sfn.Succeed(self, "Reclassified"))
        training_path = (
            inputs.training.next(train)
            .next(self._gate_task())
            .next(self._promotion(models_bucket, pointer, reclassify))
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
        live_version = sfn.Pass(
            self,
            "ReclassifyLiveVersion",
            parameters={"version.$": "$.current.pointer.version"},
            result_path="$.reclassify",
        )
        action = (
            sfn.Choice(self, "Action?")
            .when(sfn.Condition.string_equals("$.args.action", ACTION_TRAIN), valid_version)
            .when(
                sfn.Condition.string_equals("$.args.action", ACTION_RECLASSIFY),
                self._read_pointer(pointer).next(live_version).next(reclassify),
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
        return inputs.start.next(action)

    def _gate_task(self) -> tasks.LambdaInvoke:
        return tasks.LambdaInvoke(
            self,
            "QualityGate",
            lambda_function=self.gate_function,
            payload=sfn.TaskInput.from_object(
                {
                    "artifact_uri": sfn.JsonPath.string_at("$.training.artifact_uri"),
                    "expected_version": sfn.JsonPath.string_at("$.args.version"),
                    "force": sfn.JsonPath.string_at("$.args.force"),
                    "promote": sfn.JsonPath.string_at("$.args.promote"),
                    # The pointer to write; the gate returns it with `previous`.
                    "pointer": sfn.JsonPath.object_at("$.job.pointer"),
                }
            ),
            payload_response_only=True,
            result_path="$.gate",
        )

    def _promotion(
        self, bucket: s3.IBucket, pointer: str, reclassify: sfn.DistributedMap
    ) -> sfn.Choice:
        """GatePassed? -> copy the artifact -> Promote? -> write the pointer -> reclassify?"""
        copy_artifact = self._copy_artifact(bucket)
        promote = self._promote(pointer)
        trained_version = sfn.Pass(
            self,
            "ReclassifyTrainedVersion",
            parameters={"version.$": "$.args.version"},
            result_path="$.reclassify",
        )
        after_promotion = (
            sfn.Choice(self, "ReclassifyAfterPromotion?")
            .when(
                sfn.Condition.boolean_equals("$.args.reclassify", True),
                trained_version.next(reclassify),
            )
            .otherwise(sfn.Succeed(self, "Promoted"))
        )
        return (
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

    def _copy_artifact(self, bucket: s3.IBucket) -> tasks.CallAwsService:
        """SageMaker's output -> models/<version>/model.tar.gz."""
        task = tasks.CallAwsService(
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
        task.add_retry(**TASK_RETRY)
        return task

    def _promote(self, pointer: str) -> tasks.CallAwsService:
        """Write the model pointer (SSM)."""
        task = tasks.CallAwsService(
            self,
            "PromoteModel",
            comment="Write the model pointer: the function picks the version up within 60 s",
            service="ssm",
            action="putParameter",
            iam_action="ssm:PutParameter",
            parameters={
                "Name": pointer,
                "Value": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.gate.pointer")),
                "Type": "String",
                "Overwrite": True,
            },
            iam_resources=[parameter_arn(self, pointer)],
            result_path=sfn.JsonPath.DISCARD,
        )
        task.add_retry(**TASK_RETRY)
        return task

    def _read_pointer(self, pointer: str) -> tasks.CallAwsService:
        """The live model pointer; no pointer fails the execution (NoModelPromoted)."""
        read_pointer = tasks.CallAwsService(
            self,
            "ReadModelPointer",
            service="ssm",
            action="getParameter",
            iam_action="ssm:GetParameter",
            parameters={"Name": pointer},
            iam_resources=[parameter_arn(self, pointer)],
            result_selector={"pointer.$": "States.StringToJson($.Parameter.Value)"},
            result_path="$.current",
        )
        read_pointer.add_retry(**TASK_RETRY)
        no_model = sfn.Fail(
            self,
            "NoModelPromoted",
            error="NoModelPromoted",
            cause=f"{pointer} does not exist: train or promote a model first",
        )
        read_pointer.add_catch(no_model, errors=["Ssm.ParameterNotFoundException"])
        return read_pointer

    def _suppress_nag(self, bucket: s3.IBucket) -> None:
        suppress(
            default_policy(self.sagemaker_role),
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
            resource_finding(self, training_logs_arn(self)),
        )
        # How CDK's DistributedMapPolicy names this machine's executions and map runs.
        executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=Fn.select(6, Fn.split(":", self.state_machine.state_machine_arn)),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        suppress(
            default_policy(self.state_machine.role),
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
