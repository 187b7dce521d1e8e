"""The local environment on a real moto server, with a fake handler: resources and ESM semantics."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from classifier.contracts import LABEL_INDEX, SECOND_LABEL_INDEX
from infra.environment_config import load_environment
from infra.local.environment import HandlerBinding, LocalEnvironment, wait_for
from infra.local.faults import DeliveryFaults, FaultPlan, WorkerCrash
from infra.local.server import LocalServerError
from infra.local.state import read_state, state_path
from infra.resources import NOTIFICATION_EVENTS, StackOutputs

VISIBILITY_SECONDS = 2  # the delete must beat it even on a loaded machine


class RecordingHandler:
    """A stand-in function: records every event, fails records whose body says so."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self.raise_next = False
        self.environments = 0  # execution environments the poller made of it
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._lock:
            self.events.append(event)
            self.contexts.append(context)
            if self.raise_next:
                self.raise_next = False
                raise RuntimeError("boom")
        failures = [
            {"itemIdentifier": record["messageId"]}
            for record in event["Records"]
            if "poison" in record["body"]
        ]
        return {"batchItemFailures": failures}

    def new_environment(self) -> RecordingHandler:
        with self._lock:
            self.environments += 1
        return self

    def bodies(self) -> list[str]:
        with self._lock:
            return [record["body"] for event in self.events for record in event["Records"]]


@pytest.fixture()
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture()
def env(handler: RecordingHandler, tmp_path: Path) -> Iterator[LocalEnvironment]:
    environment = LocalEnvironment(
        workers=2,
        visibility_timeout_seconds=VISIBILITY_SECONDS,
        handler=HandlerBinding(handler.new_environment),
        home=tmp_path,
    )
    with environment:
        # S3 sends a TestEvent when the notification is configured; let it pass first.
        assert wait_for(lambda: any("s3:TestEvent" in body for body in handler.bodies()), 10)
        yield environment


def s3_records(handler: RecordingHandler) -> list[dict[str, Any]]:
    records = []
    for body in handler.bodies():
        records.extend(json.loads(body).get("Records", []))
    return records


