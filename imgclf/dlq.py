"""The dead-letter queue: list what is in it, and move it back to the queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from classifier.events import objects_in

from .deployment import Deployment

BATCH = 10
PEEK_VISIBILITY_SECONDS = 60


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
    for start in range(0, len(letters), BATCH):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": 0}
                for i, letter in enumerate(letters[start : start + BATCH])
            ],
        )
    return sorted(letters, key=lambda letter: letter.sent_timestamp_ms)


def redrive(deployment: Deployment, *, on_moved: Callable[[int, int], None] | None = None) -> int:
    """Move every DLQ message back to the queue (body and attributes kept); returns the count."""
    sqs = deployment.client("sqs")
    letters = [_dead_letter(m) for m in _receive_all(sqs, deployment.dead_letter_queue_url)]
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
            on_moved(moved, len(letters))
    return moved
