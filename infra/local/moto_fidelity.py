"""Where the in-process moto server is made to behave as AWS does (SSE-C: s3_encryption.py).

S3 event notifications. moto 5.2 differs from S3 in three ways that matter to the function's
ordering:

- its records carry no `sequencer`, S3's per-key ordering of events. eventTime alone has
  millisecond resolution, so a burst of overwrites of one key can tie;
- they carry no `versionId` in a versioned bucket;
- in a versioned bucket, a delete that creates a delete marker sends no event at all
  (S3 sends `ObjectRemoved:DeleteMarkerCreated`), and deleting one version sends
  `ObjectRemoved:Delete` only when it was the last one.

Archived objects. moto answers GetObjectTagging on a GLACIER or DEEP_ARCHIVE object with
InvalidObjectState; S3 reads and writes the tags of an object in any storage class.

Empty tag sets. PutObjectTagging with an empty TagSet removes every tag on S3; moto fails with
a TypeError (a 500), which the function would retry into the DLQ. It sends one when a rejection
removes the imgclf tags of an object that has no user tags.

SQS receives. moto's ReceiveMessage is not thread-safe: a receive that moves a message past
maxReceiveCount to the DLQ while another receive does the same, or while a delete removes it,
puts it in the DLQ and answers 500 (`list.remove(x): x not in list`). Receives, deletes and
visibility changes of one process's queues are serialized here.

And for every message it returns, moto computes all the queue's attributes (each a pass over
every message) to read the retention period, and SendMessage does the same to read one flag:
a receive costs O(backlog²), which a 10,000-image backlog turns into minutes. The approximate
counts (approximate on SQS too) are computed at most every 0.1 s per queue for those internal
reads, and the retention period is read directly. A GetQueueAttributes call always computes
them afresh: a caller who asks reads the queue as it is, whatever ran before in the process.

`install(patches)` patches moto while the in-process server runs (MotoServer starts it and
undoes it when it stops, so nothing outlives the server: moto's `mock_aws` later in the same
process is moto as shipped): events carry an increasing sequencer and the version, deletes in
versioned buckets are notified, archived objects' tags can be read, and receives are
serialized (each long poll waits outside the lock). A separate moto process
(`MotoServer(separate_process=True)`) is not patched.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any

from infra.local.patches import Patches

_lock = threading.Lock()
_installed = False  # by a Patches not yet undone
_sequence = itertools.count(1)
_receive_lock = threading.Lock()
_RECEIVE_POLL_SECONDS = 0.05
_COUNTS_FRESH_SECONDS = 0.1
_COUNTS_CACHE = "_imgclf_counts"  # on each moto Queue: attribute name -> (when, count)
_APPROXIMATE_COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_not_visible",
    "approximate_number_of_messages_delayed",
)


@dataclass(frozen=True)
class _DeleteMarker:
    """What moto's event builder reads from a key, for a delete marker."""

    name: str
    version_id: str
    etag: str = ""
    size: int = 0


def next_sequencer() -> str:
    """An increasing hexadecimal sequencer, like S3's (compared after left-padding)."""
    with _lock:
        return f"{next(_sequence):016X}"


def install(patches: Patches) -> None:
    """Patch moto in this process until `patches` is undone; one install at a time."""
    global _installed
    with _lock:
        if _installed:
            raise RuntimeError("moto is already patched in this process")
        _installed = True
    patches.on_undo(_uninstalled)
    _patch_sqs(patches)
    _patch_s3_events(patches)
    _patch_archive_tagging(patches)
    _patch_empty_tag_set(patches)


def _uninstalled() -> None:
    global _installed
    with _lock:
        _installed = False


