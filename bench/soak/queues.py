"""The queue as the harness sees it: its counts, waiting for it to drain, and holding the
uploads back while its backlog is deep."""

from __future__ import annotations

import threading
import time
from typing import Any

QUEUE_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def queue_counts(sqs: Any, queue_url: str) -> dict[str, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=list(QUEUE_ATTRIBUTES)
    )["Attributes"]
    return {name: int(attributes.get(name, 0)) for name in QUEUE_ATTRIBUTES}


def drain(
    sqs: Any,
    queue_url: str,
    *,
    timeout_seconds: float,
    stable_seconds: float = 3.0,
    interval: float = 0.5,
) -> tuple[bool, dict[str, int]]:
    """Wait until the queue holds nothing (visible, in flight, delayed) for `stable_seconds`.

    Delivery faults resend with DelaySeconds, so a late message counts as delayed.
    """
    deadline = time.monotonic() + timeout_seconds
    empty_since: float | None = None
    while True:
        counts = queue_counts(sqs, queue_url)
        now = time.monotonic()
        if any(counts.values()):
            empty_since = None
        elif empty_since is None:
            empty_since = now
        elif now - empty_since >= stable_seconds:
            return True, counts
        if now >= deadline:
            return False, counts
        time.sleep(interval)


class Backlog:
    """Holds the upload threads back while the queue's visible backlog exceeds `limit`.

    One count is shared by all threads and refreshed at most every `interval` seconds."""

    def __init__(self, sqs: Any, queue_url: str, limit: int, interval: float = 0.25) -> None:
        self._sqs, self._queue_url, self.limit, self._interval = sqs, queue_url, limit, interval
        self._lock = threading.Lock()
        self._visible = 0
        self._read_at = float("-inf")
        self.waited_seconds = 0.0

    def _current(self) -> int:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= self._interval:
                self._visible = queue_counts(self._sqs, self._queue_url)[QUEUE_ATTRIBUTES[0]]
                self._read_at = now
            return self._visible

    def wait(self) -> None:
        if self.limit <= 0:
            return
        started = time.monotonic()
        while self._current() > self.limit:
            time.sleep(self._interval)
        waited = time.monotonic() - started
        if waited:
            with self._lock:
                self.waited_seconds += waited
