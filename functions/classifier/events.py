"""Pure parsing of queue message bodies into object events.

A body is an S3 event notification (AWS- or moto-shaped), an `s3:TestEvent`, or a
reclassify message. Keys arrive URL-encoded with `+` for spaces and are decoded here, once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import unquote_plus

from .contracts import RECLASSIFY_MESSAGE_TYPE

_SEQUENCER_WIDTH = 32


class MalformedMessageError(ValueError):
    """A message that is neither an S3 notification nor one of ours: it goes to the DLQ."""


# Removals: a user's delete, and a lifecycle rule's expiry (which S3 announces as
# LifecycleExpiration:*, never as ObjectRemoved:*).
REMOVAL_PREFIXES = ("ObjectRemoved:", "LifecycleExpiration:")
# One version deleted for good (not a delete marker): in a versioned bucket the key may live on.
VERSION_DELETES = ("ObjectRemoved:Delete", "LifecycleExpiration:Delete")


class EventKind(StrEnum):
    """What an event asks the function to do."""

    CREATED = "created"
    REMOVED = "removed"
    RECLASSIFY = "reclassify"


@dataclass(frozen=True)
class ObjectEvent:
    """One object event, decoded; `order` sorts events of one key oldest first."""

    kind: EventKind
    bucket: str
    key: str
    event_name: str = ""
    event_time: str = ""
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    sequencer: str | None = None
    model_version: str | None = None  # a reclassify's: the version it was sent for

    @property
    def removes_version(self) -> bool:
        """A versioned bucket lost one version (not a delete marker): the key may live on."""
        return (
            self.kind is EventKind.REMOVED
            and self.version_id is not None
            and self.event_name in VERSION_DELETES
        )

    @property
    def order(self) -> str:
        """`<eventTime>#<sequencer left-padded>`: S3's sequencer orders events of one key
        (compared as hex numbers, hence the padding); moto sends none, so time comes first."""
        sequencer = (self.sequencer or "").upper().rjust(_SEQUENCER_WIDTH, "0")
        return f"{self.event_time}#{sequencer}"


def parse_body(body: str) -> list[ObjectEvent]:
    """The object events in one message body; an empty list means noise to acknowledge."""
    try:
        message = json.loads(body)
    except (json.JSONDecodeError, TypeError):
        raise MalformedMessageError(f"message body is not JSON: {str(body)[:120]!r}") from None
    if not isinstance(message, dict):
        raise MalformedMessageError("message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    if message.get("type") == RECLASSIFY_MESSAGE_TYPE:
        return [_reclassify_event(message)]
    records = message.get("Records")
    if not isinstance(records, list):
        raise MalformedMessageError("message is not an S3 event notification (no Records)")
    events = [_record_event(record) for record in records]
    return [event for event in events if event is not None]


def _reclassify_event(message: dict[str, Any]) -> ObjectEvent:
    bucket, key = message.get("bucket"), message.get("key")
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise MalformedMessageError("reclassify message needs a bucket and a key")
    version = message.get("model_version")
    if version is not None and not isinstance(version, str):
        raise MalformedMessageError("reclassify message's model_version is not a string")
    return ObjectEvent(kind=EventKind.RECLASSIFY, bucket=bucket, key=key, model_version=version)


def objects_in(body: str) -> tuple[tuple[str, str], ...]:
    """The (bucket, key) pairs a message is about, as far as it can be read: never raises
    (a dead letter may be malformed; the DLQ listing still names what it can)."""
    try:
        message = json.loads(body)
    except (json.JSONDecodeError, TypeError):
        return ()
    if not isinstance(message, dict):
        return ()
    if message.get("type") == RECLASSIFY_MESSAGE_TYPE:
        return ((str(message.get("bucket")), str(message.get("key"))),)
    records = message.get("Records")
    objects = []
    for record in records if isinstance(records, list) else []:
        try:
            objects.append(_bucket_and_key(record))
        except (KeyError, TypeError):
            continue
    return tuple(objects)


def _bucket_and_key(record: Any) -> tuple[str, str]:
    """An S3 record's bucket and URL-decoded key (KeyError/TypeError when it has none)."""
    s3 = record["s3"]
    return str(s3["bucket"]["name"]), unquote_plus(str(s3["object"]["key"]))


def _record_event(record: Any) -> ObjectEvent | None:
    try:
        event_name = str(record["eventName"])
        bucket, key = _bucket_and_key(record)
        obj = record["s3"]["object"]
    except (KeyError, TypeError) as error:
        raise MalformedMessageError(f"S3 record lacks {error}") from None
    if event_name.startswith("ObjectCreated:") or event_name == "ObjectRestore:Completed":
        kind = EventKind.CREATED  # a restored archive can be read now: classify it
    elif event_name.startswith(REMOVAL_PREFIXES):
        kind = EventKind.REMOVED
    else:
        return None  # ObjectTagging:*, ObjectAcl:*, ObjectRestore:Post...: nothing for us to do
    raw_size = obj.get("size")
    size = int(raw_size) if isinstance(raw_size, int | str) and str(raw_size).isdigit() else None
    if kind is EventKind.CREATED and key.endswith("/") and size == 0:
        return None  # a folder marker (the S3 console's "Create folder"): no image to record
    etag = obj.get("eTag") or obj.get("etag")
    return ObjectEvent(
        kind=kind,
        bucket=bucket,
        key=key,
        event_name=event_name,
        event_time=str(record.get("eventTime", "")),
        size=size,
        etag=str(etag).strip('"') if etag else None,
        version_id=obj.get("versionId") or None,
        sequencer=obj.get("sequencer") or None,
    )