def dlq_bodies(env: LocalEnvironment) -> list[str]:
    sqs = env.client("sqs")
    assert env.resources is not None
    response = sqs.receive_message(
        QueueUrl=env.resources.dead_letter_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [message["Body"] for message in response.get("Messages", [])]


def test_creates_the_stack_resources_from_the_shared_definitions(env: LocalEnvironment) -> None:
    # Given a running environment
    assert env.resources is not None
    s3, sqs, dynamodb = env.client("s3"), env.client("sqs"), env.client("dynamodb")
    # Then the images bucket notifies the queue of created and removed objects
    notification = s3.get_bucket_notification_configuration(Bucket=env.resources.images_bucket)
    (queue_configuration,) = notification["QueueConfigurations"]
    assert queue_configuration["QueueArn"] == env.resources.queue_arn
    assert sorted(queue_configuration["Events"]) == sorted(NOTIFICATION_EVENTS)
    # And the queue redrives to the DLQ after max_receive_count
    attributes = sqs.get_queue_attributes(QueueUrl=env.resources.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == env.resources.dead_letter_queue_arn
    assert int(redrive["maxReceiveCount"]) == env.config.max_receive_count
    assert attributes["VisibilityTimeout"] == str(VISIBILITY_SECONDS)
    # And the results table has its two indexes
    table = dynamodb.describe_table(TableName=env.resources.results_table)["Table"]
    indexes = {index["IndexName"] for index in table["GlobalSecondaryIndexes"]}
    assert indexes == {LABEL_INDEX, SECOND_LABEL_INDEX}
    # And the CLI learns the index's shard count from the outputs, as from a stack's
    assert env.resources.stack_outputs()[StackOutputs.INDEX_SHARDS] == str(env.config.index_shards)
    assert os.environ["INDEX_SHARDS"] == str(env.config.index_shards)
    # And the models bucket exists
    s3.head_bucket(Bucket=env.resources.models_bucket)


def test_points_the_function_at_the_environment(env: LocalEnvironment) -> None:
    assert env.resources is not None
    assert os.environ["AWS_ENDPOINT_URL"] == env.endpoint_url
    assert os.environ["RESULTS_TABLE"] == env.resources.results_table
    assert os.environ["MODEL_POINTER_PARAMETER"] == env.resources.model_pointer_parameter


def test_restores_the_process_environment_on_stop(
    handler: RecordingHandler, tmp_path: Path
) -> None:
    before = os.environ.get("AWS_ENDPOINT_URL")
    binding = HandlerBinding(handler.new_environment)
    with LocalEnvironment(handler=binding, home=tmp_path, workers=2):
        assert os.environ.get("AWS_ENDPOINT_URL") != before
    assert os.environ.get("AWS_ENDPOINT_URL") == before
    # each of the two workers made its own execution environment
    assert handler.environments == 2


def test_a_second_in_process_environment_is_refused_while_one_runs(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    # Given a running environment, when a second starts in the same process
    before = dict(os.environ)
    second = LocalEnvironment(home=tmp_path / "second", workers=1)
    # Then it is refused in one line, and the first keeps its resources and its settings
    with pytest.raises(LocalServerError, match="already runs in this process"):
        second.start()
    assert env.resources is not None
    assert env.client("sqs").get_queue_attributes(
        QueueUrl=env.resources.queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]
    assert dict(os.environ) == before


def test_the_functions_log_lines_can_go_to_a_file(tmp_path: Path) -> None:
    from classifier import handler as function

    # Given an environment whose function logs to a file
    log = tmp_path / "function.log"
    handler = function.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = handler.stream
    with LocalEnvironment(home=tmp_path, workers=1, function_log=log):
        # When the function logs a warning (as a record left for a retry does)
        function.logger.warning("record failed, left for a retry", extra={"key": "a.png"})
        # Then its logger writes to the file, not where it wrote before
        assert handler.stream is not stream
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["level"], line["key"]) for line in lines] == [("WARNING", "a.png")]
    # And after the environment stops it writes where it did before
    assert handler.stream is stream


def test_upload_reaches_the_handler_as_an_sqs_event_of_s3_records(
    env: LocalEnvironment, handler: RecordingHandler
) -> None:
    # Given an object uploaded to the images bucket
    assert env.resources is not None
    env.client("s3").put_object(Bucket=env.resources.images_bucket, Key="cats/a b.jpg", Body=b"x")
    # When the poller picks up the notification
    assert wait_for(
        lambda: any(r["eventName"].startswith("ObjectCreated") for r in s3_records(handler)), 10
    )
    # Then the handler saw Lambda's SQS record shape
    record = handler.events[-1]["Records"][-1]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == env.resources.queue_arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"messageId", "receiptHandle", "body", "md5OfBody", "awsRegion"} <= set(record)
    # And a context with the remaining time
    assert 0 < handler.contexts[-1].get_remaining_time_in_millis() <= 5000
    # And the succeeded message is deleted
    assert wait_for(lambda: queue_depth(env) == 0, 5)


def queue_depth(env: LocalEnvironment) -> int:
    assert env.resources is not None
    attributes = env.client("sqs").get_queue_attributes(
        QueueUrl=env.resources.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_failed_records_are_retried_then_moved_to_the_dlq(
    env: LocalEnvironment, handler: RecordingHandler
) -> None:
    # Given a message the handler always lists in batchItemFailures, beside a good one
    assert env.resources is not None
    sqs = env.client("sqs")
    sqs.send_message(QueueUrl=env.resources.queue_url, MessageBody="poison pill")
    sqs.send_message(QueueUrl=env.resources.queue_url, MessageBody="fine")
    # When the visibility timeout passes max_receive_count times
    assert wait_for(lambda: dlq_bodies(env) == ["poison pill"], 20)
    # Then the handler saw the poison once per receive, and the good message once
    bodies = handler.bodies()
    assert bodies.count("poison pill") == env.config.max_receive_count
    assert bodies.count("fine") == 1
    assert queue_depth(env) == 0


def test_a_handler_error_retries_the_whole_batch(
    env: LocalEnvironment, handler: RecordingHandler
) -> None:
    assert env.resources is not None
    handler.raise_next = True
    env.client("sqs").send_message(QueueUrl=env.resources.queue_url, MessageBody="once")
    assert wait_for(lambda: handler.bodies().count("once") == 2, 10)
    assert wait_for(lambda: queue_depth(env) == 0, 5)
    assert env.poller is not None and env.poller.stats.handler_errors == 1


def test_batches_are_at_most_batch_size(env: LocalEnvironment, handler: RecordingHandler) -> None:
    assert env.resources is not None
    sqs = env.client("sqs")
    for start in range(0, 30, 10):
        sqs.send_message_batch(
            QueueUrl=env.resources.queue_url,
            Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)],
        )
    assert wait_for(lambda: len({b for b in handler.bodies() if b.startswith("m")}) == 30, 15)
    assert max(len(event["Records"]) for event in handler.events) <= env.config.batch_size


