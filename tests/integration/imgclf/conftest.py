"""Shared fixtures of the CLI's integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from classifier.adapters import DynamoResults
from imgclf.deployment import Deployment
from infra.resources import StackOutputs, results_table_create_args

REGION = "us-east-1"


@pytest.fixture
def aws(fake_aws: str) -> Iterator[SimpleNamespace]:
    """A deployment on moto: the results table, the queue and DLQ, and the models bucket."""
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        dynamodb.create_table(**results_table_create_args("results"))
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="models")
        deployment = Deployment(
            env="test",
            outputs={
                StackOutputs.IMAGES_BUCKET: "images",
                StackOutputs.MODELS_BUCKET: "models",
                StackOutputs.RESULTS_TABLE: "results",
                StackOutputs.QUEUE_URL: queue,
                StackOutputs.DEAD_LETTER_QUEUE_URL: dlq,
                StackOutputs.MODEL_POINTER_PARAMETER: "/imgclf/test/model",
                StackOutputs.INDEX_SHARDS: "4",
            },
            region=REGION,
        )
        yield SimpleNamespace(
            deployment=deployment, results=DynamoResults(dynamodb, "results"), sqs=sqs, s3=s3
        )
