"""The stack's resources, created on the moto server from infra.resources' shared definitions."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from classifier.contracts import DEFAULT_INDEX_SHARDS, model_pointer_name
from infra.environment_config import EnvironmentConfig
from infra.resources import (
    NOTIFICATION_EVENTS,
    StackOutputs,
    redrive_policy,
    results_table_create_args,
    results_table_ttl_args,
    stack_name,
)

# CloudFormation's limit on receive-message long polling; also SQS's.
MAX_SQS_BATCH = 10


@dataclass(frozen=True)
class LocalResources:
    """Names and addresses of the local resources, as the stack's outputs name them."""

    images_bucket: str
    models_bucket: str
    results_table: str
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    dead_letter_queue_arn: str
    model_pointer_parameter: str
    index_shards: int = DEFAULT_INDEX_SHARDS

    def stack_outputs(self) -> dict[str, str]:
        """The same keys a deployed stack's CloudFormation outputs have."""
        return {
            StackOutputs.IMAGES_BUCKET: self.images_bucket,
            StackOutputs.MODELS_BUCKET: self.models_bucket,
            StackOutputs.RESULTS_TABLE: self.results_table,
            StackOutputs.QUEUE_URL: self.queue_url,
            StackOutputs.DEAD_LETTER_QUEUE_URL: self.dead_letter_queue_url,
            StackOutputs.MODEL_POINTER_PARAMETER: self.model_pointer_parameter,
            StackOutputs.INDEX_SHARDS: str(self.index_shards),
        }

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def resource_names(env_name: str) -> dict[str, str]:
    """Physical names of the local resources; prefixed like the stack's."""
    prefix = stack_name(env_name)
    return {
        "images_bucket": f"{prefix}-images",
        "models_bucket": f"{prefix}-models",
        "results_table": f"{prefix}-results",
        "queue": f"{prefix}-queue",
        "dead_letter_queue": f"{prefix}-dlq",
        "model_pointer_parameter": model_pointer_name(env_name),
    }


def _queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def create_resources(
    clients: dict[str, Any],
    config: EnvironmentConfig,
    *,
    visibility_timeout_seconds: int | None = None,
) -> LocalResources:
    """Create buckets, queue + DLQ + redrive policy, notification and results table.

    `clients` maps "s3", "sqs", "dynamodb" to boto3 clients on the moto endpoint. The model
    pointer (an SSM parameter) is written by `model promote`, not here: until a model is
    promoted the function finds no pointer and retries, as in a fresh stack.
    """
    names = resource_names(config.name)
    s3, sqs, dynamodb = clients["s3"], clients["sqs"], clients["dynamodb"]

    for bucket in (names["images_bucket"], names["models_bucket"]):
        s3.create_bucket(Bucket=bucket)
        if config.bucket_versioning:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    dlq_url = sqs.create_queue(QueueName=names["dead_letter_queue"])["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    visibility = (
        config.queue_visibility_timeout_seconds
        if visibility_timeout_seconds is None
        else visibility_timeout_seconds
    )
    queue_url = sqs.create_queue(
        QueueName=names["queue"],
        Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps(redrive_policy(dlq_arn, config)),
        },
    )["QueueUrl"]
    queue_arn = _queue_arn(sqs, queue_url)

    filter_rules = [
        {"Name": name, "Value": value}
        for name, value in (("prefix", config.key_prefix), ("suffix", config.key_suffix))
        if value
    ]
    queue_configuration: dict[str, Any] = {
        "Id": "images-to-queue",
        "QueueArn": queue_arn,
        "Events": list(NOTIFICATION_EVENTS),
    }
    if filter_rules:
        queue_configuration["Filter"] = {"Key": {"FilterRules": filter_rules}}
    s3.put_bucket_notification_configuration(
        Bucket=names["images_bucket"],
        NotificationConfiguration={"QueueConfigurations": [queue_configuration]},
    )

    dynamodb.create_table(**results_table_create_args(names["results_table"]))
    dynamodb.update_time_to_live(**results_table_ttl_args(names["results_table"]))

    return LocalResources(
        images_bucket=names["images_bucket"],
        models_bucket=names["models_bucket"],
        results_table=names["results_table"],
        queue_url=queue_url,
        queue_arn=queue_arn,
        dead_letter_queue_url=dlq_url,
        dead_letter_queue_arn=dlq_arn,
        model_pointer_parameter=names["model_pointer_parameter"],
        index_shards=config.index_shards,
    )
