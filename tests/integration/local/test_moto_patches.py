"""The in-process moto server's patches live exactly as long as the server (patches.py)."""

from __future__ import annotations

import logging

import boto3
from moto.s3 import notifications
from moto.s3.responses import S3Response
from moto.sqs.models import Queue, SQSBackend

from infra.local.server import DUMMY_CREDENTIALS, LOCAL_REGION, MotoServer


def moto_as_is() -> tuple[object, ...]:
    """Some of what the server patches: moto's methods, a queue's count, S3's event builder."""
    return (
        vars(SQSBackend)["receive_message"],
        vars(SQSBackend)["get_queue_attributes"],
        vars(Queue)["approximate_number_of_messages"],
        vars(S3Response)["get_object"],
        vars(S3Response)["get_object_tagging"],
        notifications._get_s3_event,
        logging.getLogger("werkzeug").level,
    )


def test_a_stopped_server_leaves_moto_as_shipped() -> None:
    # Given moto as this process has it
    shipped = moto_as_is()

    # When an in-process server runs (patched: queue counts cached, receives serialized) and
    # serves a send, then stops
    with MotoServer() as server:
        assert moto_as_is()[0] is not shipped[0]
        sqs = boto3.session.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=LOCAL_REGION,
        ).client("sqs", endpoint_url=server.endpoint_url)
        sqs.send_message(QueueUrl=sqs.create_queue(QueueName="q")["QueueUrl"], MessageBody="a")

    # Then moto is as before (moto's mock_aws in a later test sees moto as shipped)
    assert moto_as_is() == shipped


def test_a_second_server_starts_patched_again() -> None:
    # Given a server that ran and stopped
    with MotoServer():
        pass

    # When another starts, then it is patched as the first was (no "installed once" state)
    with MotoServer():
        assert vars(SQSBackend)["receive_message"].__name__ == "serialized_receive"
    assert vars(SQSBackend)["receive_message"].__name__ == "receive_message"
