"""Resource definitions shared by the CDK stack and the local environment.

Both build the results table, queue and notifications from these values, so the embedded
environment cannot drift from what `cdk deploy` creates. Pure Python, no CDK import.
"""

from __future__ import annotations

from typing import Any

from classifier.contracts import (
    EXPIRES_ATTRIBUTE,
    METRICS_NAMESPACE,
    RESULTS_INDEXES,
    SERVICE_NAME,
    TABLE_PARTITION_KEY,
    tag_names_text,
)
from infra.environment_config import EnvironmentConfig

# Event types the images bucket sends to the queue.
# ObjectRestore:Completed: an archived object (rejected as unreadable) can be read now.
NOTIFICATION_EVENTS = (
    "s3:ObjectCreated:*",
    "s3:ObjectRemoved:*",
    "s3:LifecycleExpiration:*",  # a lifecycle rule's expiry sends no ObjectRemoved
    "s3:ObjectRestore:Completed",
)


RESULTS_TABLE_INDEXES = tuple(RESULTS_INDEXES.values())
RESULTS_TABLE_KEY_ATTRIBUTES = (TABLE_PARTITION_KEY,) + tuple(
    sorted(
        {attr for index in RESULTS_TABLE_INDEXES for attr in (index.partition_key, index.sort_key)}
    )
)


def results_table_create_args(table_name: str) -> dict[str, Any]:
    """boto3 `create_table` arguments for the results table (the local environment)."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": TABLE_PARTITION_KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in RESULTS_TABLE_KEY_ATTRIBUTES
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": list(index.projection),
                },
            }
            for index in RESULTS_TABLE_INDEXES
        ],
    }


def results_table_ttl_args(table_name: str) -> dict[str, Any]:
    """boto3 `update_time_to_live` arguments: the markers removals leave expire
    (contracts.REMOVED_STATUS); the stack sets the same attribute."""
    return {
        "TableName": table_name,
        "TimeToLiveSpecification": {"Enabled": True, "AttributeName": EXPIRES_ATTRIBUTE},
    }


def function_environment(
    config: EnvironmentConfig, *, results_table: str, model_pointer_parameter: str
) -> dict[str, str]:
    """The function's environment variables (see classifier.settings.Settings)."""
    return {
        "RESULTS_TABLE": results_table,
        "MODEL_POINTER_PARAMETER": model_pointer_parameter,
        "TAGS": tag_names_text(config.tag_names),
        "RECORD_CONCURRENCY": str(config.record_concurrency),
        "INDEX_SHARDS": str(config.index_shards),
        "GENERIC_MIN_CONFIDENCE": str(config.generic_min_confidence),
        "MAX_LABELS": str(config.max_labels),
        "MAX_IMAGE_BYTES": str(config.max_image_bytes),
        "MAX_IMAGE_PIXELS": str(config.max_image_pixels),
        "POWERTOOLS_LOG_LEVEL": config.log_level,
        "POWERTOOLS_SERVICE_NAME": metrics_service(config.name),
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }


def metrics_service(env_name: str) -> str:
    """The function's POWERTOOLS_SERVICE_NAME, its metrics' `service` dimension, which the
    alarms and dashboard read: imgclf-<env>, so that two environments in one account and
    region keep their metrics and alarms apart."""
    return f"{SERVICE_NAME}-{env_name}"


def redrive_policy(dlq_arn: str, config: EnvironmentConfig) -> dict[str, Any]:
    """The queue's redrive policy: after max_receive_count receives a message goes to the DLQ."""
    return {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": config.max_receive_count}


# --- how the CLI finds a deployed environment --------------------------------------------
def stack_name(env_name: str) -> str:
    """The CloudFormation stack of an environment."""
    return f"imgclf-{env_name}"


class StackOutputs:
    """CloudFormation output keys the stack exports and the CLI reads."""

    IMAGES_BUCKET = "ImagesBucketName"
    MODELS_BUCKET = "ModelsBucketName"
    RESULTS_TABLE = "ResultsTableName"
    QUEUE_URL = "QueueUrl"
    DEAD_LETTER_QUEUE_URL = "DeadLetterQueueUrl"
    STATE_MACHINE_ARN = "TrainingStateMachineArn"
    MODEL_POINTER_PARAMETER = "ModelPointerParameterName"
    DASHBOARD_NAME = "DashboardName"
    FUNCTION_NAME = "ClassifierFunctionName"
    # How many write shards each index's partitions have (the function's INDEX_SHARDS): the
    # CLI asks every one of them.
    INDEX_SHARDS = "IndexShards"

    ALL = (
        IMAGES_BUCKET,
        MODELS_BUCKET,
        RESULTS_TABLE,
        QUEUE_URL,
        DEAD_LETTER_QUEUE_URL,
        STATE_MACHINE_ARN,
        MODEL_POINTER_PARAMETER,
        DASHBOARD_NAME,
        FUNCTION_NAME,
        INDEX_SHARDS,
    )
