"""sqs_batch.handle_batch: one key's records in batch order, failures alone, Lambda's response."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSEvent, SQSRecord

from classifier.classify import Outcome, Result
from classifier.sqs_batch import handle_batch
from tests.fixtures.events import s3_body, s3_record, sqs_event


class WorkerCrashError(BaseException):
    """A crash, as a killed worker raises it: nothing may be acknowledged."""


def records(*keys: str) -> list[SQSRecord]:
    """One record per key (an S3 notification for images/<key>); '' is a malformed body."""
    bodies = [s3_body(s3_record("images", key)) if key else "garbage" for key in keys]
    return list(SQSEvent(sqs_event(*bodies)).records)


def key_of(record: SQSRecord) -> str:
    return str(record.json_body["Records"][0]["s3"]["object"]["key"])


def classified(record: SQSRecord) -> list[Result]:
    return [Result(Outcome.CLASSIFIED, "images", key_of(record))]


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=10) as executor:
        yield executor


def test_a_key_runs_in_batch_order_while_other_keys_run_alongside(
    pool: ThreadPoolExecutor,
) -> None:
    # Given ten records, three of them for one object
    batch = records("a", "b", "a", "c", "d", "a", "e", "f", "g", "h")
    lock, running, order, most = threading.Lock(), set[str](), list[str](), [0]

    def handle(record: SQSRecord) -> list[Result]:
        key = key_of(record)
        with lock:
            assert key not in running  # one object's records never overlap
            running.add(key)
            order.append(record.message_id)
            most[0] = max(most[0], len(running))
        time.sleep(0.02)
        with lock:
            running.discard(key)
        return classified(record)

    # When they run ten at once
    handled = handle_batch(
        batch, handle=handle, concurrency=10, executor=pool, before_start=lambda: None
    )
    # Then every record succeeded, the object's three in batch order, and others in parallel
    assert handled.failures == [] and handled.response() == {"batchItemFailures": []}
    assert len(handled.results) == 10
    ids_of_a = [batch[i].message_id for i in (0, 2, 5)]
    assert [m for m in order if m in ids_of_a] == ids_of_a
    assert most[0] > 1


@pytest.mark.parametrize("concurrency", [1, 4])
def test_failed_and_refused_records_are_listed_alone_in_batch_order(
    concurrency: int, pool: ThreadPoolExecutor
) -> None:
    # Given a batch with a malformed record, one whose handling raises, and a time check
    # that refuses the last record
    batch = records("ok1", "", "boom", "ok2", "late")
    started: list[str] = []

    def handle(record: SQSRecord) -> list[Result]:
        if key_of(record) == "boom":
            raise ConnectionError("S3 said 500")
        return classified(record)

    def before_start() -> None:
        started.append("x")
        if len(started) == len(batch):
            raise TimeoutError("too little time")

    # When the batch is handled
    handled = handle_batch(
        batch, handle=handle, concurrency=concurrency, executor=pool, before_start=before_start
    )
    # Then the three failures come back for a retry, in batch order; the rest are acknowledged
    failed_ids = [batch[i].message_id for i in (1, 2, 4)]
    assert [id_ for id_, _ in handled.failures] == failed_ids
    assert handled.response() == {"batchItemFailures": [{"itemIdentifier": i} for i in failed_ids]}
    assert sorted(result.key for result in handled.results) == ["ok1", "ok2"]


def test_every_record_failing_is_still_a_partial_response() -> None:
    batch = records("", "")
    handled = handle_batch(
        batch, handle=classified, concurrency=1, executor=None, before_start=lambda: None
    )
    assert handled.response() == {
        "batchItemFailures": [{"itemIdentifier": record.message_id} for record in batch]
    }


def test_a_crash_leaves_the_handler_so_nothing_is_acknowledged(pool: ThreadPoolExecutor) -> None:
    def handle(record: SQSRecord) -> list[Result]:
        if key_of(record) == "dies":
            raise WorkerCrashError
        return classified(record)

    with pytest.raises(WorkerCrashError):
        handle_batch(
            records("a", "dies", "b"),
            handle=handle,
            concurrency=4,
            executor=pool,
            before_start=lambda: None,
        )
