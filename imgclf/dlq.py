"""The dead-letter queue: list what is in it, and move it back to the queue."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from classifier.events import objects_in

from .deployment import Deployment

BATCH = 10
PEEK_VISIBILITY_SECONDS = 60
SETTLE_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class DeadLetter:
    """One message in the DLQ and the objects it is about."""

    message_id: str
    receive_count: int
    sent_timestamp_ms: int
    body: str
    objects: tuple[tuple[str, str], ...]  # (bucket, key)
    receipt_handle: str
    attributes: dict[str, Any]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for _, key in self.objects)


def _receive_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every visible message, hidden for a while (long enough to list or move them)."""
    messages: dict[str, dict[str, Any]] = {}
    while True:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=BATCH,
            VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        batch = response.get("Messages", [])
        if not batch:
            return list(messages.values())
        for message in batch:
            messages.setdefault(message["MessageId"], message)


def _dead_letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    return DeadLetter(
        message_id=message["MessageId"],
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        sent_timestamp_ms=int(attributes.get("SentTimestamp", 0)),
        body=message["Body"],
        objects=objects_in(message["Body"]),
        receipt_handle=message["ReceiptHandle"],
        attributes=message.get("MessageAttributes", {}),
    )


def list_dead_letters(deployment: Deployment) -> list[DeadLetter]:
    """Peek at the DLQ: receive everything, then make it visible again at once."""
    sqs = deployment.client("sqs")
    queue_url = deployment.dead_letter_queue_url
    letters = [_dead_letter(message) for message in _receive_all(sqs, queue_url)]
    _release(sqs, queue_url, letters)
    return sorted(letters, key=lambda letter: letter.sent_timestamp_ms)


def _release(sqs: Any, queue_url: str, letters: list[DeadLetter]) -> None:
    """Make received messages visible again at once."""
    for start in range(0, len(letters), BATCH):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": 0}
                for i, letter in enumerate(letters[start : start + BATCH])
            ],
        )


@dataclass(frozen=True)
class Redriven:
    """What `redrive` did: messages moved, and messages still in the DLQ when it stopped."""

    moved: int
    left: int


def redrive(
    deployment: Deployment,
    *,
    on_moved: Callable[[int, int], None] | None = None,
    settle_seconds: float = PEEK_VISIBILITY_SECONDS + 5,
) -> Redriven:
    """Move every DLQ message back to the queue (body and attributes kept). A message another
    reader holds hidden (a `dlq list`, an `upload --wait` looking in) is not visible; until
    as many as the DLQ held at the start are moved, or `settle_seconds` pass, redrive waits
    for such messages and moves them too, and it says how many were left."""
    sqs = deployment.client("sqs")
    deadline = time.monotonic() + settle_seconds
    # A message redriven now that fails again comes back with a newer SentTimestamp (the
    # one of this send): it is not moved twice. A dead-lettered one keeps its first send's.
    started_ms = int(time.time() * 1000)
    there = _depth(sqs, deployment.dead_letter_queue_url)

    def report(done: int, seen: int) -> None:  # the total known from the start, not "0/?"
        if on_moved is not None:
            on_moved(done, max(there, seen))

    report(0, there)
    moved = 0
    while True:
        moved += _move_visible(sqs, deployment, moved, report, sent_before_ms=started_ms)
        if moved >= there or time.monotonic() >= deadline:
            return Redriven(moved, max(there - moved, 0))
        time.sleep(SETTLE_POLL_SECONDS)


def _move_visible(
    sqs: Any,
    deployment: Deployment,
    before: int,
    on_moved: Callable[[int, int], None] | None,
    *,
    sent_before_ms: int,
) -> int:
    received = [_dead_letter(m) for m in _receive_all(sqs, deployment.dead_letter_queue_url)]
    letters = [letter for letter in received if letter.sent_timestamp_ms < sent_before_ms]
    _release(sqs, deployment.dead_letter_queue_url, [r for r in received if r not in letters])
    moved = 0
    for start in range(0, len(letters), BATCH):
        chunk = letters[start : start + BATCH]
        entries = []
        for index, letter in enumerate(chunk):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": letter.body}
            if letter.attributes:
                entry["MessageAttributes"] = letter.attributes
            entries.append(entry)
        response = sqs.send_message_batch(QueueUrl=deployment.queue_url, Entries=entries)
        sent = {entry["Id"] for entry in response.get("Successful", [])}
        done = [letter for i, letter in enumerate(chunk) if str(i) in sent]
        if done:
            sqs.delete_message_batch(
                QueueUrl=deployment.dead_letter_queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": letter.receipt_handle}
                    for i, letter in enumerate(done)
                ],
            )
        moved += len(done)
        if on_moved is not None:
            on_moved(before + moved, before + len(letters))
    return moved


def _depth(sqs: Any, queue_url: str) -> int:
    """Messages in a queue, visible or held by a reader (SQS's approximate counts)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