def test_writes_the_state_file_while_running_and_removes_it(
    handler: RecordingHandler, tmp_path: Path
) -> None:
    binding = HandlerBinding(handler.new_environment)
    with LocalEnvironment(handler=binding, home=tmp_path, workers=2) as env:
        state = read_state(tmp_path)
        assert state is not None
        assert state["endpoint_url"] == env.endpoint_url
        assert env.resources is not None
        assert state["outputs"][StackOutputs.IMAGES_BUCKET] == env.resources.images_bucket
    assert not state_path(tmp_path).exists()


def test_config_defaults_come_from_cdk_json() -> None:
    config = load_environment("local")
    environment = LocalEnvironment(config, handler=HandlerBinding(lambda: lambda e, c: None))
    assert environment.workers == config.max_concurrency
    assert environment.visibility_timeout_seconds == config.queue_visibility_timeout_seconds


class DyingHandler(RecordingHandler):
    """Dies (an injected crash) or overruns the function timeout on a body's first delivery."""

    def __init__(self, overrun_seconds: float) -> None:
        super().__init__()
        self.overrun_seconds = overrun_seconds

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        response = super().__call__(event, context)
        bodies = self.bodies()
        for record in event["Records"]:
            if bodies.count(record["body"]) == 1:
                if record["body"] == "crash":
                    raise WorkerCrash("injected")
                if record["body"] == "slow":
                    time.sleep(self.overrun_seconds)
        return response


@pytest.fixture()
def short_env(tmp_path: Path) -> Iterator[tuple[LocalEnvironment, DyingHandler]]:
    """A 1 s function timeout; the handler crashes or overruns once per marked body."""
    handler = DyingHandler(overrun_seconds=1.3)  # past the 1 s timeout, within the visibility
    config = dataclasses.replace(load_environment("local"), function_timeout_seconds=1)
    environment = LocalEnvironment(
        config,
        workers=1,
        visibility_timeout_seconds=VISIBILITY_SECONDS,
        handler=HandlerBinding(handler.new_environment),
        home=tmp_path,
        faults=FaultPlan(delivery=DeliveryFaults(duplicate=1.0, max_delay_seconds=1)),
    )
    with environment:
        assert wait_for(lambda: any("s3:TestEvent" in body for body in handler.bodies()), 10)
        yield environment, handler


@pytest.mark.parametrize("body", ["crash", "slow"])
def test_a_crashed_or_timed_out_batch_acknowledges_nothing_and_comes_back(
    short_env: tuple[LocalEnvironment, DyingHandler], body: str
) -> None:
    # Given a batch whose worker dies, or runs past the function timeout, on first delivery
    env, handler = short_env
    assert env.resources is not None and env.poller is not None
    sqs = env.client("sqs")
    sqs.send_message(QueueUrl=env.resources.queue_url, MessageBody=body)
    # When the visibility timeout passes
    assert wait_for(lambda: handler.bodies().count(body) >= 3, 15)
    # Then the message came back (it was not deleted), and the environment was dropped
    stats = env.poller.stats.snapshot()
    assert handler.environments >= 2  # one at start, a new one per abandoned invocation
    assert len(stats["abandoned"]) >= 1
    assert (stats["crashes"] if body == "crash" else stats["over_timeout"]) >= 1
    assert wait_for(lambda: queue_depth(env) == 0, 10)


def test_delivery_faults_send_each_message_again_once(
    short_env: tuple[LocalEnvironment, DyingHandler],
) -> None:
    # Given a plan that duplicates every delivery
    env, handler = short_env
    assert env.resources is not None and env.injector is not None
    # When a message is sent
    env.client("sqs").send_message(QueueUrl=env.resources.queue_url, MessageBody="twice")
    # Then the handler sees it twice (the copy is not duplicated again), and the fault counted
    assert wait_for(lambda: handler.bodies().count("twice") == 2, 10)
    assert wait_for(lambda: queue_depth(env) == 0, 10)
    assert handler.bodies().count("twice") == 2
    assert env.injector.counts()["duplicate"] >= 1