def _patch_sqs(patches: Patches) -> None:
    from moto.sqs import models

    receive_message = models.SQSBackend.receive_message

    def serialized_receive(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            with _receive_lock:
                received = receive_message(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
            if received or time.monotonic() >= deadline:
                return received
            time.sleep(_RECEIVE_POLL_SECONDS)

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        period = int(self.get_queue(queue_name).message_retention_period)
        return bool(period + message.sent_timestamp / 1000 > time.time())

    patches.replace(models.SQSBackend, "receive_message", serialized_receive)
    for name in ("delete_message", "change_message_visibility"):
        patches.replace(models.SQSBackend, name, _serialized(getattr(models.SQSBackend, name)))
    patches.replace(models.SQSBackend, "is_message_valid_based_on_retention_period", retained)
    for name in _APPROXIMATE_COUNTS:
        patches.replace(models.Queue, name, _recent(name, getattr(models.Queue, name)))
    get_queue_attributes = models.SQSBackend.get_queue_attributes

    def fresh_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> Any:
        self.get_queue(queue_name).__dict__.pop(_COUNTS_CACHE, None)
        return get_queue_attributes(self, queue_name, attribute_names)

    patches.replace(models.SQSBackend, "get_queue_attributes", fresh_attributes)


def _serialized(method: Any) -> Any:
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _receive_lock:
            return method(*args, **kwargs)

    return locked


def _recent(name: str, count: property) -> property:
    """A queue's approximate count, recomputed at most every _COUNTS_FRESH_SECONDS."""

    def fresh(queue: Any) -> int:
        cache = queue.__dict__.setdefault(_COUNTS_CACHE, {})
        now = time.monotonic()
        hit = cache.get(name)
        if hit is not None and now - hit[0] < _COUNTS_FRESH_SECONDS:
            return int(hit[1])
        value = int(count.fget(queue))  # type: ignore[misc]
        cache[name] = (now, value)
        return value

    return property(fresh)


def _patch_archive_tagging(patches: Patches) -> None:
    from moto.s3 import responses

    get_object_tagging = responses.S3Response.get_object_tagging

    def tagging_in_any_storage_class(self: Any) -> Any:
        get_key = self._get_key
        self._get_key = lambda validate_storage_class=True: get_key(validate_storage_class=False)
        try:
            return get_object_tagging(self)
        finally:
            del self._get_key

    patches.replace(responses.S3Response, "get_object_tagging", tagging_in_any_storage_class)


def _patch_empty_tag_set(patches: Patches) -> None:
    import xmltodict  # moto's own XML parser
    from moto.s3 import responses

    tagging_from_xml = responses.S3Response._tagging_from_xml

    def tags_or_none(self: Any) -> dict[str, str]:
        parsed = xmltodict.parse(self.body or b"<Tagging/>")
        if not (parsed.get("Tagging") or {}).get("TagSet"):
            return {}
        return dict(tagging_from_xml(self))

    patches.replace(responses.S3Response, "_tagging_from_xml", tags_or_none)


def _patch_s3_events(patches: Patches) -> None:
    from moto.s3 import models, notifications

    build_event = notifications._get_s3_event

    def get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> Any:
        event = build_event(event_name, bucket, key, notification_id)
        obj = event["Records"][0]["s3"]["object"]
        obj["sequencer"] = next_sequencer()
        version = getattr(key, "version_id", None)
        if getattr(bucket, "is_versioned", False) and version and version != "null":
            obj["versionId"] = str(version)
        if not obj.get("eTag"):
            obj.pop("eTag", None)
            obj.pop("size", None)
        return event

    patches.replace(notifications, "_get_s3_event", get_s3_event)

    delete_object = models.S3Backend.delete_object
    events = notifications.S3NotificationEvent

    def notified_delete_object(
        self: Any,
        bucket_name: str,
        key_name: str,
        version_id: str | None = None,
        bypass: bool = False,
    ) -> Any:
        bucket = self.get_bucket(bucket_name)
        versioned = bool(getattr(bucket, "is_versioned", False))
        existed = key_name in getattr(bucket, "keys", {})
        deleted, meta = delete_object(self, bucket_name, key_name, version_id, bypass)
        if not (versioned and existed and deleted):
            return deleted, meta
        if version_id is None and meta.get("version-id"):
            marker = _DeleteMarker(key_name, str(meta["version-id"]))
            notifications.send_event(
                self.account_id, events.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT, bucket, marker
            )
        elif version_id is not None and key_name in bucket.keys:
            # moto notifies only when the last version goes; S3 notifies every version.
            notifications.send_event(
                self.account_id,
                events.OBJECT_REMOVED_DELETE_EVENT,
                bucket,
                _DeleteMarker(key_name, str(version_id)),
            )
        return deleted, meta

    patches.replace(models.S3Backend, "delete_object", notified_delete_object)
