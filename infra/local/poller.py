"""A queue poller that behaves like Lambda's SQS event source mapping, in process.

Each worker thread receives a batch (batch size, batching window), calls the handler with
the SQS event shape Lambda uses, deletes the records that succeeded and leaves the ones in
`batchItemFailures` (or the whole batch, if the handler raised) on the queue, where they
become visible again after the visibility timeout. The queue's redrive policy moves a
message to the DLQ after maxReceiveCount receives; moto implements that, as SQS does.

Each worker is one execution environment, as Lambda gives each concurrent invocation its
own: it makes its handler with `new_environment()` when it starts. As Lambda does, an
invocation that runs past the function timeout, or whose worker dies (an injected
`WorkerCrash`), acknowledges nothing: all its records reappear after the visibility
timeout, and the worker's environment is discarded (the next invocation starts cold).
With a `FaultInjector`, each received message may also be delivered twice or late.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.local.faults import DELAY, DUPLICATE, FaultInjector, WorkerCrash

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]
MAX_MESSAGES_PER_RECEIVE = 10  # SQS's limit for one ReceiveMessage call
POLL_WAIT_SECONDS = 1  # long-poll per receive; bounds how long shutdown waits
FAULT_ATTRIBUTE = "imgclf-delivery-fault"  # marks a message the poller sent again
RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
)


@dataclass
class LambdaContext:
    """The parts of Lambda's context object a handler reads."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass
class BatchOutcome:
    """What one invocation did: which records succeeded, which will be retried."""

    size: int
    succeeded: int
    failed: int
    error: str | None
    seconds: float
    request_id: str = ""
    abandoned: bool = False  # timed out or crashed: nothing acknowledged, metrics never flushed


@dataclass
class PollerStats:
    """Counters across all workers; read with `snapshot()`."""

    invocations: int = 0
    records: int = 0
    succeeded: int = 0
    failed: int = 0
    handler_errors: int = 0
    over_timeout: int = 0
    crashes: int = 0
    handler_seconds: float = 0.0
    # Request ids of invocations whose results were thrown away (timeout, crash, error).
    abandoned: set[str] = field(default_factory=set)
    # Queue-to-done latency of each succeeded record: SentTimestamp to deletion, in ms.
    end_to_end_ms: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: BatchOutcome, latencies_ms: list[float], timeout_seconds: float) -> None:
        with self._lock:
            self.invocations += 1
            self.records += outcome.size
            self.succeeded += outcome.succeeded
            self.failed += outcome.failed
            self.handler_errors += outcome.error is not None
            self.over_timeout += outcome.seconds > timeout_seconds
            self.crashes += outcome.error is not None and outcome.error.startswith("WorkerCrash")
            self.handler_seconds += outcome.seconds
            if outcome.abandoned or outcome.error is not None:
                self.abandoned.add(outcome.request_id)
            self.end_to_end_ms.extend(latencies_ms)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "invocations": self.invocations,
                "records": self.records,
                "succeeded": self.succeeded,
                "failed": self.failed,
                "handler_errors": self.handler_errors,
                "over_timeout": self.over_timeout,
                "crashes": self.crashes,
                "handler_seconds": self.handler_seconds,
                "abandoned": set(self.abandoned),
                "end_to_end_ms": list(self.end_to_end_ms),
            }


def sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of a Lambda SQS event, from a ReceiveMessage message."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: attributes[name] for name in RECORD_ATTRIBUTES if name in attributes},
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value.get("DataType"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_message_ids(response: Any, batch_ids: list[str]) -> set[str]:
    """The records to retry, read as Lambda reads a partial batch response.

    No response or an empty list means every record succeeded; a malformed response, or
    an identifier that is not in the batch, fails the whole batch.
    """
    if response is None:
        return set()
    if not isinstance(response, dict):
        return set(batch_ids)
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(batch_ids)
    ids: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in batch_ids:
            return set(batch_ids)
        ids.add(identifier)
    return ids


class EventSourcePoller:
    """N worker threads polling one queue and invoking one handler, like an event source mapping."""

    def __init__(
        self,
        *,
        sqs_factory: Callable[[], Any],
        queue_url: str,
        queue_arn: str,
        new_environment: Callable[[], Handler],
        workers: int,
        batch_size: int,
        batch_window_seconds: float,
        function_name: str,
        function_timeout_seconds: float,
        memory_mb: int = 1024,
        region: str = "us-east-1",
        on_batch: Callable[[BatchOutcome], None] | None = None,
        faults: FaultInjector | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("the poller needs at least one worker")
        self._sqs_factory = sqs_factory
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.new_environment = new_environment
        self.workers = workers
        self.batch_size = batch_size
        self.batch_window_seconds = batch_window_seconds
        self.function_name = function_name
        self.function_timeout_seconds = function_timeout_seconds
        self.memory_mb = memory_mb
        self.region = region
        self.on_batch = on_batch
        self.faults = faults
        self.stats = PollerStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"

    def start(self) -> EventSourcePoller:
        self._stop.clear()
        for index in range(self.workers):
            thread = threading.Thread(target=self._run, name=f"imgclf-poller-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout_seconds: float = 30.0) -> None:
        """Stop polling; each worker finishes the batch it is invoking, then exits."""
        self._stop.set()
        deadline = time.monotonic() + timeout_seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [thread for thread in self._threads if thread.is_alive()]

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def _run(self) -> None:
        sqs = self._sqs_factory()
        handler = self.new_environment()  # this worker's execution environment, cold
        while not self._stop.is_set():
            try:
                batch = self._receive_batch(sqs)
                if batch and self.faults is not None and self.faults.delivers_faults:
                    batch = self._deliver(sqs, batch, self.faults)
                if batch and self._invoke(sqs, batch, handler):
                    handler = self.new_environment()  # Lambda dropped the old one
            except Exception as error:  # keep polling, as the service would
                logger.warning("poller: %s: %s", type(error).__name__, error)
                self._stop.wait(1.0)

    def _receive_batch(self, sqs: Any) -> list[dict[str, Any]]:
        """Up to batch_size messages, gathering for at most the batching window."""
        batch: list[dict[str, Any]] = []
        seen: set[str] = set()
        window_ends: float | None = None
        while len(batch) < self.batch_size and not self._stop.is_set():
            if window_ends is None:
                wait = POLL_WAIT_SECONDS
            else:
                remaining = window_ends - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(POLL_WAIT_SECONDS, max(0, int(remaining)))
            response = sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(MAX_MESSAGES_PER_RECEIVE, self.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            for message in response.get("Messages", []):
                if message["MessageId"] not in seen:
                    seen.add(message["MessageId"])
                    batch.append(message)
            if not batch:
                if window_ends is None:
                    return batch  # nothing to do; poll again
                continue
            if window_ends is None:
                window_ends = time.monotonic() + self.batch_window_seconds
            if self.batch_window_seconds <= 0:
                break
        return batch

    def _deliver(
        self, sqs: Any, batch: list[dict[str, Any]], faults: FaultInjector
    ) -> list[dict[str, Any]]:
        """Delivery faults: a copy sent again (a duplicate), or the message held back (late).

        Copies carry the FAULT_ATTRIBUTE message attribute and are not faulted again.
        """
        kept = []
        late = []
        for message in batch:
            if FAULT_ATTRIBUTE in message.get("MessageAttributes", {}):
                kept.append(message)
                continue
            duplicate_delay, delay = faults.delivery_delays(message["MessageId"])
            if duplicate_delay is not None:
                self._resend(sqs, message, duplicate_delay, DUPLICATE)
            if delay is not None:
                self._resend(sqs, message, delay, DELAY)
                late.append(message)
            else:
                kept.append(message)
        self._delete(sqs, [{"receiptHandle": message["ReceiptHandle"]} for message in late])
        return kept

    def _resend(self, sqs: Any, message: dict[str, Any], delay_seconds: int, kind: str) -> None:
        attributes = {
            **message.get("MessageAttributes", {}),
            FAULT_ATTRIBUTE: {"DataType": "String", "StringValue": kind},
        }
        sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message["Body"],
            DelaySeconds=delay_seconds,
            MessageAttributes=attributes,
        )

    def _invoke(self, sqs: Any, batch: list[dict[str, Any]], handler: Handler) -> bool:
        """One invocation; True if it was abandoned (crashed or timed out)."""
        records = [sqs_record(m, queue_arn=self.queue_arn, region=self.region) for m in batch]
        ids = [record["messageId"] for record in records]
        context = LambdaContext(
            function_name=self.function_name,
            memory_limit_in_mb=self.memory_mb,
            invoked_function_arn=self._function_arn,
            timeout_seconds=self.function_timeout_seconds,
        )
        started = time.monotonic()
        error: str | None = None
        try:
            response = self._call_handler(handler, records, context)
            failed = failed_message_ids(response, ids)
        except WorkerCrash as crash:  # the process died: nothing is acknowledged
            error = f"WorkerCrash: {crash}"
            failed = set(ids)
        except Exception as exc:  # a function error fails the whole batch, as in Lambda
            error = f"{type(exc).__name__}: {exc}"
            logger.warning("handler raised, the batch of %d will be retried: %s", len(ids), error)
            failed = set(ids)
        seconds = time.monotonic() - started
        abandoned = error is not None and error.startswith("WorkerCrash")
        if seconds > self.function_timeout_seconds:
            # Lambda stops the function at its timeout: whatever it did, no record is deleted.
            abandoned = True
            failed = set(ids)
        done = [record for record in records if record["messageId"] not in failed]
        self._delete(sqs, done)
        now_ms = time.time() * 1000
        latencies = [
            now_ms - float(record["attributes"].get("SentTimestamp", now_ms)) for record in done
        ]
        outcome = BatchOutcome(
            size=len(records),
            succeeded=len(done),
            failed=len(failed),
            error=error,
            seconds=seconds,
            request_id=context.aws_request_id,
            abandoned=abandoned,
        )
        self.stats.add(outcome, latencies, self.function_timeout_seconds)
        if self.on_batch is not None:
            self.on_batch(outcome)
        return abandoned

    def _call_handler(
        self, handler: Handler, records: list[dict[str, Any]], context: LambdaContext
    ) -> Any:
        if self.faults is None:
            return handler({"Records": records}, context)
        with self.faults.invocation(context.aws_request_id):
            return handler({"Records": records}, context)

    def _delete(self, sqs: Any, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), MAX_MESSAGES_PER_RECEIVE):
            chunk = records[start : start + MAX_MESSAGES_PER_RECEIVE]
            response = sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                    for index, record in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed", []):
                logger.warning("could not delete a message: %s", failure.get("Message"))
