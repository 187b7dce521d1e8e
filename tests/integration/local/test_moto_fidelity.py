"""Where the patched in-process moto must answer as S3 does (infra/local/moto_fidelity.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra.local.server import DUMMY_CREDENTIALS, LOCAL_REGION, MotoServer


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    with MotoServer() as server:  # the in-process server patches moto while it runs
        yield boto3.session.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=LOCAL_REGION,
        ).client("s3", endpoint_url=server.endpoint_url)


def test_an_empty_tag_set_removes_every_tag(s3: Any) -> None:
    # Given an object with tags (as a rejection finds one an earlier result tagged)
    client = s3
    client.create_bucket(Bucket="images")
    client.put_object(Bucket="images", Key="a.jpg", Body=b"x", Tagging="imgclf:label=cat")

    # When the whole set is replaced by an empty one
    client.put_object_tagging(Bucket="images", Key="a.jpg", Tagging={"TagSet": []})

    # Then the object has no tags, and a non-empty set still works
    assert client.get_object_tagging(Bucket="images", Key="a.jpg")["TagSet"] == []
    client.put_object_tagging(
        Bucket="images", Key="a.jpg", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
    )
    assert client.get_object_tagging(Bucket="images", Key="a.jpg")["TagSet"] == [
        {"Key": "k", "Value": "v"}
    ]


def test_a_queues_counts_are_fresh_for_a_caller_who_asks(s3: Any) -> None:
    # Given the patched process (its internal reads of a queue's counts are cached 0.1 s)
    sqs = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=LOCAL_REGION,
    ).client("sqs", endpoint_url=s3.meta.endpoint_url)
    url = sqs.create_queue(QueueName="fresh")["QueueUrl"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

    def counts() -> tuple[int, int]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return int(attributes[names[0]]), int(attributes[names[1]])

    # When messages are sent and one received, with no pause, then GetQueueAttributes says so
    assert counts() == (0, 0)
    for body in ("a", "b", "c", "d"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    assert counts() == (4, 0)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    assert counts() == (3, 1)
