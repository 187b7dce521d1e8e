"""Reclassifying: a Distributed Map over the images bucket (S3 ListObjectsV2) whose batches of
keys go to Express child workflows. Each child reads a key's recorded status and
model_version from the results table and sends `reclassify_message(bucket, key, version)` to
the queue for objects never recorded or classified by another version (REJECTED items are skipped:
their reasons do not depend on the model). The function then classifies them like new
uploads. The training state machine runs the map after a promotion, or on its own
(`{"action": "reclassify"}`).
"""

from __future__ import annotations

import json

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from classifier.contracts import (
    STATUS_ATTRIBUTE,
    TABLE_PARTITION_KEY,
    Status,
    reclassify_message,
)
from infra.constructs.task_retry import TASK_RETRY

MODEL_VERSION_ATTRIBUTE = "model_version"
RECLASSIFY_BATCH_ITEMS = 250  # keys per Express child workflow (well under its 5 minutes)
RECLASSIFY_CHILD_CONCURRENCY = 20  # child workflows at once
RECLASSIFY_ITEM_CONCURRENCY = 10  # keys at once inside one child


def reclassify_message_fields(
    *, bucket_path: str, key_path: str, version_path: str
) -> dict[str, str]:
    """Pass-state parameters that build `reclassify_message(bucket, key, version)` from JSON
    paths.

    Derived from the contract itself, so the state machine cannot drift from the function.
    """
    paths = {
        "\x00bucket\x00": bucket_path,
        "\x00key\x00": key_path,
        "\x00version\x00": version_path,
    }
    template = json.loads(reclassify_message(*paths))
    fields: dict[str, str] = {}
    for name, value in template.items():
        if value in paths:
            fields[f"{name}.$"] = paths[value]
        else:
            fields[name] = value
    if set(template.values()) & set(paths) != set(paths):
        raise ValueError("reclassify_message no longer carries a bucket, a key and a version")
    return fields


class ReclassifyMap(Construct):
    """The Distributed Map (`map`), reading `$.reclassify.version` as the version to keep."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        images_bucket: s3.IBucket,
        key_prefix: str,
        key_suffix: str,
        results_table: dynamodb.ITable,
        queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id_)
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
        per_key.item_processor(self._per_key(results_table, queue, key_suffix))
        self.map = sfn.DistributedMap(
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
        self.map.item_processor(per_key)

    def _per_key(
        self, results_table: dynamodb.ITable, queue: sqs.IQueue, key_suffix: str
    ) -> sfn.IChainable:
        """One key: out of scope, already current, or re-enqueued."""
        up_to_date = sfn.Pass(self, "AlreadyCurrent")
        read_recorded = self._read_recorded(results_table)
        enqueue = self._enqueue(queue)
        recorded_status = f"$.recorded.Item.{STATUS_ATTRIBUTE}.S"
        recorded_version = f"$.recorded.Item.{MODEL_VERSION_ATTRIBUTE}.S"
        needs_reclassify = (
            sfn.Choice(self, "NeedsReclassify?")
            .when(sfn.Condition.is_not_present("$.recorded.Item"), enqueue)
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
            .otherwise(enqueue)
        )
        out_of_scope = [sfn.Condition.string_matches("$.key", "*/")]  # folder placeholders
        if key_suffix:
            out_of_scope.append(
                sfn.Condition.not_(sfn.Condition.string_matches("$.key", f"*{_escape(key_suffix)}"))
            )
        return (
            sfn.Choice(self, "InScope?")
            .when(sfn.Condition.or_(*out_of_scope), up_to_date)
            .otherwise(read_recorded.next(needs_reclassify))
        )

    def _read_recorded(self, results_table: dynamodb.ITable) -> tasks.DynamoGetItem:
        """The key's recorded status and model_version (GetItem by `<bucket>/<key>`)."""
        read = tasks.DynamoGetItem(
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
        read.add_retry(**TASK_RETRY)
        return read

    def _enqueue(self, queue: sqs.IQueue) -> sfn.Pass:
        """Build `reclassify_message(bucket, key, version)` and send it: the chain's first
        state."""
        build_message = sfn.Pass(
            self,
            "BuildReclassifyMessage",
            parameters={
                "message": reclassify_message_fields(
                    bucket_path="$.bucket", key_path="$.key", version_path="$.version"
                )
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
        enqueue.add_retry(**TASK_RETRY)
        build_message.next(enqueue)
        return build_message


def _escape(literal: str) -> str:
    """Escape a literal for a StringMatches pattern (`*` and `\\` are special)."""
    return literal.replace("\\", "\\\\").replace("*", "\\*")
