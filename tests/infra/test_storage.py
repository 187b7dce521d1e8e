"""Storage: buckets, notifications, the queue and its DLQ, the results table."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Capture, Match

from classifier.contracts import (
    EXPIRES_ATTRIBUTE,
    GSI_KEYS,
    INDEX_PROJECTION,
    INDEX_SORT_KEY,
    LABEL_INDEX,
    LABEL_SHARD_ATTRIBUTE,
    SECOND_LABEL_INDEX,
    SECOND_LABEL_SHARD_ATTRIBUTE,
    TABLE_PARTITION_KEY,
)
from classifier.results import ORDER_ATTRIBUTE
from infra.resources import NOTIFICATION_EVENTS, RESULTS_TABLE_INDEXES, results_table_ttl_args

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def _bucket_ids(env: Any) -> list[str]:
    return list(env.resources("AWS::S3::Bucket"))


def test_every_bucket_blocks_public_access_and_is_encrypted(env: Any) -> None:
    # Given every bucket of the environment (images, models and, where kept, access logs)
    buckets = env.resources("AWS::S3::Bucket")
    assert len(buckets) == (3 if env.config.access_logs else 2)
    for logical_id, bucket in buckets.items():
        properties = bucket["Properties"]
        # Then no bucket can be made public and objects are encrypted at rest
        assert properties["PublicAccessBlockConfiguration"] == BLOCK_ALL, logical_id
        rule = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", logical_id
        # And ACLs are off: the bucket owner owns every object
        assert properties["OwnershipControls"]["Rules"] == [
            {"ObjectOwnership": "BucketOwnerEnforced"}
        ]


def test_every_bucket_denies_requests_without_tls(env: Any) -> None:
    # Given each bucket's policy
    for bucket_id in _bucket_ids(env):
        # Then plain-HTTP requests are denied (AWS's "SSL only" policy)
        env.template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": bucket_id},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Action": "s3:*",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )


def test_images_and_models_buckets_write_access_logs(prod: Any) -> None:
    # Given an environment with access logs, and its access-log bucket
    env = prod
    assert env.config.access_logs
    logs_id = env.logical_id("AWS::S3::Bucket", "AccessLogsBucket")
    for name, prefix in (("ImagesBucket", "images/"), ("ModelsBucket", "models/")):
        bucket_id = env.logical_id("AWS::S3::Bucket", name)
        # Then both data buckets log every request there, under their own prefix
        env.template.has_resource_properties(
            "AWS::S3::Bucket",
            {
                "LoggingConfiguration": {
                    "DestinationBucketName": {"Ref": logs_id},
                    "LogFilePrefix": prefix,
                }
            },
        )
        assert bucket_id != logs_id


def test_access_logs_expire_after_the_log_retention(prod: Any) -> None:
    # Then access logs do not pile up forever
    _, bucket = prod.only("AWS::S3::Bucket", id_contains="AccessLogsBucket")
    (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == prod.config.log_retention_days
    assert rule["Status"] == "Enabled"


def test_images_bucket_notifies_the_queue_of_created_and_removed_objects(env: Any) -> None:
    # Given the images bucket and the queue
    bucket_id = env.logical_id("AWS::S3::Bucket", "ImagesBucket")
    queue_arn = {"Fn::GetAtt": [env.logical_id("AWS::SQS::Queue", "StorageQueue"), "Arn"]}
    events = Capture()
    # Then the bucket's notifications go to the queue (not straight to the function)
    env.template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "BucketName": {"Ref": bucket_id},
            "NotificationConfiguration": {
                "QueueConfigurations": Match.array_with([{"Events": events, "QueueArn": queue_arn}])
            },
        },
    )
    # And exactly the shared event types: created and removed, nothing else
    _, notifications = env.only("Custom::S3BucketNotifications")
    configured = [
        event
        for entry in notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
        for event in entry["Events"]
    ]
    assert sorted(configured) == sorted(NOTIFICATION_EVENTS)
    assert events.as_array()[0] in NOTIFICATION_EVENTS


def test_notifications_have_no_key_filter_when_none_is_configured(env: Any) -> None:
    # Given settings without a key prefix or suffix
    assert not env.config.key_prefix and not env.config.key_suffix
    _, notifications = env.only("Custom::S3BucketNotifications")
    # Then every object of the bucket is classified
    for entry in notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]:
        assert "Filter" not in entry


def test_queue_visibility_is_at_least_six_function_timeouts(env: Any) -> None:
    # Given the function's timeout and the event source's batching window
    _, function = env.only("AWS::Lambda::Function", id_contains="InferenceFunction")
    timeout = function["Properties"]["Timeout"]
    _, mapping = env.only("AWS::Lambda::EventSourceMapping")
    window = mapping["Properties"].get("MaximumBatchingWindowInSeconds", 0)
    _, queue = env.only("AWS::SQS::Queue", id_contains="StorageQueue")
    # Then a message is never redelivered while a batch may still be running (AWS: >= 6x
    # the timeout, plus the window)
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout + window
    assert queue["Properties"]["VisibilityTimeout"] == env.config.queue_visibility_timeout_seconds


def test_queue_sends_poison_messages_to_the_dlq_after_max_receive_count(env: Any) -> None:
    # Given the DLQ
    dlq_id = env.logical_id("AWS::SQS::Queue", "DeadLetterQueue")
    # Then the queue's redrive policy targets it with the configured maxReceiveCount
    env.template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                "maxReceiveCount": env.config.max_receive_count,
            }
        },
    )


def test_queues_are_encrypted_and_deny_requests_without_tls(env: Any) -> None:
    for queue_id in env.resources("AWS::SQS::Queue"):
        # Then each queue is encrypted with SSE-SQS (which S3 can publish to)
        assert env.data["Resources"][queue_id]["Properties"]["SqsManagedSseEnabled"] is True
        # And its policy denies plain-HTTP access
        env.template.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [{"Ref": queue_id}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Action": "sqs:*",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )


def test_dlq_keeps_messages_for_fourteen_days(env: Any) -> None:
    # Then there are two weeks to notice the alarm and redrive
    env.template.has_resource_properties(
        "AWS::SQS::Queue",
        {"MessageRetentionPeriod": 14 * 24 * 3600, "RedrivePolicy": Match.absent()},
    )


def test_results_table_is_on_demand_encrypted_with_point_in_time_recovery(env: Any) -> None:
    # Then the table scales with traffic, is encrypted and can be restored to any second
    env.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "KeySchema": [{"AttributeName": TABLE_PARTITION_KEY, "KeyType": "HASH"}],
        },
    )


def test_results_table_expires_the_markers_removals_leave(env: Any) -> None:
    # Then the attribute a removal's marker carries is the table's TTL, as in the local table
    env.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {"TimeToLiveSpecification": {"AttributeName": EXPIRES_ATTRIBUTE, "Enabled": True}},
    )
    local = results_table_ttl_args("results")["TimeToLiveSpecification"]
    assert local == {"Enabled": True, "AttributeName": EXPIRES_ATTRIBUTE}


def test_results_table_has_the_design_query_paths(env: Any) -> None:
    # Given the GSIs of DESIGN.md (shared with the local environment)
    _, table = env.only("AWS::DynamoDB::Table")
    indexes = {index["IndexName"]: index for index in table["Properties"]["GlobalSecondaryIndexes"]}
    # Then "by label, newest first" (the rejects under their own value) and the sparse "by
    # second label" are the two indexes, with string keys, each partitioned by its
    # write-sharded attribute, never by the raw low-cardinality label (one hot partition per
    # label)
    assert set(indexes) == set(GSI_KEYS) == {index.name for index in RESULTS_TABLE_INDEXES}
    assert set(indexes) == {LABEL_INDEX, SECOND_LABEL_INDEX}
    sharded = {
        LABEL_INDEX: LABEL_SHARD_ATTRIBUTE,
        SECOND_LABEL_INDEX: SECOND_LABEL_SHARD_ATTRIBUTE,
    }
    for name, partition_key in sharded.items():
        assert indexes[name]["KeySchema"] == [
            {"AttributeName": partition_key, "KeyType": "HASH"},
            {"AttributeName": INDEX_SORT_KEY, "KeyType": "RANGE"},
        ]
        # And each projects only the listed attributes (INCLUDE), never ALL: the attributes
        # later updates set (event_order on a duplicate, tags) stay out of every index
        projection = indexes[name]["Projection"]
        assert projection["ProjectionType"] == "INCLUDE"
        assert projection["NonKeyAttributes"] == list(INDEX_PROJECTION)
        assert {ORDER_ATTRIBUTE, "tags", "top_k"}.isdisjoint(projection["NonKeyAttributes"])
    types = {
        d["AttributeName"]: d["AttributeType"] for d in table["Properties"]["AttributeDefinitions"]
    }
    assert set(types.values()) == {"S"}
    # And the raw label and status are no key of any index any more
    assert set(types) == {TABLE_PARTITION_KEY, INDEX_SORT_KEY, *sharded.values()}
